package rest

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/authd/authd/app"
	"github.com/authd/authd/domain"
)

// POST /auth/register {name, email, password} → 201, the user.
func (s *Server) register(c echo.Context) error {
	o, err := readObject(c)
	if err != nil {
		return err
	}
	in := app.RegisterInput{
		Name:     o.requiredString("name"),
		Email:    o.requiredString("email"),
		Password: o.requiredString("password"),
	}
	noteEmail(c, in.Email)
	if o.failed() {
		o.check("name", func() error { _, err := domain.ParseName(in.Name); return err })
		o.check("email", func() error { _, err := domain.ParseEmail(in.Email); return err })
		o.check("password", func() error { _, err := domain.ParsePassword("password", in.Password); return err })
		return o.err()
	}
	u, err := s.app.Register(c.Request().Context(), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, newUserResponse(u))
}

// POST /auth/login {email, password} → 200, a token pair.
func (s *Server) login(c echo.Context) error {
	o, err := readObject(c)
	if err != nil {
		return err
	}
	in := app.LoginInput{
		Email:    o.requiredString("email"),
		Password: o.requiredString("password"),
		Client:   s.client(c),
	}
	noteEmail(c, in.Email)
	// No domain rules here: a malformed email or a short password is just
	// a wrong one, and saying so would tell a guesser what not to try.
	if err := o.err(); err != nil {
		return err
	}
	t, err := s.app.Login(c.Request().Context(), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newTokensResponse(t))
}

// POST /auth/refresh {refresh_token} → 200, a new token pair.
func (s *Server) refresh(c echo.Context) error {
	o, err := readObject(c)
	if err != nil {
		return err
	}
	token := o.requiredString("refresh_token")
	if err := o.err(); err != nil {
		return err
	}
	t, err := s.app.Refresh(c.Request().Context(), token)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newTokensResponse(t))
}

// POST /auth/logout (bearer) → 204.
func (s *Server) logout(c echo.Context) error {
	p, err := principal(c)
	if err != nil {
		return err
	}
	if err := s.app.Logout(c.Request().Context(), p); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// GET /auth/me and GET /users/me (bearer) → 200, the caller.
func (s *Server) me(c echo.Context) error {
	p, err := principal(c)
	if err != nil {
		return err
	}
	body, err := s.bodies.body(p.User)
	if err != nil {
		return err
	}
	return c.JSONBlob(http.StatusOK, body)
}

// client is where the request came from, for the session record and the
// per-address login limit.
func (s *Server) client(c echo.Context) app.Client {
	r := c.Request()
	return app.Client{IP: addrString(clientAddr(r, s.trusted)), UserAgent: r.UserAgent()}
}
