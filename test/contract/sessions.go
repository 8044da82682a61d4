package contract

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
)

// refreshTTL is the sliding lifetime the suite gives sessions and tokens.
const refreshTTL = 7 * 24 * time.Hour

// base is whole microseconds, so that "expires exactly at now" means the
// same instant in every store.
var base = time.Date(2026, 12, 3, 16, 0, 0, 0, time.UTC)

// SessionStore tests every sentence of the ports.SessionStore contract on
// stores built by newStores, one fresh pair per subtest. Sessions belong to
// users (a foreign key in SQL), so the suite creates their owners through the
// UserStore returned with the SessionStore.
func SessionStore(t *testing.T, newStores func(t *testing.T) (ports.SessionStore, ports.UserStore)) {
	run := func(name string, f func(t *testing.T, s ports.SessionStore, users ports.UserStore)) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, users := newStores(t)
			f(t, s, users)
		})
	}

	run("CreateThenByID", func(t *testing.T, s ports.SessionStore, users ports.UserStore) {
		uid := mustCreateUser(t, users, "ada")
		sess, tok := newSession(uid, t0)
		// Every time field different, so swapped columns show.
		sess.LastUsedAt = t0.Add(time.Minute)
		tok.IssuedAt = t0.Add(2 * time.Second)
		tok.ExpiresAt = t0.Add(refreshTTL - time.Second)
		mustCreateSession(t, s, sess, tok)

		want := sess
		want.Version = 1
		assertSession(t, "ByID", mustSession(t, s, sess.ID), want)

		// The first refresh token is stored with the session: Exchange finds
		// it and shows both as stored.
		stop := errors.New("only looking")
		_, err := s.Exchange(t.Context(), tok.Hash, func(gs *domain.Session, gt *domain.RefreshToken) (*domain.RefreshToken, error) {
			assertSession(t, "session given to fn", *gs, want)
			assertToken(t, "token given to fn", *gt, tok)
			return nil, stop
		})
		if !errors.Is(err, stop) {
			t.Fatalf("Exchange = %v, want fn's error", err)
		}
	})

	run("ByIDUnknown", func(t *testing.T, s ports.SessionStore, users ports.UserStore) {
		createSession(t, s, mustCreateUser(t, users, "ada"), base)
		_, err := s.ByID(t.Context(), domain.SessionID(newID()))
		assertIs(t, "ByID of an unknown id", err, domain.ErrNotFound)
	})

	run("ListLiveNewestFirstOnlyLiveOnlyTheUsers", func(t *testing.T, s ports.SessionStore, users ports.UserStore) {
		ada, grace := mustCreateUser(t, users, "ada"), mustCreateUser(t, users, "grace")
		now := base.Add(time.Hour)
		create := func(uid domain.UserID, created, expires time.Time) domain.Session {
			sess, tok := newSession(uid, created)
			sess.ExpiresAt = expires
			mustCreateSession(t, s, sess, tok)
			sess.Version = 1
			return sess
		}
		week := now.Add(refreshTTL)
		oldest := create(ada, base, week)
		justLive := create(ada, base.Add(5*time.Minute), now.Add(time.Microsecond))
		newer := create(ada, base.Add(10*time.Minute), week)
		newest := create(ada, base.Add(20*time.Minute), week)
		create(ada, base.Add(30*time.Minute), now)                   // expires at now: not live
		create(ada, base.Add(40*time.Minute), now.Add(-time.Second)) // expired
		revoked := create(ada, base.Add(50*time.Minute), week)
		mustRevoke(t, s, revoked.ID, base.Add(55*time.Minute))
		// Revoked is revoked, whatever the time it names.
		revokedLater := create(ada, base.Add(51*time.Minute), week)
		mustRevoke(t, s, revokedLater.ID, now.Add(time.Hour))
		graces := create(grace, base.Add(15*time.Minute), week)

		assertSessions(t, "ListLive of ada", mustListLive(t, s, ada, now), []domain.Session{newest, newer, justLive, oldest})
		assertSessions(t, "ListLive of grace", mustListLive(t, s, grace, now), []domain.Session{graces})
		assertSessions(t, "ListLive of a user without sessions", mustListLive(t, s, domain.UserID(newID()), now), nil)
		// The same sessions seen from later: only the long-lived ones remain.
		assertSessions(t, "ListLive of ada a day later", mustListLive(t, s, ada, now.Add(24*time.Hour)), []domain.Session{newest, newer, oldest})
	})

	run("RevokeIsIdempotent", func(t *testing.T, s ports.SessionStore, users ports.UserStore) {
		uid := mustCreateUser(t, users, "ada")
		sess, tok := newSession(uid, base)
		mustCreateSession(t, s, sess, tok)
		first := base.Add(time.Hour)

		got, err := s.Revoke(t.Context(), sess.ID, first)
		if err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		want := sess
		want.RevokedAt = &first
		want.Version = 2
		assertSession(t, "returned by Revoke", got, want)
		assertSession(t, "ByID after Revoke", mustSession(t, s, sess.ID), want)
		assertSessions(t, "ListLive after Revoke", mustListLive(t, s, uid, first), nil)

		got, err = s.Revoke(t.Context(), sess.ID, first.Add(time.Hour))
		if err != nil {
			t.Fatalf("second Revoke: %v", err)
		}
		assertSession(t, "returned by the second Revoke (a no-op)", got, want)
		assertSession(t, "ByID after the second Revoke", mustSession(t, s, sess.ID), want)
	})

	run("RevokeExpired", func(t *testing.T, s ports.SessionStore, users ports.UserStore) {
		sess, tok := newSession(mustCreateUser(t, users, "ada"), base)
		mustCreateSession(t, s, sess, tok)
		at := sess.ExpiresAt.Add(time.Hour)
		got, err := s.Revoke(t.Context(), sess.ID, at)
		if err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		want := sess
		want.RevokedAt = &at
		want.Version = 2
		assertSession(t, "returned by Revoke", got, want)
	})

	run("IDsNoRowCanHaveAreNotFound", func(t *testing.T, s ports.SessionStore, users ports.UserStore) {
		createSession(t, s, mustCreateUser(t, users, "ada"), base)
		for _, id := range unstorableIDs {
			_, err := s.ByID(t.Context(), domain.SessionID(id))
			assertIs(t, fmt.Sprintf("ByID(%q)", id), err, domain.ErrNotFound)
			_, err = s.Revoke(t.Context(), domain.SessionID(id), base)
			assertIs(t, fmt.Sprintf("Revoke(%q)", id), err, domain.ErrNotFound)
			// As a user id: a user no row can have has no sessions.
			if list, err := s.ListLive(t.Context(), domain.UserID(id), base); err != nil || len(list) != 0 {
				t.Fatalf("ListLive(%q) = %v, %v; want none", id, list, err)
			}
			if ids, err := s.RevokeAllOf(t.Context(), domain.UserID(id), "", base); err != nil || len(ids) != 0 {
				t.Fatalf("RevokeAllOf(%q) = %v, %v; want none", id, ids, err)
			}
		}
	})

	run("RevokeUnknown", func(t *testing.T, s ports.SessionStore, users ports.UserStore) {
		createSession(t, s, mustCreateUser(t, users, "ada"), base)
		_, err := s.Revoke(t.Context(), domain.SessionID(newID()), base)
		assertIs(t, "Revoke of an unknown id", err, domain.ErrNotFound)
	})

	run("RevokeAllOf", func(t *testing.T, s ports.SessionStore, users ports.UserStore) {
		ada, grace := mustCreateUser(t, users, "ada"), mustCreateUser(t, users, "grace")
		now := base.Add(time.Hour)
		create := func(uid domain.UserID, created time.Time) domain.Session {
			sess, tok := newSession(uid, created)
			mustCreateSession(t, s, sess, tok)
			sess.Version = 1
			return sess
		}
		live1, live2, kept := create(ada, base), create(ada, base.Add(time.Minute)), create(ada, base.Add(2*time.Minute))
		revoked := create(ada, base.Add(3*time.Minute))
		revokedAt := base.Add(4 * time.Minute)
		mustRevoke(t, s, revoked.ID, revokedAt)
		revoked.RevokedAt, revoked.Version = &revokedAt, 2
		expired := create(ada, now.Add(-refreshTTL-time.Minute))
		graces := create(grace, base)

		ids, err := s.RevokeAllOf(t.Context(), ada, kept.ID, now)
		if err != nil {
			t.Fatalf("RevokeAllOf: %v", err)
		}
		assertIDs(t, "RevokeAllOf keeping one", ids, []domain.SessionID{live1.ID, live2.ID})
		for _, sess := range []domain.Session{live1, live2} {
			sess.RevokedAt, sess.Version = &now, 2
			assertSession(t, "a revoked session", mustSession(t, s, sess.ID), sess)
		}
		// Untouched: the kept one, one already revoked (keeps its first
		// time), one that had expired (was not live), and another user's.
		assertSession(t, "the kept session", mustSession(t, s, kept.ID), kept)
		assertSession(t, "the session revoked before", mustSession(t, s, revoked.ID), revoked)
		assertSession(t, "the expired session", mustSession(t, s, expired.ID), expired)
		assertSession(t, "another user's session", mustSession(t, s, graces.ID), graces)
		assertSessions(t, "ListLive after RevokeAllOf", mustListLive(t, s, ada, now), []domain.Session{kept})

		later := now.Add(time.Minute)
		ids, err = s.RevokeAllOf(t.Context(), ada, "", later)
		if err != nil {
			t.Fatalf("RevokeAllOf keeping none: %v", err)
		}
		assertIDs(t, "RevokeAllOf keeping none", ids, []domain.SessionID{kept.ID})
		kept.RevokedAt, kept.Version = &later, 2
		assertSession(t, "the formerly kept session", mustSession(t, s, kept.ID), kept)

		ids, err = s.RevokeAllOf(t.Context(), ada, "", later)
		if err != nil {
			t.Fatalf("RevokeAllOf with nothing left: %v", err)
		}
		assertIDs(t, "RevokeAllOf with nothing left", ids, nil)
		assertSessions(t, "ListLive of the other user", mustListLive(t, s, grace, later), []domain.Session{graces})
	})

	run("ConcurrentRevokeAllOfRevokesEachOnce", func(t *testing.T, s ports.SessionStore, users ports.UserStore) {
		uid := mustCreateUser(t, users, "ada")
		var want []domain.SessionID
		for i := range 5 {
			sess, tok := newSession(uid, base.Add(time.Duration(i)*time.Minute))
			mustCreateSession(t, s, sess, tok)
			want = append(want, sess.ID)
		}
		now := base.Add(time.Hour)
		got := make([][]domain.SessionID, races)
		errs := make([]error, races)
		raceN(races, func(i int) { got[i], errs[i] = s.RevokeAllOf(t.Context(), uid, "", now) })
		var all []domain.SessionID
		for i := range races {
			if errs[i] != nil {
				t.Errorf("RevokeAllOf %d: %v", i, errs[i])
			}
			all = append(all, got[i]...)
		}
		// Each revoked session is reported by exactly one caller.
		assertIDs(t, "the ids all callers reported together", all, want)
	})

	run("ExchangeUnknown", func(t *testing.T, s ports.SessionStore, users ports.UserStore) {
		createSession(t, s, mustCreateUser(t, users, "ada"), base)
		called := false
		_, err := s.Exchange(t.Context(), domain.NewRefreshSecret().Hash(), func(*domain.Session, *domain.RefreshToken) (*domain.RefreshToken, error) {
			called = true
			return nil, nil
		})
		assertIs(t, "Exchange of an unknown hash", err, domain.ErrNotFound)
		if called {
			t.Fatal("fn was called for an unknown hash")
		}
	})

	run("ExchangeFnErrorWritesNothing", func(t *testing.T, s ports.SessionStore, users ports.UserStore) {
		sess, tok := newSession(mustCreateUser(t, users, "ada"), base)
		mustCreateSession(t, s, sess, tok)
		now := base.Add(time.Hour)
		next := nextToken(now)
		refused := errors.New("refused by fn")
		_, err := s.Exchange(t.Context(), tok.Hash, func(gs *domain.Session, gt *domain.RefreshToken) (*domain.RefreshToken, error) {
			gs.LastUsedAt, gs.ExpiresAt = now, now.Add(refreshTTL)
			gs.Revoke(now)
			gt.RotatedAt = &now
			return &next, refused
		})
		if !errors.Is(err, refused) {
			t.Fatalf("Exchange = %v, want fn's error", err)
		}
		want := sess
		want.Version = 1
		assertSession(t, "ByID after the refused Exchange", mustSession(t, s, sess.ID), want)
		assertToken(t, "the token after the refused Exchange", peekToken(t, s, tok.Hash), tok)
		_, err = s.Exchange(t.Context(), next.Hash, noChange)
		assertIs(t, "Exchange of the token fn returned with its error", err, domain.ErrNotFound)
	})

	run("ExchangeRotates", func(t *testing.T, s ports.SessionStore, users ports.UserStore) {
		sess, tok := newSession(mustCreateUser(t, users, "ada"), base)
		mustCreateSession(t, s, sess, tok)
		now := base.Add(time.Hour)
		next := nextToken(now)
		next.SessionID = "" // the store ties next to the exchanged token's session

		want := sess
		want.LastUsedAt, want.ExpiresAt, want.Version = now, now.Add(refreshTTL), 2
		got, err := s.Exchange(t.Context(), tok.Hash, rotate(t, now, next))
		if err != nil {
			t.Fatalf("Exchange: %v", err)
		}
		assertSession(t, "returned by Exchange", got, want)
		assertSession(t, "ByID after Exchange", mustSession(t, s, sess.ID), want)

		// The old token is marked rotated; presenting it again is reuse.
		rotated := tok
		rotated.RotatedAt = &now
		old := peekToken(t, s, tok.Hash)
		assertToken(t, "the rotated token", old, rotated)
		if d := domain.DecideExchange(want, old, now.Add(time.Minute), 0); d != domain.ExchangeReuse {
			t.Fatalf("DecideExchange on the rotated token = %v, want ExchangeReuse", d)
		}

		// The next token belongs to the session and is current.
		next.SessionID = sess.ID
		assertToken(t, "the next token", peekToken(t, s, next.Hash), next)
		later := now.Add(time.Minute)
		third := nextToken(later)
		want.LastUsedAt, want.ExpiresAt, want.Version = later, later.Add(refreshTTL), 3
		got, err = s.Exchange(t.Context(), next.Hash, rotate(t, later, third))
		if err != nil {
			t.Fatalf("Exchange of the next token: %v", err)
		}
		assertSession(t, "returned by the second Exchange", got, want)
	})

	run("ExchangeStoresWhatFnChanged", func(t *testing.T, s ports.SessionStore, users ports.UserStore) {
		uid := mustCreateUser(t, users, "ada")
		sess, tok := newSession(uid, base)
		mustCreateSession(t, s, sess, tok)
		now := base.Add(time.Hour)
		// The reuse path: fn revokes the session and issues nothing. A token
		// change alone counts as a change too.
		want := sess
		want.LastUsedAt = now
		want.RevokedAt = &now
		want.UserAgent, want.IP = "other-agent/2.0", "2001:db8::1"
		want.Version = 2
		got, err := s.Exchange(t.Context(), tok.Hash, func(gs *domain.Session, gt *domain.RefreshToken) (*domain.RefreshToken, error) {
			gs.LastUsedAt = now
			gs.Revoke(now)
			gs.UserAgent, gs.IP = want.UserAgent, want.IP
			gt.ExpiresAt = now
			return nil, nil
		})
		if err != nil {
			t.Fatalf("Exchange: %v", err)
		}
		assertSession(t, "returned by Exchange", got, want)
		assertSession(t, "ByID after Exchange", mustSession(t, s, sess.ID), want)
		assertSessions(t, "ListLive after Exchange revoked", mustListLive(t, s, uid, now), nil)
		wantTok := tok
		wantTok.ExpiresAt = now
		assertToken(t, "the token", peekToken(t, s, tok.Hash), wantTok)
	})

	run("ConcurrentExchangeOneWins", func(t *testing.T, s ports.SessionStore, users ports.UserStore) {
		sess, tok := newSession(mustCreateUser(t, users, "ada"), base)
		mustCreateSession(t, s, sess, tok)
		now := base.Add(time.Hour)
		refused := errors.New("refused: not current")
		nexts := make([]domain.RefreshToken, races)
		errs := make([]error, races)
		for i := range nexts {
			nexts[i] = nextToken(now)
		}
		raceN(races, func(i int) {
			_, errs[i] = s.Exchange(t.Context(), tok.Hash, func(gs *domain.Session, gt *domain.RefreshToken) (*domain.RefreshToken, error) {
				// With no grace interval only a token never rotated may
				// rotate: a store that lets two fns see it unrotated
				// issues two successors.
				if domain.DecideExchange(*gs, *gt, now, 0) != domain.ExchangeRotate {
					return nil, refused
				}
				gt.RotatedAt = &now
				gs.LastUsedAt, gs.ExpiresAt = now, now.Add(refreshTTL)
				return &nexts[i], nil
			})
		})
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("Exchange %d and %d both rotated the same token", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, refused):
				t.Errorf("Exchange %d: %v, want nil or fn's refusal", i, err)
			}
		}
		if winner < 0 {
			t.Fatal("no Exchange succeeded")
		}
		if got := mustSession(t, s, sess.ID); got.Version != 2 || !sameInstant(got.LastUsedAt, now) {
			t.Errorf("session Version = %d, LastUsedAt = %v; want 2 (one committed change) and %v", got.Version, got.LastUsedAt, now)
		}
		for i, next := range nexts {
			_, err := s.Exchange(t.Context(), next.Hash, noChange)
			if i == winner {
				if !errors.Is(err, errNoChange) {
					t.Errorf("Exchange of the winner's next token = %v, want it found", err)
				}
			} else if !errors.Is(err, domain.ErrNotFound) {
				t.Errorf("Exchange of loser %d's next token = %v, want domain.ErrNotFound", i, err)
			}
		}
	})

	run("ConcurrentExchangesOfOneSessionLoseNothing", func(t *testing.T, s ports.SessionStore, users ports.UserStore) {
		// Two tokens of one session (as after a grace exchange, which issues
		// a pair without rotating), exchanged at once: the session lock
		// makes each fn see the previous one's change.
		sess, a := newSession(mustCreateUser(t, users, "ada"), base)
		mustCreateSession(t, s, sess, a)
		b := nextToken(base)
		_, err := s.Exchange(t.Context(), a.Hash, func(*domain.Session, *domain.RefreshToken) (*domain.RefreshToken, error) {
			return &b, nil
		})
		if err != nil {
			t.Fatalf("Exchange issuing a second token: %v", err)
		}
		errs := make([]error, races)
		raceN(races, func(i int) {
			hash := a.Hash
			if i%2 == 1 {
				hash = b.Hash
			}
			_, errs[i] = s.Exchange(t.Context(), hash, func(gs *domain.Session, _ *domain.RefreshToken) (*domain.RefreshToken, error) {
				gs.UserAgent += fmt.Sprintf("[%d]", i)
				return nil, nil
			})
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("Exchange %d: %v", i, err)
			}
		}
		got := mustSession(t, s, sess.ID)
		if got.Version != races+2 {
			t.Errorf("Version = %d, want %d", got.Version, races+2)
		}
		var missing []int
		for i := range races {
			if !strings.Contains(got.UserAgent, fmt.Sprintf("[%d]", i)) {
				missing = append(missing, i)
			}
		}
		if len(missing) > 0 {
			t.Fatalf("lost the changes of goroutines %v: UserAgent = %q", missing, got.UserAgent)
		}
	})
}

