package domain_test

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/domain"
)

func TestParseEmail(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"ada@example.com", "ada@example.com", true},
		{"  Ada@Example.COM ", "ada@example.com", true},
		{"a.b+tag@sub.example.org", "a.b+tag@sub.example.org", true},
		{"", "", false},
		{"ada", "", false},
		{"ada@localhost", "", false},
		{"Ada <ada@example.com>", "", false},
		{"ada@exa\tmple.com", "", false},
		{"ada@example.com\n", "ada@example.com", true}, // trimmed like any surrounding space
		{"a\x00da@example.com", "", false},
		{strings.Repeat("a", 250) + "@example.com", "", false},
	} {
		got, err := domain.ParseEmail(c.in)
		if c.ok != (err == nil) || string(got) != c.want {
			t.Errorf("ParseEmail(%q) = %q, %v; want %q ok=%v", c.in, got, err, c.want, c.ok)
		}
		var ve *domain.ValidationError
		if err != nil && (!errors.As(err, &ve) || ve.Problems[0].Field != "email") {
			t.Errorf("ParseEmail(%q) error %v is not a problem on email", c.in, err)
		}
	}
}

func TestParseName(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"Ada Lovelace", true}, {"  Al  ", true}, {"Zoë", true},
		{"A", false}, {"   ", false}, {" A ", false}, {strings.Repeat("é", 100), true},
		{strings.Repeat("é", 101), false}, {"Ada\u0007", false}, {"\xff\xfe", false},
		// Blank for all its length; and text that reorders itself.
		{"\u200b\u200b", false}, {" \u200b\u2060\u200b ", false}, {"\u0301\u0301", false},
		{"\u202enimda", false}, {"Ada \u2066Lovelace\u2069", false},
		// Format characters that real names and emoji use.
		{"\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", true}, {"Ada \U0001F469\u200d\U0001F4BB", true},
	} {
		if _, err := domain.ParseName(c.in); c.ok != (err == nil) {
			t.Errorf("ParseName(%q) = %v, want ok=%v", c.in, err, c.ok)
		}
	}
}

func TestParsePassword(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"strongpass123", true}, {"12345678", true}, {strings.Repeat("ü", 128), true},
		{"1234567", false}, {strings.Repeat("a", 129), false}, {" leading1", false},
		{"trailing1 ", false}, {"tab\tinside", false}, {"inner space ok", true},
	} {
		_, err := domain.ParsePassword("password", c.in)
		if c.ok != (err == nil) {
			t.Errorf("ParsePassword(%q) = %v, want ok=%v", c.in, err, c.ok)
		}
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	pw := domain.Password("hunter2hunter2")
	secret := domain.NewRefreshSecret()
	var b strings.Builder
	log := slog.New(slog.NewJSONHandler(&b, nil))
	log.Info("x", "pw", pw, "refresh", secret, "hash", domain.PasswordHash("$2a$10$abc"), "email", domain.Email("ada@example.com"))
	fmt.Fprintf(&b, "%v %+v %#v %s %v", pw, pw, pw, secret, domain.AccessToken("eyJ.x.y"))
	for _, leak := range []string{"hunter2", string(secret), "$2a$10$abc", "ada@example.com", "eyJ"} {
		if strings.Contains(b.String(), leak) {
			t.Errorf("%q leaked into %s", leak, b.String())
		}
	}
	if !strings.Contains(b.String(), "a***@example.com") {
		t.Errorf("masked email missing from %s", b.String())
	}
}

func TestRefreshSecretsAreRandomAndHashesCompare(t *testing.T) {
	a, b := domain.NewRefreshSecret(), domain.NewRefreshSecret()
	if a == b || len(a) != 43 {
		t.Fatalf("secrets %q %q", a, b)
	}
	if !a.Hash().Equal(a.Hash()) || a.Hash().Equal(b.Hash()) {
		t.Fatal("hash equality wrong")
	}
}

func TestDecideExchange(t *testing.T) {
	now := time.Date(2026, 12, 3, 16, 0, 0, 0, time.UTC)
	live := domain.Session{ExpiresAt: now.Add(time.Hour)}
	revoked := live
	revoked.Revoke(now.Add(-time.Minute))
	token := domain.RefreshToken{ExpiresAt: now.Add(time.Hour)}
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	rotated := func(ago time.Duration) domain.RefreshToken { t := token; t.RotatedAt = at(-ago); return t }
	expired := token
	expired.ExpiresAt = now

	for _, c := range []struct {
		name  string
		s     domain.Session
		t     domain.RefreshToken
		grace time.Duration
		want  domain.Exchange
	}{
		{"current token", live, token, 10 * time.Second, domain.ExchangeRotate},
		{"rotated within grace", live, rotated(10 * time.Second), 10 * time.Second, domain.ExchangeGrace},
		{"rotated past grace", live, rotated(11 * time.Second), 10 * time.Second, domain.ExchangeReuse},
		{"rotated, no grace", live, rotated(0), 0, domain.ExchangeReuse},
		{"revoked session", revoked, token, 10 * time.Second, domain.ExchangeRefuse},
		{"revoked session, rotated token", revoked, rotated(time.Hour), 10 * time.Second, domain.ExchangeRefuse},
		{"expired token", live, expired, 10 * time.Second, domain.ExchangeRefuse},
		{"expired session", domain.Session{ExpiresAt: now}, token, 10 * time.Second, domain.ExchangeRefuse},
	} {
		if got := domain.DecideExchange(c.s, c.t, now, c.grace); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	first := *revoked.RevokedAt
	revoked.Revoke(now)
	if !revoked.RevokedAt.Equal(first) {
		t.Error("revoking twice moved RevokedAt")
	}
}

func TestValidationErrorCollects(t *testing.T) {
	v := &domain.ValidationError{}
	if v.Err() != nil {
		t.Fatal("empty ValidationError is an error")
	}
	_, err := domain.ParseName("")
	v.Merge("profile.", err)
	v.Add("email", "bad")
	if err := v.Err(); err == nil || len(v.Problems) != 2 || v.Problems[0].Field != "profile.name" {
		t.Fatalf("collected %+v", v.Problems)
	}
}
