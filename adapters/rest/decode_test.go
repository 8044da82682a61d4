package rest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/authd/authd/domain"
)

// readThroughLimit runs readObject behind limitBody, as the router does.
func readThroughLimit(t *testing.T, req *http.Request) (*object, error) {
	t.Helper()
	e := echo.New()
	c := e.NewContext(req, httptest.NewRecorder())
	var o *object
	err := limitBody(func(c echo.Context) error {
		var err error
		o, err = readObject(c)
		return err
	})(c)
	return o, err
}

func statusOfErr(err error) int {
	if err == nil {
		return 0
	}
	return mapError(err).Status
}

func TestReadObjectTransport(t *testing.T) {
	big := `{"name":"` + strings.Repeat("a", maxBody) + `"}`
	exact := `{"a":"` + strings.Repeat("a", maxBody-8) + `"}`
	if len(exact) != maxBody {
		t.Fatalf("exact body is %d bytes", len(exact))
	}
	tests := []struct {
		name        string
		contentType string // "-" for none
		body        string
		// length overrides Content-Length: 0 keeps the true one, -1 is
		// chunked (unknown), anything else is a lie.
		length int64
		want   int // 0: accepted
	}{
		{name: "object", contentType: "application/json", body: `{"a":"b"}`},
		{name: "charset utf-8", contentType: "application/json; charset=utf-8", body: `{}`},
		{name: "charset UTF-8 quoted", contentType: `application/json; charset="UTF-8"`, body: `{}`},
		{name: "no content type", contentType: "-", body: `{}`},
		{name: "whitespace around", contentType: "application/json", body: " \n{} \n"},
		{name: "exactly the limit", contentType: "application/json", body: exact},
		{name: "text/plain", contentType: "text/plain", body: `{}`, want: 415},
		{name: "form", contentType: "application/x-www-form-urlencoded", body: `a=b`, want: 415},
		{name: "latin-1", contentType: "application/json; charset=iso-8859-1", body: `{}`, want: 415},
		{name: "unparseable content type", contentType: "application/json; ;", body: `{}`, want: 415},
		{name: "empty", contentType: "application/json", body: ``, want: 400},
		{name: "blank", contentType: "application/json", body: "  \n", want: 400},
		{name: "truncated", contentType: "application/json", body: `{"name": "Ada`, want: 400},
		{name: "trailing garbage", contentType: "application/json", body: `{"a":1} x`, want: 400},
		{name: "two objects", contentType: "application/json", body: `{} {}`, want: 400},
		{name: "not JSON", contentType: "application/json", body: `name=Ada`, want: 400},
		{name: "invalid UTF-8", contentType: "application/json", body: "{\"password\":\"pass\xffword\"}", want: 400},
		{name: "escaped surrogate pair", contentType: "application/json", body: `{"password":"pass\ud83d\ude00word"}`},
		{name: "escaped U+FFFD itself", contentType: "application/json", body: `{"password":"pass\ufffdword"}`},
		{name: "escaped backslash before u", contentType: "application/json", body: `{"password":"pass\\ud800"}`},
		{name: "lone high surrogate", contentType: "application/json", body: `{"password":"pass\ud800word"}`, want: 400},
		{name: "lone high surrogate at the end", contentType: "application/json", body: `{"password":"pass\uD800"}`, want: 400},
		{name: "lone low surrogate", contentType: "application/json", body: `{"password":"pass\udfffword"}`, want: 400},
		{name: "high then non-surrogate escape", contentType: "application/json", body: `{"password":"pass\ud800\u0041"}`, want: 400},
		{name: "two high halves", contentType: "application/json", body: `{"password":"\ud800\ud800"}`, want: 400},
		{name: "lone surrogate in a key", contentType: "application/json", body: `{"pass\ud800":"x"}`, want: 400},
		{name: "array", contentType: "application/json", body: `[{"a":1}]`, want: 400},
		{name: "string", contentType: "application/json", body: `"a"`, want: 400},
		{name: "null", contentType: "application/json", body: `null`, want: 400},
		{name: "too large, declared", contentType: "application/json", body: big, want: 413},
		{name: "too large, chunked", contentType: "application/json", body: big, length: -1, want: 413},
		{name: "too large, understated length", contentType: "application/json", body: big, length: 10, want: 413},
		{name: "too large and not JSON", contentType: "text/plain", body: big, want: 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(tt.body))
			if tt.contentType != "-" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			if tt.length != 0 {
				req.ContentLength = tt.length
			}
			o, err := readThroughLimit(t, req)
			if got := statusOfErr(err); got != tt.want {
				t.Fatalf("status %d (err %v), want %d", got, err, tt.want)
			}
			if err == nil && o == nil {
				t.Fatal("no object and no error")
			}
		})
	}
}

