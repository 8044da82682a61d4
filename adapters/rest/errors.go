package rest

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authd/authd/domain"
)

// This file is the only code that turns errors into status codes. Handlers
// and middleware return errors; echo hands them to Server.handleError.

// problem is an RFC 9457 problem document. detail is always present because
// clients written for the FastAPI service read {"detail": ...}.
type problem struct {
	Type      string         `json:"type"`
	Title     string         `json:"title"`
	Status    int            `json:"status"`
	Detail    string         `json:"detail"`
	RequestID string         `json:"request_id,omitempty"`
	Errors    []fieldProblem `json:"errors,omitempty"`
}

type fieldProblem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

const problemContentType = "application/problem+json"

// Problem types. Statuses that mean one thing use about:blank with the
// status phrase as title (RFC 9457 §4.2.1); a status that can mean several
// things to a client gets a type of its own so it can tell them apart
// without parsing detail (an expired token from a wrong password, an
// inactive account from a missing role).
const typeBlank = "about:blank"

func problemType(slug string) string { return "urn:authd:problem:" + slug }

// statusOf maps the domain's sentinel errors, matched with errors.Is so
// that wrapping with %w keeps the mapping.
var statusOf = []struct {
	err    error
	status int
	typ    string
	title  string
	detail string
}{
	{domain.ErrNotFound, http.StatusNotFound, typeBlank, "Not Found", "The requested resource does not exist."},
	{domain.ErrEmailTaken, http.StatusConflict, problemType("email-taken"), "Email already registered", "Email already registered"},
	{domain.ErrInvalidCredentials, http.StatusUnauthorized, problemType("invalid-credentials"), "Invalid credentials", "Invalid email or password"},
	{domain.ErrUnauthenticated, http.StatusUnauthorized, problemType("unauthenticated"), "Unauthenticated", "Missing, invalid, expired or revoked token."},
	// 401 like the others, but the token was fine: see handleError.
	{domain.ErrWrongPassword, http.StatusUnauthorized, problemType("wrong-password"), "Wrong password", "Current password is incorrect"},
	{domain.ErrAccountInactive, http.StatusForbidden, problemType("account-inactive"), "Account inactive", "This account is inactive."},
	{domain.ErrForbidden, http.StatusForbidden, problemType("forbidden"), "Forbidden", "Your role does not allow this."},
	{domain.ErrRateLimited, http.StatusTooManyRequests, typeBlank, "Too Many Requests", "Too many requests."},
	{domain.ErrOverloaded, http.StatusServiceUnavailable, typeBlank, "Service Unavailable", "The service is at capacity."},
}

// mapped is what an error becomes on the wire.
type mapped struct {
	problem
	retryAfter time.Duration // > 0: send Retry-After
	internal   bool          // a fault of ours: log it, say nothing about it
}

// mapError decides the answer to err. It never copies text from an error it
// does not know into the answer.
func mapError(err error) mapped {
	var (
		ve     *domain.ValidationError
		he     *echo.HTTPError
		tooBig *http.MaxBytesError
	)
	switch {
	case errors.As(err, &ve):
		m := mapped{problem: problem{
			Type: problemType("validation"), Title: "Validation failed",
			Status: http.StatusUnprocessableEntity, Detail: validationDetail(ve),
		}}
		for _, p := range ve.Problems {
			m.Errors = append(m.Errors, fieldProblem{Field: p.Field, Message: p.Message})
		}
		return m
	case errors.As(err, &tooBig):
		// Something read past the cap without going through readObject.
		err = errBodyTooLarge
	}
	for _, row := range statusOf {
		if !errors.Is(err, row.err) {
			continue
		}
		m := mapped{problem: problem{Type: row.typ, Title: row.title, Status: row.status, Detail: row.detail}}
		if row.status == http.StatusTooManyRequests || row.status == http.StatusServiceUnavailable {
			// API.md promises Retry-After on both; a bare sentinel with no
			// RetryError gets the shortest honest wait.
			m.retryAfter = time.Second
			var re *domain.RetryError
			if errors.As(err, &re) && re.RetryAfter > m.retryAfter {
				m.retryAfter = re.RetryAfter
			}
			m.Detail += " Retry in " + strconv.FormatInt(retrySeconds(m.retryAfter), 10) + " seconds."
		}
		return m
	}
	if errors.As(err, &he) && he.Code >= 400 && he.Code < 500 {
		detail := http.StatusText(he.Code)
		if msg, ok := he.Message.(string); ok && msg != "" {
			detail = msg
		}
		return mapped{problem: problem{Type: typeBlank, Title: http.StatusText(he.Code), Status: he.Code, Detail: detail}}
	}
	return mapped{internal: true, problem: problem{
		Type: typeBlank, Title: http.StatusText(http.StatusInternalServerError),
		Status: http.StatusInternalServerError, Detail: "Something went wrong on our side.",
	}}
}

func validationDetail(ve *domain.ValidationError) string {
	parts := make([]string, len(ve.Problems))
	for i, p := range ve.Problems {
		parts[i] = p.Field + ": " + p.Message
	}
	return "Invalid input: " + strings.Join(parts, "; ") + "."
}

// retrySeconds rounds up, so a client that waits as told is never early.
func retrySeconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// handleError is echo's HTTPErrorHandler. Internal errors are logged once,
// here, with the request id that the answer also carries; the answer says
// only that something failed.
func (s *Server) handleError(err error, c echo.Context) {
	m := mapError(err)
	req := c.Request()
	id := RequestID(req.Context())
	if m.internal {
		attrs := []any{"method", req.Method, "route", c.Path(), "err", err.Error()}
		var pe *panicError
		if errors.As(err, &pe) {
			attrs = append(attrs, "stack", string(pe.stack))
		}
		s.log.ErrorContext(req.Context(), "request failed", attrs...)
		m.Detail += " Quote request id " + id + " if you report this."
	}
	if c.Response().Committed {
		return
	}
	m.RequestID = id
	h := c.Response().Header()
	// RFC 9110 §11.6.1: a 401 carries a challenge. A wrong current password
	// (PUT /users/me/password) is the one exception: its token was accepted,
	// and a challenge would tell the front end its session had died and
	// send the user to the login page. The problem type tells the two
	// apart, and the OpenAPI document says so.
	if m.Status == http.StatusUnauthorized && !errors.Is(err, domain.ErrWrongPassword) {
		challenge := "Bearer"
		var tr *tokenRejected
		if errors.As(err, &tr) {
			challenge = `Bearer error="invalid_token"`
		}
		h.Set("WWW-Authenticate", challenge)
	}
	if m.retryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(retrySeconds(m.retryAfter), 10))
	}
	if req.Method == http.MethodHead {
		_ = c.NoContent(m.Status)
		return
	}
	body, merr := json.Marshal(m.problem)
	if merr != nil { // cannot happen: only strings and ints
		_ = c.NoContent(m.Status)
		return
	}
	// The client may have gone; there is no one left to tell.
	_ = c.Blob(m.Status, problemContentType, body)
}
