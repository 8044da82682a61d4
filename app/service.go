// Package app holds the use cases of authd: register, log in, refresh, log
// out, authenticate a bearer token, and (in account.go and admin.go) manage
// the account and its sessions. It depends only on domain and ports; the
// adapters it runs on are chosen in cmd/authd.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
)

// Deps are the ports the service runs on.
type Deps struct {
	Users    ports.UserStore
	Sessions ports.SessionStore
	// Directory lists users for administrators; nil turns listing off.
	Directory ports.UserDirectory
	Hasher    ports.PasswordHasher
	Tokens    ports.TokenIssuer
	// Limiter counts failed logins; it may be nil when Policy turns the
	// login limit off.
	Limiter ports.RateLimiter
	// Credentials remembers recently checked passwords (see
	// CredentialCache); nil turns that off.
	Credentials CredentialCache
	Clock       ports.Clock
	Logger      *slog.Logger
}

// Policy holds the rules that configuration may change.
type Policy struct {
	AccessTTL            time.Duration
	RefreshTTL           time.Duration
	RefreshReuseInterval time.Duration
	// LoginFailuresPerMinute is how many failed logins one account may take
	// from one client address per minute; 0 turns the limit off.
	LoginFailuresPerMinute int
}

// Service runs the use cases. It is safe for concurrent use.
type Service struct {
	Deps
	policy Policy
	// dummyHash is compared against when the email is unknown, so that path
	// costs the same bcrypt work as a wrong password (no user enumeration by
	// timing).
	dummyHash domain.PasswordHash
	// background tracks work that must not slow an answer down (rehashing)
	// but must finish before Close returns.
	background sync.WaitGroup
}

// New checks deps and policy and prepares the dummy hash.
func New(ctx context.Context, d Deps, p Policy) (*Service, error) {
	switch {
	case d.Users == nil, d.Sessions == nil, d.Hasher == nil, d.Tokens == nil, d.Clock == nil:
		return nil, errors.New("app: missing dependency")
	case d.Limiter == nil && p.LoginFailuresPerMinute > 0:
		return nil, errors.New("app: login rate limit needs a limiter")
	case p.AccessTTL <= 0, p.RefreshTTL <= 0, p.RefreshReuseInterval < 0:
		return nil, errors.New("app: token lifetimes must be positive")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Credentials == nil {
		d.Credentials = noCredentialCache{}
	}
	dummy, err := d.Hasher.Hash(ctx, domain.Password(domain.NewRefreshSecret()))
	if err != nil {
		return nil, fmt.Errorf("app: prepare dummy hash: %w", err)
	}
	return &Service{Deps: d, policy: p, dummyHash: dummy}, nil
}

// Close waits for background work (rehashing) to finish.
func (s *Service) Close() { s.background.Wait() }

// Client describes where a request came from; sessions record it.
type Client struct {
	IP        string
	UserAgent string
}

// Tokens is what login and refresh hand out.
type Tokens struct {
	Access    domain.AccessToken
	Refresh   domain.RefreshSecret
	ExpiresIn time.Duration
	SessionID domain.SessionID
}

// Principal is the authenticated caller of a request.
type Principal struct {
	User    domain.User
	Session domain.Session
}

func newID() string {
	// UUIDv7 sorts by creation time, which keeps B-tree inserts local and
	// lets listings page by id.
	return uuid.Must(uuid.NewV7()).String()
}
