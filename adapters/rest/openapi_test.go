package rest

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

func TestYAMLToJSON(t *testing.T) {
	src := "b: 1\na:\n  z: [true, null, 1.5, '2']\n  y: \"x\"\ninfo: {version: dev, title: t}\n'200': {k: ~}\n"
	got, err := yamlToJSON([]byte(src), "1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"b":1,"a":{"z":[true,null,1.5,"2"],"y":"x"},"info":{"version":"1.2.3","title":"t"},"200":{"k":null}}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	for _, bad := range []string{"a: 1\na: 2\n", "- 1\n", "a: .inf\n", "a: !!binary aGk=\n", "{[1]: 2}\n", "a: [\n"} {
		if _, err := yamlToJSON([]byte(bad), ""); err == nil {
			t.Errorf("%q converted", bad)
		}
	}
}

// Every route the server registers is documented, and every documented
// operation is served, so neither can be added without the other.
func TestEveryRouteDocumented(t *testing.T) {
	s, _ := newServer(t, Options{MetricsHandler: http.NotFoundHandler()})
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(s.openapi, &doc); err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`:([a-z]+)`)
	served := map[string]bool{}
	for _, r := range s.echo.Routes() {
		if r.Method == echo.RouteNotFound {
			continue
		}
		path := param.ReplaceAllString(r.Path, "{$1}")
		served[r.Method+" "+path] = true
		if _, ok := doc.Paths[path][strings.ToLower(r.Method)]; !ok {
			t.Errorf("%s %s is served but not documented", r.Method, path)
		}
	}
	for path, item := range doc.Paths {
		for method := range item {
			op := strings.ToUpper(method) + " " + path
			if method == "parameters" || served[op] {
				continue
			}
			t.Errorf("%s is documented but not served", op)
		}
	}
}

func TestServedDocumentCarriesTheVersion(t *testing.T) {
	s, _ := newServer(t, Options{Version: "v9.8.7"})
	w := call(s, "GET", "/openapi.json", "")
	var doc struct {
		OpenAPI string `json:"openapi"`
		Info    struct {
			Version string `json:"version"`
		} `json:"info"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || w.Code != http.StatusOK {
		t.Fatalf("HTTP %d: %v", w.Code, err)
	}
	if doc.Info.Version != "v9.8.7" || doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi %q, info.version %q", doc.OpenAPI, doc.Info.Version)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	// Without a version the document's own stays.
	if !strings.Contains(string(OpenAPI("")), `"version":"dev"`) {
		t.Error("OpenAPI(\"\") changed info.version")
	}
}
