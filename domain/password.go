package domain

import (
	"log/slog"
	"strings"
	"unicode/utf8"
)

// Password is a plaintext password on its way to the hasher. It never prints:
// String, GoString and LogValue all say [redacted].
type Password string

func (Password) String() string               { return "[redacted]" }
func (Password) GoString() string             { return "[redacted]" }
func (Password) LogValue() slog.Value         { return slog.StringValue("[redacted]") }
func (p Password) Reveal() string             { return string(p) }
func (p Password) Bytes() []byte              { return []byte(p) }
func (Password) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// ParsePassword checks the rules of a new password, reporting on field.
// Length is counted in characters (8–128). Longer-than-72-byte passwords are
// fine: the hasher pre-hashes, so no byte is silently ignored.
func ParsePassword(field, s string) (Password, error) {
	v := &ValidationError{}
	n := utf8.RuneCountInString(s)
	switch {
	case !utf8.ValidString(s):
		v.Add(field, "must be valid UTF-8")
	case n < 8:
		v.Add(field, "must be at least 8 characters")
	case n > 128:
		v.Add(field, "must be at most 128 characters")
	case strings.TrimSpace(s) != s:
		v.Add(field, "must not start or end with whitespace")
	case hasControl(s):
		v.Add(field, "must not contain control characters")
	}
	if err := v.Err(); err != nil {
		return "", err
	}
	return Password(s), nil
}

// PasswordHash is an encoded hash as the hasher produced it (bcrypt's
// "$2a$10$…" form). It is not secret the way a password is, but it still
// stays out of logs and responses.
type PasswordHash string

func (PasswordHash) LogValue() slog.Value { return slog.StringValue("[redacted]") }
