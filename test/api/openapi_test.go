package api

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

func TestOpenAPIDocument(t *testing.T) {
	ts := newTestServer(t)
	r := ts.do(t, "GET", "/openapi.json", nil).want(t, http.StatusOK)
	var doc struct {
		OpenAPI string `json:"openapi"`
		Info    struct {
			Version string `json:"version"`
		} `json:"info"`
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	r.decode(t, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") || doc.Info.Version != "test" {
		t.Errorf("openapi %q, info.version %q", doc.OpenAPI, doc.Info.Version)
	}
	// Every route of API.md, with its methods.
	want := map[string][]string{
		"/auth/register": {"post"}, "/auth/login": {"post"}, "/auth/refresh": {"post"},
		"/auth/logout": {"post"}, "/auth/me": {"get"},
		"/users/me": {"get", "patch"}, "/users/me/password": {"put"},
		"/users/me/sessions": {"get"}, "/users/me/sessions/{id}": {"delete"},
		"/admin/users": {"get"}, "/admin/users/{id}": {"get", "patch", "delete"},
		"/healthz": {"get"}, "/readyz": {"get"}, "/metrics": {"get"},
		"/openapi.json": {"get"}, "/docs": {"get"}, "/docs/assets/{file}": {"get"},
	}
	for path, methods := range want {
		for _, m := range methods {
			if _, ok := doc.Paths[path][m]; !ok {
				t.Errorf("%s %s is not in the document", strings.ToUpper(m), path)
			}
		}
	}
	if len(doc.Paths) != len(want) {
		t.Errorf("the document has %d paths, want %d", len(doc.Paths), len(want))
	}
	// The byte order of the YAML is kept: paths come in the order written.
	if i, j := strings.Index(string(r.Body), `"/auth/register"`), strings.Index(string(r.Body), `"/healthz"`); i < 0 || j < i {
		t.Error("paths are not in the order of the source document")
	}
}

var externalRef = regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+`)

// GET /docs renders the document from assets in the binary: the page and
// its own script name no other host, the policy forbids loading from one,
// and every asset it references is served.
func TestDocs(t *testing.T) {
	ts := newTestServer(t)
	r := ts.do(t, "GET", "/docs", nil).want(t, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q", ct)
	}
	page := string(r.Body)
	if m := externalRef.FindAllString(page, -1); len(m) > 0 {
		t.Errorf("the page references other hosts: %q", m)
	}
	csp := r.Header.Get("Content-Security-Policy")
	for _, directive := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, directive) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, directive)
		}
	}
	for directive := range strings.SplitSeq(csp, ";") {
		if d := strings.TrimSpace(directive); strings.HasPrefix(d, "script-src") && d != "script-src 'self'" {
			t.Errorf("Content-Security-Policy lets scripts come from more than this server: %q", d)
		}
	}
	if strings.Contains(page, "<script>") || strings.Contains(page, "<style") {
		t.Error("inline script or style, which the policy forbids")
	}

	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 3 {
		t.Fatalf("the page references %d files: %s", len(refs), page)
	}
	wantType := map[string]string{".js": "text/javascript", ".css": "text/css"}
	for _, ref := range refs {
		path := "/" + ref[1] // relative to /docs, whose directory is /
		a := ts.do(t, "GET", path, nil).want(t, http.StatusOK)
		ext := path[strings.LastIndex(path, "."):]
		if ct := a.Header.Get("Content-Type"); !strings.HasPrefix(ct, wantType[ext]) {
			t.Errorf("%s: Content-Type %q", path, ct)
		}
		if len(a.Body) < 100 {
			t.Errorf("%s: %d bytes", path, len(a.Body))
		}
		if cc := a.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age") {
			t.Errorf("%s: Cache-Control %q", path, cc)
		}
	}
	// Our own script asks for the document next to the page and turns off
	// Swagger UI's online validator.
	init := string(ts.do(t, "GET", "/docs/assets/init.js", nil).want(t, http.StatusOK).Body)
	if m := externalRef.FindAllString(init, -1); len(m) > 0 {
		t.Errorf("init.js references other hosts: %q", m)
	}
	if !strings.Contains(init, `"openapi.json"`) || !strings.Contains(init, "validatorUrl: null") {
		t.Errorf("init.js:\n%s", init)
	}
	ts.do(t, "GET", "/docs/assets/LICENSE", nil).want(t, http.StatusOK)
	for _, missing := range []string{"/docs/assets/index.html", "/docs/assets/README.md", "/docs/assets/..%2fopenapi.yaml", "/docs/assets/nope.js"} {
		ts.do(t, "GET", missing, nil).want(t, http.StatusNotFound)
	}
}
