package api

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/authd/authd/adapters/jwt"
	"github.com/authd/authd/domain"
)

// claimsOf decodes a token's payload without checking anything.
func claimsOf(t *testing.T, token string) gojwt.MapClaims {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", token)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c gojwt.MapClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func sign(t *testing.T, method gojwt.SigningMethod, claims gojwt.MapClaims, key any) string {
	t.Helper()
	s, err := gojwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Every way a bearer token can be wrong is a 401 with a Bearer challenge;
// each forged token carries the claims of a live session, so only the
// forgery itself can be what is refused.
func TestBadBearerTokens(t *testing.T) {
	ts := newTestServer(t)
	_, tk := ts.account(t, "ada@example.com")
	claims := claimsOf(t, tk.AccessToken)

	otherKey := make([]byte, 32)
	_, _ = rand.Read(otherKey)
	otherIssuer, err := jwt.NewIssuer(jwt.Options{Secret: otherKey, Issuer: issuer, Audience: audience, TTL: 15 * time.Minute, Clock: ts.Clock})
	if err != nil {
		t.Fatal(err)
	}
	byOtherKey, err := otherIssuer.Issue(t.Context(), domain.AccessClaims{
		UserID: domain.UserID(claims["sub"].(string)), SessionID: domain.SessionID(claims["sid"].(string)),
		Role: domain.RoleUser, TokenID: "forged",
	})
	if err != nil {
		t.Fatal(err)
	}
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		strings.Split(tk.AccessToken, ".")[1] + "."
	hs512 := sign(t, gojwt.SigningMethodHS512, claims, ts.Secret)
	// Sanity: the same claims, signed the right way, pass. Without this the
	// rows below could fail for a reason other than their forgery.
	ts.me(t, sign(t, gojwt.SigningMethodHS256, claims, ts.Secret)).want(t, http.StatusOK)

	otherAudience := gojwt.MapClaims{}
	for k, v := range claims {
		otherAudience[k] = v
	}
	otherAudience["aud"] = "someone-else"

	tests := []struct {
		name          string
		authorization string
		challenge     string
	}{
		{"missing header", "", "Bearer"},
		{"basic", "Basic " + base64.StdEncoding.EncodeToString([]byte("ada@example.com:correct horse battery")), "Bearer"},
		{"scheme only", "Bearer", "Bearer"},
		{"garbage", "Bearer garbage", `Bearer error="invalid_token"`},
		{"signed by another key", "Bearer " + string(byOtherKey), `Bearer error="invalid_token"`},
		{"alg none", "Bearer " + none, `Bearer error="invalid_token"`},
		{"HS512 with the same secret", "Bearer " + hs512, `Bearer error="invalid_token"`},
		{"wrong audience", "Bearer " + sign(t, gojwt.SigningMethodHS256, otherAudience, ts.Secret), `Bearer error="invalid_token"`},
		{"the refresh token", "Bearer " + tk.RefreshToken, `Bearer error="invalid_token"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range []string{"/auth/me", "/users/me"} {
				r := ts.do(t, "GET", path, nil, "Authorization", tt.authorization).want(t, http.StatusUnauthorized)
				if got := r.Header.Get("WWW-Authenticate"); got != tt.challenge {
					t.Errorf("%s: WWW-Authenticate %q, want %q", path, got, tt.challenge)
				}
			}
			ts.do(t, "POST", "/auth/logout", nil, "Authorization", tt.authorization).want(t, http.StatusUnauthorized)
		})
	}
	// None of that harmed the real session.
	ts.me(t, tk.AccessToken).want(t, http.StatusOK)
}

func TestExpiredAccessToken(t *testing.T) {
	ts := newTestServer(t)
	_, tk := ts.account(t, "ada@example.com")
	ts.Clock.Advance(14 * time.Minute)
	ts.me(t, tk.AccessToken).want(t, http.StatusOK)
	ts.Clock.Advance(2 * time.Minute) // 16 minutes: past the 15-minute lifetime and any leeway
	r := ts.me(t, tk.AccessToken).want(t, http.StatusUnauthorized)
	if got := r.Header.Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
		t.Errorf("WWW-Authenticate %q", got)
	}
	// The session outlives its access token: a refresh gets a working one.
	var next tokens
	ts.refresh(t, tk.RefreshToken).want(t, http.StatusOK).decode(t, &next)
	ts.me(t, next.AccessToken).want(t, http.StatusOK)
}
