package rest

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/authd/authd/app"
	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
)

// requireAdmin lets only administrators through; it runs after
// requireBearer, so an anonymous caller is 401 before being 403. It reads
// the role App.Authenticate loaded from the store for this request, not the
// one in the token, so a promotion or demotion counts at once. The admin use
// cases check the role again themselves.
func (s *Server) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, err := principal(c)
		if err != nil {
			return err
		}
		if p.User.Role != domain.RoleAdmin {
			return domain.ErrForbidden
		}
		return next(c)
	}
}

// Listing limits (API.md is silent; the OpenAPI document states them).
const (
	defaultPageSize = 50
	maxSearchLength = 100
)

// GET /admin/users?limit=&cursor=&q= → 200 {items, next_cursor}.
func (s *Server) listUsers(c echo.Context) error {
	p, err := principal(c)
	if err != nil {
		return err
	}
	q, err := parseUserQuery(c.QueryParams())
	if err != nil {
		return err
	}
	page, err := s.app.ListUsers(c.Request().Context(), p, q)
	if err != nil {
		return err
	}
	out := userPageResponse{Items: make([]userResponse, len(page.Users))}
	for i, u := range page.Users {
		out.Items[i] = newUserResponse(u)
	}
	if page.Next != "" {
		next := encodeCursor(page.Next)
		out.NextCursor = &next
	}
	return c.JSON(http.StatusOK, out)
}

// parseUserQuery reads limit (1..app.MaxPageSize, default 50), cursor (as
// next_cursor gave it) and q (at most 100 characters; surrounding spaces
// dropped, empty means no filter), reporting every bad one in one
// *domain.ValidationError. Other parameters are ignored.
func parseUserQuery(params map[string][]string) (ports.UserQuery, error) {
	v := &domain.ValidationError{}
	q := ports.UserQuery{Limit: defaultPageSize}
	one := func(name string) (string, bool) {
		vs, ok := params[name]
		switch {
		case !ok:
			return "", false
		case len(vs) > 1:
			v.Add(name, "must be given once")
			return "", false
		}
		return vs[0], true
	}
	if raw, ok := one("limit"); ok {
		n, err := strconv.Atoi(raw)
		switch {
		case err != nil:
			v.Add("limit", "must be an integer")
		case n < 1 || n > app.MaxPageSize:
			v.Add("limit", "must be between 1 and "+strconv.Itoa(app.MaxPageSize))
		default:
			q.Limit = n
		}
	}
	if raw, ok := one("cursor"); ok {
		after, valid := decodeCursor(raw)
		if !valid {
			v.Add("cursor", "must be a next_cursor returned by this endpoint")
		}
		q.After = after
	}
	if raw, ok := one("q"); ok {
		raw = strings.TrimSpace(raw)
		switch {
		case !utf8.ValidString(raw) || hasControlChar(raw):
			v.Add("q", "must be text without control characters")
		case utf8.RuneCountInString(raw) > maxSearchLength:
			v.Add("q", "must be at most "+strconv.Itoa(maxSearchLength)+" characters")
		default:
			q.Search = raw
		}
	}
	return q, v.Err()
}

// A cursor is the id of the last user of a page, behind a version byte, in
// unpadded base64url. Clients must treat it as opaque, so that its content
// can change (the version byte says how) without breaking them. It needs no
// signature: a forged one only starts a listing at another place the
// caller could reach by paging anyway.
const cursorV1 = 1

// maxCursorID bounds what a cursor may name (a UUID string is 36 bytes).
const maxCursorID = 64

func encodeCursor(after domain.UserID) string {
	return base64.RawURLEncoding.EncodeToString(append([]byte{cursorV1}, after...))
}

func decodeCursor(s string) (domain.UserID, bool) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) < 2 || len(b) > maxCursorID+1 || b[0] != cursorV1 {
		return "", false
	}
	id := string(b[1:])
	if !utf8.ValidString(id) || hasControlChar(id) {
		return "", false
	}
	return domain.UserID(id), true
}

func hasControlChar(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return true
		}
	}
	return false
}

// GET /admin/users/{id} → 200, the user; 404.
func (s *Server) user(c echo.Context) error {
	p, err := principal(c)
	if err != nil {
		return err
	}
	u, err := s.app.User(c.Request().Context(), p, domain.UserID(c.Param("id")))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newUserResponse(u))
}

// PATCH /admin/users/{id} {is_active?, role?} → 200, the user. Deactivating
// revokes every session of the user at once.
func (s *Server) updateUser(c echo.Context) error {
	p, err := principal(c)
	if err != nil {
		return err
	}
	o, err := readObject(c)
	if err != nil {
		return err
	}
	var in app.AdminUpdate
	if active, ok := o.optionalBool("is_active"); ok {
		in.IsActive = app.Some(active)
	}
	if role, ok := o.optionalString("role"); ok {
		in.Role = app.Some(role)
	}
	if o.failed() {
		if in.Role.Set {
			o.check("role", func() error { return checkRole(in.Role.Value) })
		}
		return o.err()
	}
	u, err := s.app.UpdateUser(c.Request().Context(), p, domain.UserID(c.Param("id")), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newUserResponse(u))
}

// checkRole repeats UpdateUser's rule, for the 422 that is sent without
// calling it.
func checkRole(role string) error {
	if domain.Role(role).Valid() {
		return nil
	}
	v := &domain.ValidationError{}
	v.Add("role", `must be "user" or "admin"`)
	return v
}

// DELETE /admin/users/{id} → 204; the user's tokens stop working at once.
func (s *Server) deleteUser(c echo.Context) error {
	p, err := principal(c)
	if err != nil {
		return err
	}
	if err := s.app.DeleteUser(c.Request().Context(), p, domain.UserID(c.Param("id"))); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
