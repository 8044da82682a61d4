package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/domain"
)

// RegisterInput is a new account as the client sent it.
type RegisterInput struct {
	Name     string
	Email    string
	Password string
}

// Register creates an active account with role user. It returns a
// *domain.ValidationError listing every bad field, or domain.ErrEmailTaken.
func (s *Service) Register(ctx context.Context, in RegisterInput) (domain.User, error) {
	v := &domain.ValidationError{}
	name, err := domain.ParseName(in.Name)
	v.Merge("", err)
	email, err := domain.ParseEmail(in.Email)
	v.Merge("", err)
	pw, err := domain.ParsePassword("password", in.Password)
	v.Merge("", err)
	if err := v.Err(); err != nil {
		return domain.User{}, err
	}
	// Hashing is the expensive part; a taken email is only found after it,
	// by the store's unique index, which is the one check that holds under
	// concurrent registrations.
	hash, err := s.Hasher.Hash(ctx, pw)
	if err != nil {
		return domain.User{}, fmt.Errorf("register: %w", err)
	}
	now := s.Clock.Now()
	u := domain.User{
		ID: domain.UserID(newID()), Name: name, Email: email, PasswordHash: hash,
		IsActive: true, Role: domain.RoleUser, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.Users.Create(ctx, u); err != nil {
		return domain.User{}, fmt.Errorf("register: %w", err)
	}
	u.Version = 1
	s.Logger.InfoContext(ctx, "user registered", "user_id", u.ID, "email", u.Email)
	return u, nil
}

// LoginInput is a login attempt.
type LoginInput struct {
	Email    string
	Password string
	Client   Client
}

// Login checks the password and opens a session. An unknown email and a
// wrong password both return domain.ErrInvalidCredentials after the same
// bcrypt work. Too many failures for one account from one address return a
// *domain.RetryError wrapping domain.ErrRateLimited, even for the right
// password, until the window has passed. A correct password on an inactive
// account returns domain.ErrAccountInactive.
func (s *Service) Login(ctx context.Context, in LoginInput) (Tokens, error) {
	// A malformed email cannot belong to anyone; it takes the unknown-email
	// path so the answer does not say which it was.
	email, err := domain.ParseEmail(in.Email)
	pw := domain.Password(in.Password)
	limitKey := "login:" + truncate(strings.ToLower(strings.TrimSpace(in.Email)), 254) + "|" + limitAddress(in.Client.IP)
	att, limitErr := s.beginAttempt(ctx, limitKey)
	if limitErr != nil {
		return Tokens{}, limitErr
	}
	defer att.settle(ctx)
	// Every login path hashes (the unknown email against the dummy hash),
	// so a hasher that will refuse can say so before the database is read.
	if a, ok := s.Hasher.(admitter); ok {
		if err := a.Admit(); err != nil {
			return Tokens{}, err
		}
	}

	var u domain.User
	if err == nil {
		u, err = s.Users.ByEmail(ctx, email)
	}
	var invalid *domain.ValidationError
	switch {
	case errors.Is(err, domain.ErrNotFound), errors.As(err, &invalid):
		err = s.Hasher.Compare(ctx, s.dummyHash, pw)
		if err == nil || errors.Is(err, domain.ErrInvalidCredentials) {
			s.loginFailed(ctx, att, "", email)
			return Tokens{}, domain.ErrInvalidCredentials
		}
		return Tokens{}, fmt.Errorf("login: %w", err)
	case err != nil:
		return Tokens{}, fmt.Errorf("login: %w", err)
	}
	if err := s.checkPassword(ctx, u, pw); err != nil {
		if errors.Is(err, domain.ErrInvalidCredentials) {
			s.loginFailed(ctx, att, u.ID, email)
			return Tokens{}, domain.ErrInvalidCredentials
		}
		return Tokens{}, fmt.Errorf("login: %w", err)
	}
	if !u.IsActive {
		return Tokens{}, domain.ErrAccountInactive
	}
	if s.Hasher.NeedsRehash(u.PasswordHash) {
		s.rehashLater(ctx, u, pw)
	}
	t, err := s.openSession(ctx, u, in.Client)
	if err != nil {
		return Tokens{}, fmt.Errorf("login: %w", err)
	}
	if err := s.stillActive(ctx, u.ID, t.SessionID); err != nil {
		return Tokens{}, err
	}
	s.Logger.InfoContext(ctx, "login", "user_id", u.ID, "session_id", t.SessionID)
	return t, nil
}

// attempt is one password check (a login, or the current password of a
// change) counted against the failure limit before the password is
// checked. Counting after a failure instead lets every guess of a burst
// past a check that none of them has failed yet: with a limit of 10, 200
// concurrent guesses all reached bcrypt. Only failures are meant to
// count, so settle takes the hit back unless the attempt failed.
type attempt struct {
	s       *Service
	key     string
	counted bool
	failed  bool
}

// beginAttempt counts an attempt on key. Past the limit (failures so far,
// attempts in flight and this one) it returns a *domain.RetryError
// wrapping domain.ErrRateLimited; the refused attempt stays counted.
func (s *Service) beginAttempt(ctx context.Context, key string) (*attempt, error) {
	a := &attempt{s: s, key: key}
	if s.policy.LoginFailuresPerMinute <= 0 {
		return a, nil
	}
	w, err := s.Limiter.Hit(ctx, key, time.Minute)
	if err != nil {
		// The limiter adapters fall back to process memory themselves; an
		// error here means even that failed, and refusing every login would
		// turn a limiter fault into an outage.
		s.Logger.WarnContext(ctx, "login limiter unavailable", "err", err)
		return a, nil
	}
	if w.Count > int64(s.policy.LoginFailuresPerMinute) {
		return nil, &domain.RetryError{Err: domain.ErrRateLimited, RetryAfter: w.ResetIn}
	}
	a.counted = true
	return a, nil
}

// settle takes back the attempt's hit unless it failed: a success, an
// inactive account or a refusal for load is no guess to count. It runs
// even when the client has gone.
func (a *attempt) settle(ctx context.Context) {
	if !a.counted || a.failed {
		return
	}
	if err := a.s.Limiter.Undo(context.WithoutCancel(ctx), a.key); err != nil {
		a.s.Logger.WarnContext(ctx, "login limiter unavailable", "err", err)
	}
}

func (s *Service) loginFailed(ctx context.Context, a *attempt, id domain.UserID, email domain.Email) {
	s.Logger.InfoContext(ctx, "login failed", "user_id", id, "email", email)
	a.failed = true
}

// rehashLater replaces a hash made with weaker settings, after the answer
// has gone out: the login already paid for one bcrypt run.
func (s *Service) rehashLater(ctx context.Context, u domain.User, pw domain.Password) {
	ctx = context.WithoutCancel(ctx)
	s.background.Go(func() {
		hash, err := s.Hasher.Hash(ctx, pw)
		if err != nil {
			s.Logger.WarnContext(ctx, "rehash failed", "user_id", u.ID, "err", err)
			return
		}
		_, err = s.Users.Update(ctx, u.ID, func(cur *domain.User) error {
			// Only if the password is still the one just checked: a
			// password change in between must win.
			if cur.PasswordHash != u.PasswordHash {
				return errRehashStale
			}
			cur.PasswordHash = hash
			return nil
		})
		switch {
		case err == nil:
			s.Logger.InfoContext(ctx, "password rehashed", "user_id", u.ID)
		case !errors.Is(err, errRehashStale):
			s.Logger.WarnContext(ctx, "rehash failed", "user_id", u.ID, "err", err)
		}
	})
}

var errRehashStale = errors.New("password changed since login")

// admitter is an optional capability of a PasswordHasher with bounded
// capacity (adapters/hashpool): it can tell, before any other work, that a
// hash asked for now would be refused.
type admitter interface{ Admit() error }

// stillActive reads the account again after a login made session sid. A
// deactivation landing while the password was checked revokes every
// session but one made after it, which a later reactivation would bring
// back to life; looking again after making the session closes that gap,
// whichever order the two land in. A session it refuses is revoked.
func (s *Service) stillActive(ctx context.Context, id domain.UserID, sid domain.SessionID) error {
	u, err := s.Users.ByID(ctx, id)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return domain.ErrInvalidCredentials // deleted meanwhile, its sessions with it
	case err == nil && u.IsActive:
		return nil
	}
	if _, rerr := s.Sessions.Revoke(context.WithoutCancel(ctx), sid, s.Clock.Now()); rerr != nil {
		err = errors.Join(err, rerr)
	}
	if err != nil {
		return fmt.Errorf("login: recheck account: %w", err)
	}
	return domain.ErrAccountInactive
}

