package jwt_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/authd/authd/adapters/jwt"
	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
)

var (
	t0     = time.Date(2026, 12, 3, 16, 0, 0, 0, time.UTC)
	secret = []byte("0123456789abcdef0123456789abcdef") // exactly 32 bytes
)

const ttl = 15 * time.Minute

func clockAt(t time.Time) ports.Clock { return ports.ClockFunc(func() time.Time { return t }) }

func newIssuer(t testing.TB, clock ports.Clock) *jwt.Issuer {
	t.Helper()
	i, err := jwt.NewIssuer(jwt.Options{Secret: secret, Issuer: "authd", Audience: "authd", TTL: ttl, Clock: clock})
	if err != nil {
		t.Fatalf("NewIssuer: %v", err)
	}
	return i
}

func claims() domain.AccessClaims {
	return domain.AccessClaims{UserID: "user-1", SessionID: "session-1", Role: domain.RoleUser, TokenID: "token-1"}
}

// payload is what a correct token issued at t0 carries; rows change it.
func payload() gojwt.MapClaims {
	return gojwt.MapClaims{
		"iss": "authd", "aud": "authd", "sub": "user-1", "sid": "session-1", "role": "user",
		"jti": "token-1", "iat": t0.Unix(), "exp": t0.Add(ttl).Unix(),
	}
}

func with(change func(gojwt.MapClaims)) gojwt.MapClaims {
	p := payload()
	change(p)
	return p
}