// errNoChange is what noChange returns; seeing it proves the token was found.
var errNoChange = errors.New("contract: looked, changed nothing")

// noChange is an ExchangeFunc that writes nothing.
func noChange(*domain.Session, *domain.RefreshToken) (*domain.RefreshToken, error) {
	return nil, errNoChange
}

// rotate returns an ExchangeFunc that checks the token is current at now and
// rotates it to next, sliding the session as the app does.
func rotate(t *testing.T, now time.Time, next domain.RefreshToken) ports.ExchangeFunc {
	return func(s *domain.Session, tok *domain.RefreshToken) (*domain.RefreshToken, error) {
		if d := domain.DecideExchange(*s, *tok, now, 0); d != domain.ExchangeRotate {
			t.Errorf("DecideExchange = %v, want ExchangeRotate", d)
			return nil, errors.New("not current")
		}
		tok.RotatedAt = &now
		s.LastUsedAt, s.ExpiresAt = now, now.Add(refreshTTL)
		return &next, nil
	}
}

// peekToken returns the stored token with this hash, through an Exchange
// that writes nothing.
func peekToken(t *testing.T, s ports.SessionStore, hash domain.TokenHash) domain.RefreshToken {
	t.Helper()
	var got domain.RefreshToken
	_, err := s.Exchange(t.Context(), hash, func(_ *domain.Session, tok *domain.RefreshToken) (*domain.RefreshToken, error) {
		got = *tok
		if tok.RotatedAt != nil {
			got.RotatedAt = ptr(*tok.RotatedAt)
		}
		return nil, errNoChange
	})
	if !errors.Is(err, errNoChange) {
		t.Fatalf("Exchange to read a token: %v", err)
	}
	return got
}