func (s *Service) openSession(ctx context.Context, u domain.User, c Client) (Tokens, error) {
	now := s.Clock.Now()
	secret := domain.NewRefreshSecret()
	sess := domain.Session{
		ID: domain.SessionID(newID()), UserID: u.ID,
		CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(s.policy.RefreshTTL),
		UserAgent: truncate(c.UserAgent, 512), IP: c.IP,
	}
	tok := domain.RefreshToken{Hash: secret.Hash(), SessionID: sess.ID, IssuedAt: now, ExpiresAt: sess.ExpiresAt}
	if err := s.Sessions.Create(ctx, sess, tok); err != nil {
		return Tokens{}, err
	}
	return s.issue(ctx, u, sess.ID, secret, now)
}

func (s *Service) issue(ctx context.Context, u domain.User, sid domain.SessionID, refresh domain.RefreshSecret, now time.Time) (Tokens, error) {
	access, err := s.Tokens.Issue(ctx, domain.AccessClaims{
		UserID: u.ID, SessionID: sid, Role: u.Role, TokenID: uuid.NewString(),
		IssuedAt: now, ExpiresAt: now.Add(s.policy.AccessTTL),
	})
	if err != nil {
		return Tokens{}, err
	}
	return Tokens{Access: access, Refresh: refresh, ExpiresIn: s.policy.AccessTTL, SessionID: sid}, nil
}

