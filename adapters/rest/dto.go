package rest

import (
	"time"

	"github.com/authd/authd/app"
	"github.com/authd/authd/domain"
)

// Response bodies. Each is built field by field from a domain value, so a
// field added to the domain (the password hash, a version) reaches no
// client until someone adds it here.

// userResponse is "the user object" of API.md.
type userResponse struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Email     string          `json:"email"`
	IsActive  bool            `json:"is_active"`
	Role      string          `json:"role"`
	CreatedAt string          `json:"created_at"`
	UpdatedAt string          `json:"updated_at"`
	Profile   profileResponse `json:"profile"`
}

// profileResponse has no omitempty: every field is always present, null
// when not set.
type profileResponse struct {
	FirstName   *string `json:"first_name"`
	LastName    *string `json:"last_name"`
	PhoneNumber *string `json:"phone_number"`
	Address     *string `json:"address"`
}

func newUserResponse(u domain.User) userResponse {
	return userResponse{
		ID:        string(u.ID),
		Name:      u.Name,
		Email:     string(u.Email),
		IsActive:  u.IsActive,
		Role:      string(u.Role),
		CreatedAt: timestamp(u.CreatedAt),
		UpdatedAt: timestamp(u.UpdatedAt),
		Profile: profileResponse{
			FirstName:   u.Profile.FirstName,
			LastName:    u.Profile.LastName,
			PhoneNumber: u.Profile.PhoneNumber,
			Address:     u.Profile.Address,
		},
	}
}

// timestamp formats t as API.md shows: RFC 3339, UTC, whole seconds.
func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// tokensResponse is what login and refresh return; the shape is the
// FastAPI service's (OAuth 2 token response, RFC 6749 §5.1).
type tokensResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
}

func newTokensResponse(t app.Tokens) tokensResponse {
	return tokensResponse{
		// Explicit conversions: both types print as [redacted] by design.
		AccessToken:  string(t.Access),
		RefreshToken: string(t.Refresh),
		TokenType:    "bearer",
		// Whole seconds, rounded down: never promise a token longer life
		// than it has.
		ExpiresIn: int64(t.ExpiresIn / time.Second),
	}
}

// sessionResponse is one item of GET /users/me/sessions. user_agent and ip
// are null when the request that opened the session did not say.
type sessionResponse struct {
	ID         string  `json:"id"`
	CreatedAt  string  `json:"created_at"`
	LastUsedAt string  `json:"last_used_at"`
	ExpiresAt  string  `json:"expires_at"`
	UserAgent  *string `json:"user_agent"`
	IP         *string `json:"ip"`
	Current    bool    `json:"current"`
}

func newSessionResponse(s domain.Session, current domain.SessionID) sessionResponse {
	orNull := func(v string) *string {
		if v == "" {
			return nil
		}
		return &v
	}
	return sessionResponse{
		ID:         string(s.ID),
		CreatedAt:  timestamp(s.CreatedAt),
		LastUsedAt: timestamp(s.LastUsedAt),
		ExpiresAt:  timestamp(s.ExpiresAt),
		UserAgent:  orNull(s.UserAgent),
		IP:         orNull(s.IP),
		Current:    s.ID == current,
	}
}

// userPageResponse is one page of GET /admin/users. NextCursor is null on
// the last page.
type userPageResponse struct {
	Items      []userResponse `json:"items"`
	NextCursor *string        `json:"next_cursor"`
}
