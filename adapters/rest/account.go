package rest

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/authd/authd/app"
	"github.com/authd/authd/domain"
)

// PATCH /users/me {name?, profile?: {first_name?, last_name?, phone_number?,
// address?}} → 200, the updated user. A member left out is left alone; a
// profile member set to null is cleared. name and profile may not be null.
func (s *Server) updateMe(c echo.Context) error {
	p, err := principal(c)
	if err != nil {
		return err
	}
	o, err := readObject(c)
	if err != nil {
		return err
	}
	var in app.ProfileUpdate
	if name, ok := o.optionalString("name"); ok {
		in.Name = app.Some(name)
	}
	profile := o.presentObject("profile")
	fields := []struct {
		json string
		dst  *app.Optional[*string]
	}{
		{"first_name", &in.FirstName},
		{"last_name", &in.LastName},
		{"phone_number", &in.PhoneNumber},
		{"address", &in.Address},
	}
	if profile != nil {
		for _, f := range fields {
			if v, present := profile.nullableString(f.json); present {
				*f.dst = app.Some(v)
			}
		}
	}
	if o.failed() {
		// The use case would check these; it is not called, so the 422 says
		// everything that is wrong at once.
		if in.Name.Set {
			o.check("name", func() error { _, err := domain.ParseName(in.Name.Value); return err })
		}
		for _, f := range fields {
			if f.dst.Set && profile != nil {
				profile.check(f.json, func() error { return domain.ValidateProfileField(f.json, f.dst.Value) })
			}
		}
		return o.err()
	}
	u, err := s.app.UpdateProfile(c.Request().Context(), p, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newUserResponse(u))
}

// PUT /users/me/password {current_password, new_password} → 204. Every
// other session of the caller is revoked; the caller's own goes on.
func (s *Server) changePassword(c echo.Context) error {
	p, err := principal(c)
	if err != nil {
		return err
	}
	o, err := readObject(c)
	if err != nil {
		return err
	}
	current := o.requiredString("current_password")
	next := o.requiredString("new_password")
	if o.failed() {
		o.check("new_password", func() error { _, err := domain.ParsePassword("new_password", next); return err })
		return o.err()
	}
	if err := s.app.ChangePassword(c.Request().Context(), p, current, next); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// GET /users/me/sessions → 200, the caller's live sessions, newest first,
// the one making the request marked current.
func (s *Server) sessions(c echo.Context) error {
	p, err := principal(c)
	if err != nil {
		return err
	}
	list, err := s.app.ListSessions(c.Request().Context(), p)
	if err != nil {
		return err
	}
	out := make([]sessionResponse, len(list))
	for i, sess := range list {
		out[i] = newSessionResponse(sess, p.Session.ID)
	}
	return c.JSON(http.StatusOK, out)
}

// DELETE /users/me/sessions/{id} → 204; the session's tokens stop working at
// once. Another user's session is 404, exactly like one that does not exist.
func (s *Server) revokeSession(c echo.Context) error {
	p, err := principal(c)
	if err != nil {
		return err
	}
	if err := s.app.RevokeSession(c.Request().Context(), p, domain.SessionID(c.Param("id"))); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