// Refresh exchanges a refresh token for a new pair and rotates it. An
// unknown, expired or revoked token returns domain.ErrUnauthenticated. A
// token that was already rotated is exchanged again within the reuse
// interval (two tabs refreshing at once); past it, the reuse suggests a
// stolen token, so the whole session is revoked and the answer is
// domain.ErrUnauthenticated.
func (s *Service) Refresh(ctx context.Context, presented string) (Tokens, error) {
	if presented == "" {
		return Tokens{}, domain.ErrUnauthenticated
	}
	now := s.Clock.Now()
	next := domain.NewRefreshSecret()
	var decision domain.Exchange
	sess, err := s.Sessions.Exchange(ctx, domain.RefreshSecret(presented).Hash(),
		func(sess *domain.Session, t *domain.RefreshToken) (*domain.RefreshToken, error) {
			decision = domain.DecideExchange(*sess, *t, now, s.policy.RefreshReuseInterval)
			switch decision {
			case domain.ExchangeRefuse:
				return nil, domain.ErrUnauthenticated
			case domain.ExchangeReuse:
				sess.Revoke(now)
				return nil, nil
			case domain.ExchangeRotate:
				t.RotatedAt = &now
			}
			sess.LastUsedAt = now
			sess.ExpiresAt = now.Add(s.policy.RefreshTTL)
			return &domain.RefreshToken{Hash: next.Hash(), SessionID: sess.ID, IssuedAt: now, ExpiresAt: sess.ExpiresAt}, nil
		})
	switch {
	case errors.Is(err, domain.ErrNotFound), errors.Is(err, domain.ErrUnauthenticated):
		return Tokens{}, domain.ErrUnauthenticated
	case err != nil:
		return Tokens{}, fmt.Errorf("refresh: %w", err)
	case decision == domain.ExchangeReuse:
		s.Logger.WarnContext(ctx, "refresh token reused after rotation; session revoked",
			"user_id", sess.UserID, "session_id", sess.ID)
		return Tokens{}, domain.ErrUnauthenticated
	}
	u, err := s.Users.ByID(ctx, sess.UserID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return Tokens{}, domain.ErrUnauthenticated
	case err != nil:
		return Tokens{}, fmt.Errorf("refresh: %w", err)
	case !u.IsActive:
		// Deactivation revokes sessions; one that slipped through (a race
		// with it) is revoked here, so the rotation just stored cannot later
		// look like token theft if the account is reactivated.
		if _, err := s.Sessions.Revoke(ctx, sess.ID, now); err != nil {
			return Tokens{}, fmt.Errorf("refresh: %w", err)
		}
		return Tokens{}, domain.ErrAccountInactive
	}
	return s.issue(ctx, u, sess.ID, next, now)
}

// Authenticate checks a bearer access token and that its session is still
// live, and returns the caller as stored now: a role change or deactivation
// takes effect on the next request, not at token expiry. Failures return
// domain.ErrUnauthenticated, or domain.ErrAccountInactive for a deactivated
// account.
func (s *Service) Authenticate(ctx context.Context, bearer string) (Principal, error) {
	claims, err := s.Tokens.Verify(ctx, bearer)
	if err != nil {
		return Principal{}, domain.ErrUnauthenticated
	}
	sess, err := s.Sessions.ByID(ctx, claims.SessionID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return Principal{}, domain.ErrUnauthenticated
	case err != nil:
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	case !sess.Live(s.Clock.Now()) || sess.UserID != claims.UserID:
		return Principal{}, domain.ErrUnauthenticated
	}
	u, err := s.Users.ByID(ctx, claims.UserID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return Principal{}, domain.ErrUnauthenticated
	case err != nil:
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	case !u.IsActive:
		return Principal{}, domain.ErrAccountInactive
	}
	return Principal{User: u, Session: sess}, nil
}

// Logout revokes the caller's session: its access and refresh tokens stop
// working at once.
func (s *Service) Logout(ctx context.Context, p Principal) error {
	if _, err := s.Sessions.Revoke(ctx, p.Session.ID, s.Clock.Now()); err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	s.Logger.InfoContext(ctx, "logout", slog.String("user_id", string(p.User.ID)), slog.String("session_id", string(p.Session.ID)))
	return nil
}

// limitAddress is the part of a client address that rate limits count: an
// IPv6 client usually holds a whole /64, so counting single addresses would
// let it walk around the limit.
func limitAddress(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil || !addr.Unmap().Is6() {
		return ip
	}
	p, _ := addr.Prefix(64)
	return p.String()
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}
