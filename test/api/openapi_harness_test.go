package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/authd/authd/adapters/rest"
)

// Every answer any test in this package receives goes through
// checkAgainstOpenAPI (from testServer.do), so the served document cannot
// drift from the handlers: an undocumented status, a missing required
// header, or a body that does not match its schema fails the test that
// received it.

// spec is the document GET /openapi.json serves, loaded and checked once.
var spec = sync.OnceValues(func() (*openAPISpec, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(rest.OpenAPI(""))
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, err
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &openAPISpec{doc: doc, router: router}, nil
})

type openAPISpec struct {
	doc    *openapi3.T
	router routers.Router
}

func init() {
	// Text bodies are checked as strings (their schemas are type: string);
	// the validator only knows JSON and text/plain by itself.
	text := func(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		b, err := io.ReadAll(body)
		return string(b), err
	}
	for _, ct := range []string{"text/html", "text/javascript", "text/css"} {
		openapi3filter.RegisterBodyDecoder(ct, text)
	}
}

func checkAgainstOpenAPI(t *testing.T, req *http.Request, r response) {
	t.Helper()
	s, err := spec()
	if err != nil {
		t.Fatalf("the OpenAPI document does not load: %v", err)
	}
	what := req.Method + " " + req.URL.RequestURI()
	if (r.Status == http.StatusNoContent || req.Method == http.MethodHead) && len(r.Body) != 0 {
		t.Errorf("%s: HTTP %d with a body: %q", what, r.Status, r.Body)
	}
	route, params, err := s.router.FindRoute(req)
	switch {
	case req.Method == http.MethodOptions:
		// CORS preflights and other OPTIONS requests are answered by
		// middleware and the router for every path; the document describes
		// them in prose (info.description), not as operations.
		checkUndocumented(t, s, what, r, http.StatusNoContent, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusTooManyRequests)
		return
	case errors.Is(err, routers.ErrPathNotFound), errors.Is(err, routers.ErrMethodNotAllowed):
		// Not an operation of the API: only the router's 404 and 405 (and
		// the answers of middleware that runs first: 401 and 403 under
		// /admin, 413, and 429 under /auth) may come back, as problems.
		checkUndocumented(t, s, what, r, http.StatusNotFound, http.StatusMethodNotAllowed,
			http.StatusUnauthorized, http.StatusForbidden, http.StatusRequestEntityTooLarge, http.StatusTooManyRequests)
		if r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden {
			if req.URL.Path != "/admin" && !strings.HasPrefix(req.URL.Path, "/admin/") {
				t.Errorf("%s: HTTP %d for a path outside /admin that no route matches", what, r.Status)
			}
		}
		return
	case err != nil:
		t.Fatalf("%s: finding the route in the OpenAPI document: %v", what, err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 r.Status,
		Header:                 r.Header,
		Body:                   io.NopCloser(bytes.NewReader(r.Body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s: the answer does not match the OpenAPI document: %v\nHTTP %d %v\n%s", what, err, r.Status, r.Header, r.Body)
	}
}

// checkUndocumented checks an answer of no operation: one of statuses, and
// an empty body or a problem document valid under the document's Problem
// schema.
func checkUndocumented(t *testing.T, s *openAPISpec, what string, r response, statuses ...int) {
	t.Helper()
	ok := false
	for _, st := range statuses {
		ok = ok || r.Status == st
	}
	if !ok {
		t.Errorf("%s: HTTP %d from no documented operation", what, r.Status)
	}
	if len(r.Body) == 0 {
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("%s: HTTP %d with Content-Type %q from no documented operation", what, r.Status, ct)
		return
	}
	var body any
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	if err := s.doc.Components.Schemas["Problem"].Value.VisitJSON(body); err != nil {
		t.Errorf("%s: the problem does not match the Problem schema: %v\n%s", what, err, r.Body)
	}
}
