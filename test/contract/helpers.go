// Package contract holds one test suite per port. Every adapter of a port
// runs its suite from its own _test.go, so the fakes and the real stores
// cannot quietly disagree.
//
// A suite takes a constructor and calls it once per subtest; the constructor
// returns a fresh store private to that subtest and registers its cleanup
// with t.Cleanup. Subtests run in parallel (t.Parallel), so an adapter that
// shares state between the stores it builds still passes only if it isolates
// them.
//
// Times: the SQL stores keep microseconds, store UTC and return UTC (Postgres
// timestamptz has microsecond precision). Stores may therefore drop anything
// below a microsecond and change the location; the suites compare instants
// with Equal after truncating both sides to microseconds, which still tells a
// store that rounds from one that truncates.
package contract

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/domain"
)

// races is how many goroutines a race subtest starts.
const races = 20

// t0 has nanoseconds and a zone that is not UTC, so a store that keeps more
// or less than microseconds of the instant shows in the comparisons.
var t0 = time.Date(2026, 12, 3, 16, 0, 0, 123456789, time.FixedZone("UTC+1", 3600))

// newID returns a random id, unique across parallel subtests and stores.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+).
	return hex.EncodeToString(b[:])
}

// newEmail returns an address unique to this test and label, normalised by
// domain.ParseEmail as the app would hand it to a store.
func newEmail(t testing.TB, label string) domain.Email {
	t.Helper()
	// The test name makes the address easy to trace in a shared database; the
	// hash keeps it unique when the readable part is cut short.
	full := t.Name() + "/" + label
	sum := sha256.Sum256([]byte(full))
	slug := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		default:
			return '-'
		}
	}, full)
	if len(slug) > 40 {
		slug = slug[len(slug)-40:]
	}
	slug = strings.Trim(slug, "-")
	e, err := domain.ParseEmail(slug + "." + hex.EncodeToString(sum[:4]) + "@example.com")
	if err != nil {
		t.Fatalf("building a test email: %v", err)
	}
	return e
}

// newUser returns a valid user with every field set, its email unique to
// this test and name. The store sets Version.
func newUser(t testing.TB, name string) domain.User {
	t.Helper()
	n, err := domain.ParseName("Test " + name)
	if err != nil {
		t.Fatalf("building a test name: %v", err)
	}
	return domain.User{
		ID:           domain.UserID(newID()),
		Name:         n,
		Email:        newEmail(t, name),
		PasswordHash: domain.PasswordHash("$2a$10$" + newID()),
		IsActive:     true,
		Role:         domain.RoleUser,
		CreatedAt:    t0,
		UpdatedAt:    t0.Add(time.Second),
	}
}

func ptr[T any](v T) *T { return &v }

// sameInstant compares at the precision every store keeps (see the package
// comment).
func sameInstant(a, b time.Time) bool {
	return a.Truncate(time.Microsecond).Equal(b.Truncate(time.Microsecond))
}

func sameInstantPtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return sameInstant(*a, *b)
}

