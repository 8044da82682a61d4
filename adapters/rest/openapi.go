package rest

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"go.yaml.in/yaml/v3"
)

// The OpenAPI document is written by hand in YAML (openapi/openapi.yaml),
// where it can carry comments and be read in review, and served as JSON.
// test/api validates every answer any HTTP test receives against it, so it
// cannot drift from the handlers.
//
//go:embed openapi/openapi.yaml
var openAPIYAML []byte

//go:embed openapi/docs
var docsFS embed.FS

// OpenAPI returns the OpenAPI document as GET /openapi.json serves it, with
// info.version set to version unless that is empty.
func OpenAPI(version string) []byte { return openAPIJSON(version) }

func openAPIJSON(version string) []byte {
	b, err := yamlToJSON(openAPIYAML, version)
	if err != nil {
		panic("rest: the embedded OpenAPI document: " + err.Error())
	}
	return b
}

// GET /openapi.json → 200, the document.
func (s *Server) openAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, s.openapi)
}

// docsCSP lets /docs load scripts, styles and data only from this server
// (the stylesheet's icons are data: URIs). Swagger UI 5 runs under it with
// no violation, expanding every operation included: checked in headless
// Chromium when it was vendored.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// GET /docs → 200, a page that renders the document with Swagger UI.
func (s *Server) docs(c echo.Context) error {
	page, err := docsFS.ReadFile("openapi/docs/index.html")
	if err != nil {
		return err
	}
	c.Response().Header().Set("Content-Security-Policy", docsCSP)
	return c.Blob(http.StatusOK, echo.MIMETextHTMLCharsetUTF8, page)
}

// docsAssets are the files GET /docs/assets/{file} serves, by name.
var docsAssets = map[string]string{
	"swagger-ui-bundle.js":             "text/javascript; charset=utf-8",
	"init.js":                          "text/javascript; charset=utf-8",
	"swagger-ui.css":                   "text/css; charset=utf-8",
	"LICENSE":                          echo.MIMETextPlainCharsetUTF8,
	"NOTICE":                           echo.MIMETextPlainCharsetUTF8,
	"swagger-ui-bundle.js.LICENSE.txt": echo.MIMETextPlainCharsetUTF8,
}

// GET /docs/assets/{file} → 200, one of docsAssets; 404 for anything else.
func (s *Server) docsAsset(c echo.Context) error {
	name := c.Param("file")
	ctype, ok := docsAssets[name]
	if !ok {
		return echo.ErrNotFound
	}
	b, err := docsFS.ReadFile("openapi/docs/" + name)
	if err != nil {
		return err
	}
	// The files change only with the binary; a day's caching saves
	// reloading 1.7 MB of script on every visit.
	c.Response().Header().Set("Cache-Control", "public, max-age=86400")
	return c.Blob(http.StatusOK, ctype, b)
}

// yamlToJSON converts a YAML document to JSON, keeping the order of
// mapping keys (encoding/json would sort them, scrambling the document for
// people reading it), refusing duplicate keys, and setting info.version.
func yamlToJSON(src []byte, version string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("not a YAML mapping")
	}
	if version != "" {
		if info := mappingValue(doc.Content[0], "info"); info != nil {
			if v := mappingValue(info, "version"); v != nil {
				v.SetString(version)
			}
		}
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, doc.Content[0]); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func mappingValue(m *yaml.Node, key string) *yaml.Node {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func writeJSON(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.AliasNode:
		return writeJSON(buf, n.Alias)
	case yaml.MappingNode:
		buf.WriteByte('{')
		seen := make(map[string]bool, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.Value == "<<" {
				return fmt.Errorf("line %d: keys must be plain scalars", k.Line)
			}
			if seen[k.Value] {
				return fmt.Errorf("line %d: duplicate key %q", k.Line, k.Value)
			}
			seen[k.Value] = true
			if i > 0 {
				buf.WriteByte(',')
			}
			key, _ := json.Marshal(k.Value)
			buf.Write(key)
			buf.WriteByte(':')
			if err := writeJSON(buf, n.Content[i+1]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, item := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSON(buf, item); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case yaml.ScalarNode:
		return writeScalar(buf, n)
	default:
		return fmt.Errorf("line %d: unexpected YAML node", n.Line)
	}
	return nil
}

func writeScalar(buf *bytes.Buffer, n *yaml.Node) error {
	var v any
	switch n.ShortTag() {
	case "!!null":
		buf.WriteString("null")
		return nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return err
		}
		v = b
	case "!!int":
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		v = i
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return err
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return fmt.Errorf("line %d: %s has no JSON form", n.Line, n.Value)
		}
		v = f
	case "!!str":
		v = n.Value
	default:
		return fmt.Errorf("line %d: unsupported YAML tag %s", n.Line, n.ShortTag())
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	buf.Write(b)
	return nil
}