func sign(t testing.TB, m gojwt.SigningMethod, key any, p gojwt.MapClaims) string {
	t.Helper()
	s, err := gojwt.NewWithClaims(m, p).SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

func b64(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestVerifyAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		token func(t *testing.T) string
		now   time.Time
		want  domain.AccessClaims
	}{
		{
			name: "issued with zero times gets now and TTL",
			token: func(t *testing.T) string {
				s, err := newIssuer(t, clockAt(t0)).Issue(context.Background(), claims())
				if err != nil {
					t.Fatal(err)
				}
				return string(s)
			},
			now:  t0,
			want: domain.AccessClaims{UserID: "user-1", SessionID: "session-1", Role: domain.RoleUser, TokenID: "token-1", IssuedAt: t0, ExpiresAt: t0.Add(ttl)},
		},
		{
			name: "explicit times are kept, truncated to the second",
			token: func(t *testing.T) string {
				c := claims()
				c.Role = domain.RoleAdmin
				c.IssuedAt = t0.Add(-time.Minute + 300*time.Millisecond)
				c.ExpiresAt = t0.Add(time.Hour + 700*time.Millisecond)
				s, err := newIssuer(t, clockAt(t0)).Issue(context.Background(), c)
				if err != nil {
					t.Fatal(err)
				}
				return string(s)
			},
			now:  t0,
			want: domain.AccessClaims{UserID: "user-1", SessionID: "session-1", Role: domain.RoleAdmin, TokenID: "token-1", IssuedAt: t0.Add(-time.Minute), ExpiresAt: t0.Add(time.Hour)},
		},
		{
			name:  "exp passed but within leeway",
			token: func(t *testing.T) string { return sign(t, gojwt.SigningMethodHS256, secret, payload()) },
			now:   t0.Add(ttl + jwt.Leeway - time.Second),
			want:  domain.AccessClaims{UserID: "user-1", SessionID: "session-1", Role: domain.RoleUser, TokenID: "token-1", IssuedAt: t0, ExpiresAt: t0.Add(ttl)},
		},
		{
			name:  "iat ahead of our clock but within leeway",
			token: func(t *testing.T) string { return sign(t, gojwt.SigningMethodHS256, secret, payload()) },
			now:   t0.Add(-jwt.Leeway + time.Second),
			want:  domain.AccessClaims{UserID: "user-1", SessionID: "session-1", Role: domain.RoleUser, TokenID: "token-1", IssuedAt: t0, ExpiresAt: t0.Add(ttl)},
		},
		{
			name: "aud as an array that holds ours",
			token: func(t *testing.T) string {
				return sign(t, gojwt.SigningMethodHS256, secret, with(func(p gojwt.MapClaims) { p["aud"] = []string{"other", "authd"} }))
			},
			now:  t0,
			want: domain.AccessClaims{UserID: "user-1", SessionID: "session-1", Role: domain.RoleUser, TokenID: "token-1", IssuedAt: t0, ExpiresAt: t0.Add(ttl)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := newIssuer(t, clockAt(tc.now)).Verify(context.Background(), tc.token(t))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got != tc.want {
				t.Fatalf("Verify = %+v,\nwant     %+v", got, tc.want)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherSecret := []byte("another-secret-of-32-bytes-or-more!!")
	hs256 := func(p gojwt.MapClaims) func(t *testing.T) string {
		return func(t *testing.T) string { return sign(t, gojwt.SigningMethodHS256, secret, p) }
	}
	good := func(t *testing.T) string { return sign(t, gojwt.SigningMethodHS256, secret, payload()) }

	tests := []struct {
		name  string
		token func(t *testing.T) string
		now   time.Time // zero: t0
		// also is, when set, is a gojwt sentinel the error must match too,
		// showing the token failed for the reason the row is about.
		also error
	}{
		{name: "expired", token: good, now: t0.Add(ttl + jwt.Leeway + time.Second), also: gojwt.ErrTokenExpired},
		{name: "expired exactly at leeway", token: good, now: t0.Add(ttl + jwt.Leeway), also: gojwt.ErrTokenExpired},
		{name: "iat in the future", token: good, now: t0.Add(-jwt.Leeway - time.Second), also: gojwt.ErrTokenUsedBeforeIssued},
		{name: "nbf in the future", token: hs256(with(func(p gojwt.MapClaims) { p["nbf"] = t0.Add(time.Minute).Unix() })), also: gojwt.ErrTokenNotValidYet},
		{name: "wrong issuer", token: hs256(with(func(p gojwt.MapClaims) { p["iss"] = "someone-else" })), also: gojwt.ErrTokenInvalidIssuer},
		{name: "missing issuer", token: hs256(with(func(p gojwt.MapClaims) { delete(p, "iss") })), also: gojwt.ErrTokenRequiredClaimMissing},
		{name: "wrong audience", token: hs256(with(func(p gojwt.MapClaims) { p["aud"] = "another-service" })), also: gojwt.ErrTokenInvalidAudience},
		{name: "audience array without ours", token: hs256(with(func(p gojwt.MapClaims) { p["aud"] = []string{"a", "b"} })), also: gojwt.ErrTokenInvalidAudience},
		{name: "missing audience", token: hs256(with(func(p gojwt.MapClaims) { delete(p, "aud") })), also: gojwt.ErrTokenRequiredClaimMissing},
		{name: "signed with another key", token: func(t *testing.T) string {
			return sign(t, gojwt.SigningMethodHS256, otherSecret, payload())
		}, also: gojwt.ErrTokenSignatureInvalid},
		{name: "alg none, built by hand", token: func(t *testing.T) string {
			return b64(t, map[string]string{"alg": "none", "typ": "JWT"}) + "." + b64(t, payload()) + "."
		}},
		{name: "alg none, signed by the library", token: func(t *testing.T) string {
			return sign(t, gojwt.SigningMethodNone, gojwt.UnsafeAllowNoneSignatureType, payload())
		}, also: gojwt.ErrTokenSignatureInvalid},
		{name: "alg None in other case", token: func(t *testing.T) string {
			return b64(t, map[string]string{"alg": "None", "typ": "JWT"}) + "." + b64(t, payload()) + "."
		}},
		{name: "HS256 header, no signature", token: func(t *testing.T) string {
			s := sign(t, gojwt.SigningMethodHS256, secret, payload())
			return s[:strings.LastIndexByte(s, '.')+1]
		}, also: gojwt.ErrTokenSignatureInvalid},
		{name: "HS384 with the same secret", token: func(t *testing.T) string {
			return sign(t, gojwt.SigningMethodHS384, secret, payload())
		}, also: gojwt.ErrTokenSignatureInvalid},
		{name: "HS512 with the same secret", token: func(t *testing.T) string {
			return sign(t, gojwt.SigningMethodHS512, secret, payload())
		}, also: gojwt.ErrTokenSignatureInvalid},
		{name: "RS256", token: func(t *testing.T) string {
			return sign(t, gojwt.SigningMethodRS256, rsaKey, payload())
		}, also: gojwt.ErrTokenSignatureInvalid},
		{name: "ES256", token: func(t *testing.T) string {
			return sign(t, gojwt.SigningMethodES256, ecKey, payload())
		}, also: gojwt.ErrTokenSignatureInvalid},
		{name: "EdDSA", token: func(t *testing.T) string {
			return sign(t, gojwt.SigningMethodEdDSA, edKey, payload())
		}, also: gojwt.ErrTokenSignatureInvalid},
		{name: "tampered payload", token: func(t *testing.T) string {
			parts := strings.Split(sign(t, gojwt.SigningMethodHS256, secret, payload()), ".")
			parts[1] = b64(t, with(func(p gojwt.MapClaims) { p["role"] = "admin" }))
			return strings.Join(parts, ".")
		}, also: gojwt.ErrTokenSignatureInvalid},
		{name: "tampered signature", token: func(t *testing.T) string {
			s := []byte(sign(t, gojwt.SigningMethodHS256, secret, payload()))
			s[len(s)-5] ^= 1
			return string(s)
		}},
		{name: "missing sid", token: hs256(with(func(p gojwt.MapClaims) { delete(p, "sid") }))},
		{name: "empty sid", token: hs256(with(func(p gojwt.MapClaims) { p["sid"] = "" }))},
		{name: "missing sub", token: hs256(with(func(p gojwt.MapClaims) { delete(p, "sub") }))},
		{name: "missing jti", token: hs256(with(func(p gojwt.MapClaims) { delete(p, "jti") }))},
		{name: "missing role", token: hs256(with(func(p gojwt.MapClaims) { delete(p, "role") }))},
		{name: "unknown role", token: hs256(with(func(p gojwt.MapClaims) { p["role"] = "superuser" }))},
		{name: "role of the wrong type", token: hs256(with(func(p gojwt.MapClaims) { p["role"] = 1 })), also: gojwt.ErrTokenMalformed},
		{name: "missing exp", token: hs256(with(func(p gojwt.MapClaims) { delete(p, "exp") })), also: gojwt.ErrTokenRequiredClaimMissing},
		{name: "exp as a string", token: hs256(with(func(p gojwt.MapClaims) { p["exp"] = "tomorrow" })), also: gojwt.ErrTokenMalformed},
		{name: "missing iat", token: hs256(with(func(p gojwt.MapClaims) { delete(p, "iat") }))},
		{name: "empty string", token: func(*testing.T) string { return "" }},
		{name: "garbage", token: func(*testing.T) string { return "garbage" }},
		{name: "three empty segments", token: func(*testing.T) string { return ".." }},
		{name: "three garbage segments", token: func(*testing.T) string { return "a.b.c" }},
		{name: "not base64", token: func(*testing.T) string { return "!!!.???.***" }},
		{name: "four segments", token: func(t *testing.T) string { return good(t) + ".extra" }},
		{name: "with Bearer prefix", token: func(t *testing.T) string { return "Bearer " + good(t) }},
		{name: "trailing space", token: func(t *testing.T) string { return good(t) + " " }},
		{name: "header not JSON", token: func(t *testing.T) string {
			parts := strings.Split(good(t), ".")
			parts[0] = base64.RawURLEncoding.EncodeToString([]byte("not json"))
			return strings.Join(parts, ".")
		}, also: gojwt.ErrTokenMalformed},
		{name: "oversized", token: func(t *testing.T) string {
			return sign(t, gojwt.SigningMethodHS256, secret, with(func(p gojwt.MapClaims) { p["pad"] = strings.Repeat("x", 8192) }))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			now := tc.now
			if now.IsZero() {
				now = t0
			}
			got, err := newIssuer(t, clockAt(now)).Verify(context.Background(), tc.token(t))
			if !errors.Is(err, domain.ErrUnauthenticated) {
				t.Fatalf("Verify = %+v, %v; want an error wrapping ErrUnauthenticated", got, err)
			}
			if tc.also != nil && !errors.Is(err, tc.also) {
				t.Errorf("Verify error %q does not wrap %q", err, tc.also)
			}
			if got != (domain.AccessClaims{}) {
				t.Errorf("Verify returned claims %+v with its error", got)
			}
		})
	}
}

// TestIssuedPayload checks the wire form other services and clients see.
func TestIssuedPayload(t *testing.T) {
	t.Parallel()
	tok, err := newIssuer(t, clockAt(t0)).Issue(context.Background(), claims())
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(tok), ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments", len(parts))
	}
	var header, body map[string]any
	for i, dst := range []*map[string]any{&header, &body} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatal(err)
		}
	}
	if header["alg"] != "HS256" {
		t.Errorf("alg = %v", header["alg"])
	}
	want := map[string]any{
		"iss": "authd", "aud": "authd", "sub": "user-1", "sid": "session-1", "role": "user",
		"jti": "token-1", "iat": float64(t0.Unix()), "exp": float64(t0.Add(ttl).Unix()),
	}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("%s = %#v, want %#v", k, body[k], v)
		}
	}
	if len(body) != len(want) {
		t.Errorf("payload %v has claims beyond %v", body, want)
	}
}

func TestIssueRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*domain.AccessClaims)
	}{
		{"empty user id", func(c *domain.AccessClaims) { c.UserID = "" }},
		{"empty session id", func(c *domain.AccessClaims) { c.SessionID = "" }},
		{"empty token id", func(c *domain.AccessClaims) { c.TokenID = "" }},
		{"empty role", func(c *domain.AccessClaims) { c.Role = "" }},
		{"unknown role", func(c *domain.AccessClaims) { c.Role = "root" }},
		{"expiry before issue", func(c *domain.AccessClaims) { c.IssuedAt = t0; c.ExpiresAt = t0.Add(-time.Second) }},
		{"expiry equal to issue", func(c *domain.AccessClaims) { c.IssuedAt = t0; c.ExpiresAt = t0 }},
	}
	i := newIssuer(t, clockAt(t0))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := claims()
			tc.change(&c)
			if tok, err := i.Issue(context.Background(), c); err == nil {
				t.Fatalf("Issue = %q, want an error", tok)
			}
		})
	}
}

func TestNewIssuerRejects(t *testing.T) {
	t.Parallel()
	valid := jwt.Options{Secret: secret, Issuer: "authd", Audience: "authd", TTL: ttl}
	tests := []struct {
		name   string
		change func(*jwt.Options)
	}{
		{"secret of 31 bytes", func(o *jwt.Options) { o.Secret = secret[:31] }},
		{"no secret", func(o *jwt.Options) { o.Secret = nil }},
		{"empty issuer", func(o *jwt.Options) { o.Issuer = "" }},
		{"empty audience", func(o *jwt.Options) { o.Audience = "" }},
		{"zero TTL", func(o *jwt.Options) { o.TTL = 0 }},
		{"negative TTL", func(o *jwt.Options) { o.TTL = -time.Minute }},
	}
	if _, err := jwt.NewIssuer(valid); err != nil {
		t.Fatalf("NewIssuer(valid) = %v", err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := valid
			tc.change(&o)
			if _, err := jwt.NewIssuer(o); err == nil {
				t.Fatal("NewIssuer succeeded")
			}
		})
	}
}