func sameString(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func fmtPtr[T any](p *T) any {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// diffUser lists the fields in which got differs from want, comparing times
// with sameInstant; Version is compared too.
func diffUser(got, want domain.User) []string {
	var d []string
	add := func(field string, g, w any) { d = append(d, field+": got "+fmtAny(g)+", want "+fmtAny(w)) }
	if got.ID != want.ID {
		add("ID", got.ID, want.ID)
	}
	if got.Name != want.Name {
		add("Name", got.Name, want.Name)
	}
	if got.Email != want.Email {
		add("Email", string(got.Email), string(want.Email))
	}
	if got.PasswordHash != want.PasswordHash {
		add("PasswordHash", string(got.PasswordHash), string(want.PasswordHash))
	}
	if got.IsActive != want.IsActive {
		add("IsActive", got.IsActive, want.IsActive)
	}
	if got.Role != want.Role {
		add("Role", got.Role, want.Role)
	}
	for _, f := range []struct {
		name      string
		got, want *string
	}{
		{"Profile.FirstName", got.Profile.FirstName, want.Profile.FirstName},
		{"Profile.LastName", got.Profile.LastName, want.Profile.LastName},
		{"Profile.PhoneNumber", got.Profile.PhoneNumber, want.Profile.PhoneNumber},
		{"Profile.Address", got.Profile.Address, want.Profile.Address},
	} {
		if !sameString(f.got, f.want) {
			add(f.name, fmtPtr(f.got), fmtPtr(f.want))
		}
	}
	if !sameInstant(got.CreatedAt, want.CreatedAt) {
		add("CreatedAt", got.CreatedAt, want.CreatedAt)
	}
	if !sameInstant(got.UpdatedAt, want.UpdatedAt) {
		add("UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	}
	if got.Version != want.Version {
		add("Version", got.Version, want.Version)
	}
	return d
}

// diffSession is diffUser for sessions.
func diffSession(got, want domain.Session) []string {
	var d []string
	add := func(field string, g, w any) { d = append(d, field+": got "+fmtAny(g)+", want "+fmtAny(w)) }
	if got.ID != want.ID {
		add("ID", got.ID, want.ID)
	}
	if got.UserID != want.UserID {
		add("UserID", got.UserID, want.UserID)
	}
	if !sameInstant(got.CreatedAt, want.CreatedAt) {
		add("CreatedAt", got.CreatedAt, want.CreatedAt)
	}
	if !sameInstant(got.LastUsedAt, want.LastUsedAt) {
		add("LastUsedAt", got.LastUsedAt, want.LastUsedAt)
	}
	if !sameInstant(got.ExpiresAt, want.ExpiresAt) {
		add("ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	}
	if !sameInstantPtr(got.RevokedAt, want.RevokedAt) {
		add("RevokedAt", fmtPtr(got.RevokedAt), fmtPtr(want.RevokedAt))
	}
	if got.UserAgent != want.UserAgent {
		add("UserAgent", got.UserAgent, want.UserAgent)
	}
	if got.IP != want.IP {
		add("IP", got.IP, want.IP)
	}
	if got.Version != want.Version {
		add("Version", got.Version, want.Version)
	}
	return d
}

// diffToken is diffUser for refresh tokens.
func diffToken(got, want domain.RefreshToken) []string {
	var d []string
	add := func(field string, g, w any) { d = append(d, field+": got "+fmtAny(g)+", want "+fmtAny(w)) }
	if !got.Hash.Equal(want.Hash) {
		add("Hash", hex.EncodeToString(got.Hash[:]), hex.EncodeToString(want.Hash[:]))
	}
	if got.SessionID != want.SessionID {
		add("SessionID", got.SessionID, want.SessionID)
	}
	if !sameInstant(got.IssuedAt, want.IssuedAt) {
		add("IssuedAt", got.IssuedAt, want.IssuedAt)
	}
	if !sameInstant(got.ExpiresAt, want.ExpiresAt) {
		add("ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	}
	if !sameInstantPtr(got.RotatedAt, want.RotatedAt) {
		add("RotatedAt", fmtPtr(got.RotatedAt), fmtPtr(want.RotatedAt))
	}
	return d
}

func fmtAny(v any) string {
	switch v := v.(type) {
	case time.Time:
		return v.Format(time.RFC3339Nano)
	case string, domain.UserID, domain.SessionID, domain.Role:
		return fmt.Sprintf("%q", v)
	}
	return fmt.Sprint(v)
}

// unstorableIDs are ids that no row can have but a URL can carry: a NUL
// byte, invalid UTF-8, and both inside something shaped like a UUID.
var unstorableIDs = []string{"\x00", "\xff", "0193f4c2-0000-7000-8000-\x00000000000", "0193f4c2-\xfe"}