// newSession returns a live session of uid created at created, with its
// first refresh token.
func newSession(uid domain.UserID, created time.Time) (domain.Session, domain.RefreshToken) {
	s := domain.Session{
		ID:         domain.SessionID(newID()),
		UserID:     uid,
		CreatedAt:  created,
		LastUsedAt: created,
		ExpiresAt:  created.Add(refreshTTL),
		UserAgent:  "contract-test/1.0",
		IP:         "192.0.2.1",
	}
	tok := nextToken(created)
	tok.SessionID = s.ID
	return s, tok
}

// nextToken returns a fresh token issued at now.
func nextToken(now time.Time) domain.RefreshToken {
	return domain.RefreshToken{Hash: domain.NewRefreshSecret().Hash(), IssuedAt: now, ExpiresAt: now.Add(refreshTTL)}
}

func mustCreateUser(t *testing.T, users ports.UserStore, name string) domain.UserID {
	t.Helper()
	u := newUser(t, name)
	mustCreate(t, users, u)
	return u.ID
}

func mustCreateSession(t *testing.T, s ports.SessionStore, sess domain.Session, tok domain.RefreshToken) {
	t.Helper()
	if err := s.Create(t.Context(), sess, tok); err != nil {
		t.Fatalf("Create session %s: %v", sess.ID, err)
	}
}

