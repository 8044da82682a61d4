// Package jwt issues and verifies access tokens as HS256-signed JWTs
// (github.com/golang-jwt/jwt/v5).
package jwt

import (
	"context"
	"errors"
	"fmt"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
)

var _ ports.TokenIssuer = (*Issuer)(nil)

const (
	// MinSecretLen is the shortest accepted HS256 key: RFC 7518 §3.2 asks
	// for a key at least as long as the hash output (256 bits).
	MinSecretLen = 32

	// Leeway is the clock skew tolerated on exp and iat, for when several
	// instances sign and verify on slightly different clocks. It is small
	// next to the access-token lifetime (minutes), and revocation does not
	// depend on it: every token's sid is checked against a live session.
	Leeway = 5 * time.Second

	// maxTokenLen bounds the work a garbage Authorization header can cause;
	// our tokens are about 400 bytes.
	maxTokenLen = 4096
)

// Options configures an Issuer. Secret, Issuer, Audience and TTL are
// required.
type Options struct {
	// Secret is the HS256 key, at least MinSecretLen bytes. It is copied.
	Secret []byte
	// Issuer and Audience are written into every token ("iss", "aud") and
	// required on every token verified.
	Issuer, Audience string
	// TTL is the lifetime given to a token whose claims have no ExpiresAt.
	TTL time.Duration
	// Clock tells the time for iat defaults and for verification; nil means
	// the system clock.
	Clock ports.Clock
}

// Issuer implements ports.TokenIssuer with HS256 only. Pinning the
// algorithm closes the classic JWT holes: "alg": "none" and tokens signed
// with some other algorithm and key are refused before the key is used.
// An Issuer is safe for concurrent use.
type Issuer struct {
	secret   []byte
	issuer   string
	audience string
	ttl      time.Duration
	clock    ports.Clock
	parser   *gojwt.Parser
	verified *verified
}

// NewIssuer checks opts and returns an Issuer. It returns an error when the
// secret is shorter than MinSecretLen, Issuer or Audience is empty, or TTL
// is not positive.
func NewIssuer(opts Options) (*Issuer, error) {
	var errs []error
	if len(opts.Secret) < MinSecretLen {
		errs = append(errs, fmt.Errorf("secret must be at least %d bytes, got %d", MinSecretLen, len(opts.Secret)))
	}
	if opts.Issuer == "" {
		errs = append(errs, errors.New("issuer must not be empty"))
	}
	if opts.Audience == "" {
		errs = append(errs, errors.New("audience must not be empty"))
	}
	if opts.TTL <= 0 {
		errs = append(errs, fmt.Errorf("ttl must be positive, got %s", opts.TTL))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("jwt: new issuer: %w", err)
	}
	clock := opts.Clock
	if clock == nil {
		clock = ports.ClockFunc(time.Now)
	}
	return &Issuer{
		secret:   append([]byte(nil), opts.Secret...),
		issuer:   opts.Issuer,
		audience: opts.Audience,
		ttl:      opts.TTL,
		clock:    clock,
		verified: newVerified(),
		// A Parser holds only its options, so one is shared by all calls.
		parser: gojwt.NewParser(
			gojwt.WithValidMethods([]string{gojwt.SigningMethodHS256.Alg()}),
			gojwt.WithIssuer(opts.Issuer),
			gojwt.WithAudience(opts.Audience),
			gojwt.WithExpirationRequired(),
			gojwt.WithIssuedAt(),
			gojwt.WithLeeway(Leeway),
			gojwt.WithTimeFunc(clock.Now),
		),
	}, nil
}

// issuedClaims is the payload Issue writes. Its own type, rather than
// gojwt.RegisteredClaims, so that "aud" is a single string without touching
// the library's global MarshalSingleStringAsArray.
type issuedClaims struct {
	Issuer    string             `json:"iss"`
	Subject   string             `json:"sub"`
	Audience  string             `json:"aud"`
	ExpiresAt *gojwt.NumericDate `json:"exp"`
	IssuedAt  *gojwt.NumericDate `json:"iat"`
	ID        string             `json:"jti"`
	SessionID string             `json:"sid"`
	Role      string             `json:"role"`
}

func (c issuedClaims) GetExpirationTime() (*gojwt.NumericDate, error) { return c.ExpiresAt, nil }
func (c issuedClaims) GetIssuedAt() (*gojwt.NumericDate, error)       { return c.IssuedAt, nil }
func (c issuedClaims) GetNotBefore() (*gojwt.NumericDate, error)      { return nil, nil }
func (c issuedClaims) GetIssuer() (string, error)                     { return c.Issuer, nil }
func (c issuedClaims) GetSubject() (string, error)                    { return c.Subject, nil }
func (c issuedClaims) GetAudience() (gojwt.ClaimStrings, error) {
	return gojwt.ClaimStrings{c.Audience}, nil
}

// verifiedClaims is what Verify reads. RegisteredClaims accepts "aud" as a
// string or an array, as RFC 7519 allows.
type verifiedClaims struct {
	gojwt.RegisteredClaims
	SessionID string `json:"sid"`
	Role      string `json:"role"`
}

