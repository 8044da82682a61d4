package domain

import (
	"log/slog"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// UserID is opaque to clients (a UUIDv7 string in practice).
type UserID string

// Role decides what a user may do. Only two exist.
type Role string

const (
	RoleUser  Role = "user"
	RoleAdmin Role = "admin"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleUser || r == RoleAdmin }

// User is an account. PasswordHash never leaves the process: response types
// in adapters/rest copy fields from User and have no place for it.
type User struct {
	ID           UserID
	Name         string
	Email        Email
	PasswordHash PasswordHash
	IsActive     bool
	Role         Role
	Profile      Profile
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// Version grows by one on every committed change. Caches use it to refuse
	// an older copy of the user over a newer one.
	Version int64
}

// Profile holds optional personal details; nil means "not set".
type Profile struct {
	FirstName   *string
	LastName    *string
	PhoneNumber *string
	Address     *string
}

// Email is trimmed and lower-cased: uniqueness is case-insensitive.
type Email string

// ParseEmail checks and normalises an address. Problems are reported on the
// field "email".
func ParseEmail(s string) (Email, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	v := &ValidationError{}
	switch {
	case s == "":
		v.Add("email", "must not be empty")
	case len(s) > 254:
		v.Add("email", "must be at most 254 characters")
	case hasControl(s):
		v.Add("email", "must not contain control characters")
	default:
		a, err := mail.ParseAddress(s)
		// ParseAddress accepts "Name <a@b>"; only a bare address is an email here.
		if err != nil || a.Address != s || !strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") {
			v.Add("email", "must be a valid email address")
		}
	}
	if err := v.Err(); err != nil {
		return "", err
	}
	return Email(s), nil
}

// Masked shows enough of an address to follow it in logs: "a***@example.com".
func (e Email) Masked() string {
	s := string(e)
	at := strings.LastIndexByte(s, '@')
	if at < 1 {
		return "***"
	}
	r, _ := utf8.DecodeRuneInString(s)
	return string(r) + "***" + s[at:]
}

// LogValue keeps full addresses out of logs.
func (e Email) LogValue() slog.Value { return slog.StringValue(e.Masked()) }

// ParseName trims and checks a display name (2–100 characters, at least
// one of them visible).
func ParseName(s string) (string, error) {
	s = strings.TrimSpace(s)
	v := &ValidationError{}
	n := utf8.RuneCountInString(s)
	switch {
	case !utf8.ValidString(s):
		v.Add("name", "must be valid UTF-8")
	case hasControl(s):
		v.Add("name", "must not contain control characters")
	case hasBidiControl(s):
		v.Add("name", "must not contain bidirectional override or isolate characters")
	case n < 2:
		v.Add("name", "must be at least 2 characters")
	case n > 100:
		v.Add("name", "must be at most 100 characters")
	case !hasVisible(s):
		// Two zero-width spaces are two characters, and blank.
		v.Add("name", "must not be blank")
	}
	return s, v.Err()
}

// ProfileLimits are the maximum lengths, in characters, of profile fields.
var profileLimits = map[string]int{
	"first_name": 100, "last_name": 100, "phone_number": 20, "address": 255,
}

// ValidateProfileField checks one optional profile value; field is its JSON
// name. A nil value clears the field and is always valid.
func ValidateProfileField(field string, value *string) error {
	v := &ValidationError{}
	if value != nil {
		limit := profileLimits[field]
		switch {
		case !utf8.ValidString(*value):
			v.Add(field, "must be valid UTF-8")
		case hasControl(*value):
			v.Add(field, "must not contain control characters")
		case hasBidiControl(*value):
			v.Add(field, "must not contain bidirectional override or isolate characters")
		case utf8.RuneCountInString(*value) > limit:
			v.Add(field, "must be at most "+strconv.Itoa(limit)+" characters")
		}
	}
	return v.Err()
}

// Validate checks every field of p.
func (p Profile) Validate() error {
	v := &ValidationError{}
	v.Merge("", ValidateProfileField("first_name", p.FirstName))
	v.Merge("", ValidateProfileField("last_name", p.LastName))
	v.Merge("", ValidateProfileField("phone_number", p.PhoneNumber))
	v.Merge("", ValidateProfileField("address", p.Address))
	return v.Err()
}

// hasBidiControl reports the characters that reorder the text around them
// (U+202A–U+202E, U+2066–U+2069): in a name shown to others, "‮nimda"
// displays as "admin". Other format characters stay allowed: the
// zero-width non-joiner is part of how Persian is written, and the
// zero-width joiner of many emoji.
func hasBidiControl(s string) bool {
	for _, r := range s {
		if (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) {
			return true
		}
	}
	return false
}

// hasVisible reports whether s has a letter, digit, punctuation mark or
// symbol: something that shows.
func hasVisible(s string) bool {
	for _, r := range s {
		if unicode.In(r, unicode.L, unicode.N, unicode.P, unicode.S) {
			return true
		}
	}
	return false
}

func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}
