package domain

import "time"

// AccessClaims is what an access token says about its bearer. The issuer adds
// iss and aud and checks them on the way back in.
type AccessClaims struct {
	UserID    UserID
	SessionID SessionID
	Role      Role
	TokenID   string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// AccessToken is a signed JWT; it never prints.
type AccessToken string

func (AccessToken) String() string { return "[redacted]" }