// Issue signs c with iss and aud added. c.UserID, c.SessionID and c.TokenID
// (a random id the caller makes; it becomes "jti") must be non-empty and
// c.Role valid. A zero c.IssuedAt means now on the issuer's clock; a zero
// c.ExpiresAt means IssuedAt plus the issuer's TTL, so callers that want
// the configured lifetime leave it zero. JWT times are whole seconds, so
// Verify returns both truncated to the second, in UTC. Signing takes
// microseconds; ctx is not consulted.
func (i *Issuer) Issue(_ context.Context, c domain.AccessClaims) (domain.AccessToken, error) {
	var errs []error
	if c.UserID == "" {
		errs = append(errs, errors.New("empty user id"))
	}
	if c.SessionID == "" {
		errs = append(errs, errors.New("empty session id"))
	}
	if c.TokenID == "" {
		errs = append(errs, errors.New("empty token id"))
	}
	if !c.Role.Valid() {
		errs = append(errs, fmt.Errorf("invalid role %q", c.Role))
	}
	iat := c.IssuedAt
	if iat.IsZero() {
		iat = i.clock.Now()
	}
	exp := c.ExpiresAt
	if exp.IsZero() {
		exp = iat.Add(i.ttl)
	}
	if !exp.After(iat) {
		errs = append(errs, fmt.Errorf("expiry %s not after issue time %s", exp, iat))
	}
	if err := errors.Join(errs...); err != nil {
		return "", fmt.Errorf("jwt: issue: %w", err)
	}
	tok := gojwt.NewWithClaims(gojwt.SigningMethodHS256, issuedClaims{
		Issuer:    i.issuer,
		Subject:   string(c.UserID),
		Audience:  i.audience,
		ExpiresAt: gojwt.NewNumericDate(exp),
		IssuedAt:  gojwt.NewNumericDate(iat),
		ID:        c.TokenID,
		SessionID: string(c.SessionID),
		Role:      string(c.Role),
	})
	s, err := tok.SignedString(i.secret)
	if err != nil {
		return "", fmt.Errorf("jwt: issue: %w", err)
	}
	return domain.AccessToken(s), nil
}

// Verify checks token and returns its claims. It accepts only HS256 tokens
// signed with the issuer's secret, carrying this issuer's iss and aud, an
// exp not yet past and an iat not in the future (each within Leeway), and
// non-empty sub, sid and jti and a valid role. Every failure wraps
// domain.ErrUnauthenticated (and, where the parser found it, one of gojwt's
// sentinel errors such as gojwt.ErrTokenExpired, for logs); the error text
// is for logs, never for clients. Verify does not know whether the session
// is still live: the caller checks sid. ctx is not consulted.
func (i *Issuer) Verify(_ context.Context, token string) (domain.AccessClaims, error) {
	if token == "" {
		return domain.AccessClaims{}, fmt.Errorf("jwt: verify: %w: empty token", domain.ErrUnauthenticated)
	}
	if len(token) > maxTokenLen {
		return domain.AccessClaims{}, fmt.Errorf("jwt: verify: %w: token of %d bytes", domain.ErrUnauthenticated, len(token))
	}
	now, key := i.clock.Now(), keyOf(token)
	if claims, ok := i.verified.get(key, now); ok {
		return claims, nil
	}
	var c verifiedClaims
	_, err := i.parser.ParseWithClaims(token, &c, i.key)
	if err != nil {
		return domain.AccessClaims{}, fmt.Errorf("jwt: verify: %w: %w", domain.ErrUnauthenticated, err)
	}
	var missing []error
	for _, f := range []struct{ name, value string }{
		{"sub", c.Subject}, {"sid", c.SessionID}, {"jti", c.ID},
	} {
		if f.value == "" {
			missing = append(missing, fmt.Errorf("claim %s missing", f.name))
		}
	}
	if c.IssuedAt == nil {
		// WithIssuedAt only checks iat when present; every token we issue has one.
		missing = append(missing, errors.New("claim iat missing"))
	}
	if !domain.Role(c.Role).Valid() {
		missing = append(missing, fmt.Errorf("claim role %q invalid", c.Role))
	}
	if err := errors.Join(missing...); err != nil {
		return domain.AccessClaims{}, fmt.Errorf("jwt: verify: %w: %w", domain.ErrUnauthenticated, err)
	}
	claims := domain.AccessClaims{
		UserID:    domain.UserID(c.Subject),
		SessionID: domain.SessionID(c.SessionID),
		Role:      domain.Role(c.Role),
		TokenID:   c.ID,
		IssuedAt:  c.IssuedAt.UTC(),
		ExpiresAt: c.ExpiresAt.UTC(),
	}
	i.verified.put(key, claims, claims.ExpiresAt.Add(Leeway), now)
	return claims, nil
}

// key hands the parser the secret. The parser has already refused any
// algorithm but HS256 (WithValidMethods); the check here keeps that true
// should the options ever change, since handing an HMAC secret to another
// algorithm is how algorithm-confusion attacks work.
func (i *Issuer) key(t *gojwt.Token) (any, error) {
	if t.Method != gojwt.SigningMethodHS256 {
		return nil, fmt.Errorf("unexpected signing method %v", t.Header["alg"])
	}
	return i.secret, nil
}