func TestSecretIsCopied(t *testing.T) {
	t.Parallel()
	key := append([]byte(nil), secret...)
	i, err := jwt.NewIssuer(jwt.Options{Secret: key, Issuer: "authd", Audience: "authd", TTL: ttl, Clock: clockAt(t0)})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := i.Issue(context.Background(), claims())
	if err != nil {
		t.Fatal(err)
	}
	clear(key)
	if _, err := i.Verify(context.Background(), string(tok)); err != nil {
		t.Fatalf("Verify after the caller reused its slice: %v", err)
	}
}

// TestIssuerAndAudienceArePinned: two services sharing a secret must not
// accept each other's tokens.
func TestIssuerAndAudienceArePinned(t *testing.T) {
	t.Parallel()
	other, err := jwt.NewIssuer(jwt.Options{Secret: secret, Issuer: "authd", Audience: "billing", TTL: ttl, Clock: clockAt(t0)})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := other.Issue(context.Background(), claims())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newIssuer(t, clockAt(t0)).Verify(context.Background(), string(tok)); !errors.Is(err, domain.ErrUnauthenticated) {
		t.Fatalf("Verify of a token for another audience = %v", err)
	}
}

func TestNilClockUsesSystemTime(t *testing.T) {
	t.Parallel()
	i, err := jwt.NewIssuer(jwt.Options{Secret: secret, Issuer: "authd", Audience: "authd", TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().Truncate(time.Second)
	tok, err := i.Issue(context.Background(), claims())
	if err != nil {
		t.Fatal(err)
	}
	got, err := i.Verify(context.Background(), string(tok))
	if err != nil {
		t.Fatal(err)
	}
	if got.IssuedAt.Before(before) || got.ExpiresAt.Sub(got.IssuedAt) != ttl {
		t.Fatalf("iat %v, exp %v; issued after %v with TTL %v", got.IssuedAt, got.ExpiresAt, before, ttl)
	}
}

func BenchmarkIssue(b *testing.B) {
	i := newIssuer(b, clockAt(t0))
	ctx := context.Background()
	for b.Loop() {
		if _, err := i.Issue(ctx, claims()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	i := newIssuer(b, clockAt(t0))
	ctx := context.Background()
	tok, err := i.Issue(ctx, claims())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := i.Verify(ctx, string(tok)); err != nil {
			b.Fatal(err)
		}
	}
}