// createSession stores a fresh session of uid created at created.
func createSession(t *testing.T, s ports.SessionStore, uid domain.UserID, created time.Time) {
	t.Helper()
	sess, tok := newSession(uid, created)
	mustCreateSession(t, s, sess, tok)
}

func mustSession(t *testing.T, s ports.SessionStore, id domain.SessionID) domain.Session {
	t.Helper()
	sess, err := s.ByID(t.Context(), id)
	if err != nil {
		t.Fatalf("ByID %s: %v", id, err)
	}
	return sess
}

func mustRevoke(t *testing.T, s ports.SessionStore, id domain.SessionID, now time.Time) {
	t.Helper()
	if _, err := s.Revoke(t.Context(), id, now); err != nil {
		t.Fatalf("Revoke %s: %v", id, err)
	}
}

func mustListLive(t *testing.T, s ports.SessionStore, uid domain.UserID, now time.Time) []domain.Session {
	t.Helper()
	list, err := s.ListLive(t.Context(), uid, now)
	if err != nil {
		t.Fatalf("ListLive: %v", err)
	}
	return list
}

func assertSession(t *testing.T, what string, got, want domain.Session) {
	t.Helper()
	if d := diffSession(got, want); len(d) > 0 {
		t.Fatalf("%s differs:\n\t%s", what, strings.Join(d, "\n\t"))
	}
}

func assertToken(t *testing.T, what string, got, want domain.RefreshToken) {
	t.Helper()
	if d := diffToken(got, want); len(d) > 0 {
		t.Fatalf("%s differs:\n\t%s", what, strings.Join(d, "\n\t"))
	}
}

// assertSessions compares lists in order, by id first so a wrong order reads
// plainly, then every field.
func assertSessions(t *testing.T, what string, got, want []domain.Session) {
	t.Helper()
	ids := func(l []domain.Session) []domain.SessionID {
		out := make([]domain.SessionID, len(l))
		for i, s := range l {
			out[i] = s.ID
		}
		return out
	}
	if !slices.Equal(ids(got), ids(want)) {
		t.Fatalf("%s: ids %v, want %v", what, ids(got), ids(want))
	}
	for i := range got {
		assertSession(t, fmt.Sprintf("%s[%d]", what, i), got[i], want[i])
	}
}

// assertIDs compares ignoring order; a repeated id counts.
func assertIDs(t *testing.T, what string, got, want []domain.SessionID) {
	t.Helper()
	if g, w := sortedIDs(got), sortedIDs(want); !slices.Equal(g, w) {
		t.Fatalf("%s: %v, want %v", what, g, w)
	}
}
