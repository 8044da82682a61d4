package domain

import (
	"errors"
	"strings"
	"time"
)

// Sentinel errors. Adapters wrap them with %w; the HTTP adapter maps them to
// status codes in one place (adapters/rest/errors.go).
var (
	ErrNotFound           = errors.New("not found")
	ErrEmailTaken         = errors.New("email already registered")
	ErrInvalidCredentials = errors.New("invalid email or password")
	ErrUnauthenticated    = errors.New("missing, expired or revoked token")
	ErrAccountInactive    = errors.New("account inactive")
	ErrForbidden          = errors.New("role not allowed")
	ErrOverloaded         = errors.New("password hashing at capacity")
	ErrRateLimited        = errors.New("too many requests")
)

// FieldProblem names one rejected input field as the client spelled it in
// JSON ("profile.phone_number" for nested ones).
type FieldProblem struct {
	Field   string
	Message string
}

// ValidationError lists every rejected field, so one 422 reports them all.
type ValidationError struct{ Problems []FieldProblem }

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Field + ": " + p.Message
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Add records a problem with field.
func (e *ValidationError) Add(field, message string) {
	e.Problems = append(e.Problems, FieldProblem{Field: field, Message: message})
}

// Merge appends other's problems under prefix ("profile." for nested objects).
func (e *ValidationError) Merge(prefix string, other error) {
	var ve *ValidationError
	if errors.As(other, &ve) {
		for _, p := range ve.Problems {
			e.Add(prefix+p.Field, p.Message)
		}
	}
}

// Err returns e when it holds a problem, nil otherwise, so callers can write
// `return v.Err()` after collecting.
func (e *ValidationError) Err() error {
	if e == nil || len(e.Problems) == 0 {
		return nil
	}
	return e
}

// RetryError carries how long a client should wait before trying again; it
// wraps ErrRateLimited or ErrOverloaded so errors.Is still matches.
type RetryError struct {
	Err        error
	RetryAfter time.Duration
}

func (e *RetryError) Error() string { return e.Err.Error() }
func (e *RetryError) Unwrap() error { return e.Err }

// ErrWrongPassword is a failed check of the current password by a caller who
// is already authenticated (password change); it is not a login failure.
var ErrWrongPassword = errors.New("current password is incorrect")
