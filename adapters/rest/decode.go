package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/authd/authd/domain"
)

// Request bodies are decoded in two steps so that one 422 can name every
// bad field: readObject checks the transport (type, size, syntax) and
// splits the top-level object into raw members; an object's accessors then
// decode each member, recording what is missing or of the wrong type
// instead of stopping at the first problem as json.Unmarshal into a struct
// would. Unknown members are ignored, as the FastAPI service did.
//
// Decisions where API.md is silent:
//   - No Content-Type is taken as JSON (FastAPI did the same); any type
//     other than application/json is 415, and so is a charset other than
//     UTF-8.
//   - An empty body, and well-formed JSON that is not an object (an array,
//     a string, null), are 400: there are no fields to name in a 422.
//   - Invalid UTF-8 is 400: encoding/json would silently turn it into
//     U+FFFD, changing a password behind the client's back. So is an
//     escaped half of a UTF-16 surrogate pair on its own ("\ud800"),
//     which encoding/json decodes to U+FFFD just as silently: without
//     this, "pass\ud800" and "pass\udfff" were the same password.

var (
	errUnsupportedType = echo.NewHTTPError(http.StatusUnsupportedMediaType,
		"The request body must be JSON, sent as Content-Type: application/json.")
	errEmptyBody  = echo.NewHTTPError(http.StatusBadRequest, "The request body is empty; a JSON object is expected.")
	errNotJSON    = echo.NewHTTPError(http.StatusBadRequest, "The request body is not valid JSON.")
	errNotUTF8    = echo.NewHTTPError(http.StatusBadRequest, "The request body is not valid UTF-8.")
	errLoneEscape = echo.NewHTTPError(http.StatusBadRequest,
		"The request body escapes half of a UTF-16 surrogate pair (\\uD800-\\uDFFF) without the other half.")
	errNotAnObject = echo.NewHTTPError(http.StatusBadRequest, "The request body must be a JSON object.")
)

// readObject reads the request body as one JSON object.
func readObject(c echo.Context) (*object, error) {
	r := c.Request()
	if ct := r.Header.Get(echo.HeaderContentType); ct != "" {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil || mt != echo.MIMEApplicationJSON {
			return nil, errUnsupportedType
		}
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			return nil, errUnsupportedType
		}
	}
	if r.Body == nil {
		return nil, errEmptyBody
	}
	body, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, errBodyTooLarge
	case err != nil:
		// The client stopped sending mid-body (or the connection broke).
		return nil, echo.NewHTTPError(http.StatusBadRequest, "The request body could not be read.").SetInternal(err)
	}
	body = bytes.TrimSpace(body)
	switch {
	case len(body) == 0:
		return nil, errEmptyBody
	case !utf8.Valid(body):
		return nil, errNotUTF8
	case !json.Valid(body): // also rejects trailing data after the value
		return nil, errNotJSON
	case body[0] != '{':
		return nil, errNotAnObject
	case hasLoneSurrogate(body):
		return nil, errLoneEscape
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		return nil, errNotJSON
	}
	return &object{members: members, problems: &domain.ValidationError{}, order: new([]string)}, nil
}

// hasLoneSurrogate reports whether valid JSON text escapes a UTF-16
// surrogate without its partner: a low half first, or a high half not
// followed by an escaped low half. Valid JSON has backslashes only inside
// strings and every \u takes four hex digits, so no string state is needed.
func hasLoneSurrogate(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if b[i+1] != 'u' {
			i++ // \" \\ \n …: skip the escaped character
			continue
		}
		r := hex4(b[i+2 : i+6])
		i += 5
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		case r >= 0xD800 && r <= 0xDBFF:
			if i+7 > len(b) || b[i+1] != '\\' || b[i+2] != 'u' {
				return true
			}
			if lo := hex4(b[i+3 : i+7]); lo < 0xDC00 || lo > 0xDFFF {
				return true
			}
			i += 6
		}
	}
	return false
}

// hex4 reads four hex digits, which json.Valid has already checked.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// object is a JSON object being decoded. Problems are named by their JSON
// path ("profile.phone_number"); nested objects share their parent's list.
type object struct {
	prefix   string
	members  map[string]json.RawMessage
	problems *domain.ValidationError
	// bad records the fields that did not decode, so that domain rules are
	// not also reported on them (see check).
	bad []string
	// order lists every field path asked for, in the order the handler
	// asked, so that problems are reported in that order whichever step
	// found them.
	order *[]string
}

var jsonNull = []byte("null")

// requiredString returns the member name, or "" after recording a problem
// when it is absent, null or not a string.
func (o *object) requiredString(name string) string {
	o.asked(name)
	raw, ok := o.members[name]
	if !ok {
		o.fail(name, "is required")
		return ""
	}
	var s string
	if bytes.Equal(raw, jsonNull) || json.Unmarshal(raw, &s) != nil {
		o.fail(name, "must be a string")
		return ""
	}
	return s
}

// nullableString distinguishes the three states a PATCH needs: absent
// (present false), null (present true, nil) and a string.
func (o *object) nullableString(name string) (value *string, present bool) {
	o.asked(name)
	raw, ok := o.members[name]
	if !ok {
		return nil, false
	}
	if bytes.Equal(raw, jsonNull) {
		return nil, true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		o.fail(name, "must be a string or null")
		return nil, true
	}
	return &s, true
}

// optionalObject returns the nested object under name, or nil when it is
// absent or null. Problems inside it are named "name.field".
func (o *object) optionalObject(name string) *object {
	o.asked(name)
	raw, ok := o.members[name]
	if !ok || bytes.Equal(raw, jsonNull) {
		return nil
	}
	var members map[string]json.RawMessage
	if bytes.TrimSpace(raw)[0] != '{' || json.Unmarshal(raw, &members) != nil {
		o.fail(name, "must be an object")
		return nil
	}
	return &object{prefix: o.prefix + name + ".", members: members, problems: o.problems, order: o.order}
}

func (o *object) asked(name string) { *o.order = append(*o.order, o.prefix+name) }

func (o *object) fail(name, message string) {
	o.bad = append(o.bad, name)
	o.problems.Add(o.prefix+name, message)
}

// failed reports whether any member of o, or of an object nested in it,
// did not decode.
func (o *object) failed() bool { return len(o.problems.Problems) > 0 }

// check applies a domain rule to a member that did decode, adding the
// rule's problems (named by the rule, under o's prefix). A handler calls it
// when decoding failed, so that the 422 lists the domain's objections to the
// other fields too instead of making the client fix them one round-trip at
// a time; when decoding succeeded the use case applies the rules itself.
func (o *object) check(name string, rule func() error) {
	if slices.Contains(o.bad, name) {
		return
	}
	o.problems.Merge(o.prefix, rule())
}

// err returns the recorded problems as a *domain.ValidationError, or nil.
func (o *object) err() error {
	rank := func(field string) int {
		if i := slices.Index(*o.order, field); i >= 0 {
			return i
		}
		return len(*o.order)
	}
	slices.SortStableFunc(o.problems.Problems, func(a, b domain.FieldProblem) int {
		return rank(a.Field) - rank(b.Field)
	})
	return o.problems.Err()
}