// A client that stops sending mid-body gets a 400, not a 500.
func TestReadObjectBrokenBody(t *testing.T) {
	req := httptest.NewRequest(http.MethodPost, "/x", io.MultiReader(strings.NewReader(`{"a":`), errReader{}))
	req.Header.Set("Content-Type", "application/json")
	_, err := readThroughLimit(t, req)
	if got := statusOfErr(err); got != http.StatusBadRequest {
		t.Fatalf("status %d (%v), want 400", got, err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func readJSON(t *testing.T, body string) *object {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	o, err := readThroughLimit(t, req)
	if err != nil {
		t.Fatalf("readObject(%s): %v", body, err)
	}
	return o
}

func problemsOf(err error) string {
	var ve *domain.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Sprintf("not a validation error: %v", err)
	}
	var b strings.Builder
	for _, p := range ve.Problems {
		fmt.Fprintf(&b, "%s: %s\n", p.Field, p.Message)
	}
	return b.String()
}

func TestObjectRequiredString(t *testing.T) {
	o := readJSON(t, `{"a":"x","b":null,"c":3,"d":{"e":1},"e":["x"],"f":"","g":true,"UPPER":"y"}`)
	got := map[string]string{}
	for _, name := range []string{"a", "b", "c", "d", "e", "f", "g", "missing", "upper"} {
		got[name] = o.requiredString(name)
	}
	if got["a"] != "x" || got["f"] != "" {
		t.Errorf("values: %q", got)
	}
	want := "b: must be a string\nc: must be a string\nd: must be a string\ne: must be a string\n" +
		"g: must be a string\nmissing: is required\nupper: is required\n"
	if p := problemsOf(o.err()); p != want {
		t.Errorf("problems:\n%s\nwant:\n%s", p, want)
	}
}

func TestObjectNestedAndNullable(t *testing.T) {
	o := readJSON(t, `{"name":null,"profile":{"first_name":"Ada","last_name":null,"phone_number":12},"other":[1]}`)

	name, present := o.nullableString("name")
	if name != nil || !present {
		t.Errorf("name: %v %v, want null and present", name, present)
	}
	if v, present := o.nullableString("absent"); v != nil || present {
		t.Errorf("absent: %v %v", v, present)
	}
	p := o.optionalObject("profile")
	if p == nil {
		t.Fatal("profile not decoded")
	}
	if v, _ := p.nullableString("first_name"); v == nil || *v != "Ada" {
		t.Errorf("first_name: %v", v)
	}
	if v, present := p.nullableString("last_name"); v != nil || !present {
		t.Errorf("last_name: %v %v", v, present)
	}
	p.nullableString("phone_number")
	if o.optionalObject("other") != nil {
		t.Error("an array decoded as an object")
	}
	if o.optionalObject("missing") != nil {
		t.Error("a missing object decoded")
	}
	if !o.failed() {
		t.Error("failed() is false after nested problems")
	}
	want := "profile.phone_number: must be a string or null\nother: must be an object\n"
	if got := problemsOf(o.err()); got != want {
		t.Errorf("problems:\n%s\nwant:\n%s", got, want)
	}
}

// check adds the domain's objections in the order the fields were asked
// for, and none on a field that already failed to decode.
func TestObjectCheck(t *testing.T) {
	o := readJSON(t, `{"name":"A","email":7,"password":"short"}`)
	name, email, pw := o.requiredString("name"), o.requiredString("email"), o.requiredString("password")
	o.check("name", func() error { _, err := domain.ParseName(name); return err })
	o.check("email", func() error { _, err := domain.ParseEmail(email); return err })
	o.check("password", func() error { _, err := domain.ParsePassword("password", pw); return err })
	want := "name: must be at least 2 characters\nemail: must be a string\npassword: must be at least 8 characters\n"
	if got := problemsOf(o.err()); got != want {
		t.Errorf("problems:\n%s\nwant:\n%s", got, want)
	}
}

// hasLoneSurrogate reads past the current byte; on any valid JSON it must
// neither panic nor flag what encoding/json decodes losslessly: text that
// json.Marshal wrote from valid UTF-8 never escapes a lone half.
func FuzzHasLoneSurrogate(f *testing.F) {
	for _, s := range []string{`{"a":"\ud800"}`, `{"a":"\ud83d\ude00"}`, `"\\u"`, `{"\u0041":"\\"}`, `["\udbff\udfff"]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if json.Valid(b) {
			_ = hasLoneSurrogate(b)
		}
		if utf8.Valid(b) {
			enc, _ := json.Marshal(string(b))
			if hasLoneSurrogate(enc) {
				t.Fatalf("flagged json.Marshal's own output %s", enc)
			}
		}
	})
}
