package sqlstore_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/authd/authd/adapters/sqlstore"
	"github.com/authd/authd/adapters/sqlstore/sqlstoretest"
	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
	"github.com/authd/authd/test/contract"
)

func TestSessionStore(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		contract.SessionStore(t, func(t *testing.T) (ports.SessionStore, ports.UserStore) {
			db := sqlstoretest.NewDB(t, dialect)
			return sqlstore.NewSessionStore(db), sqlstore.NewUserStore(db)
		})
	})
}

// SQLite keeps times as text whose fraction drops trailing zeros (see the
// SQLite migration); ordering and comparing them in SQL must still follow
// time, across fractions of every length.
func TestTimesOrderAndCompareAcrossFractionLengths(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		db := sqlstoretest.NewDB(t, dialect)
		users, sessions := sqlstore.NewUserStore(db), sqlstore.NewSessionStore(db)
		if err := users.Create(t.Context(), testUser("u1", "ada@example.com")); err != nil {
			t.Fatal(err)
		}
		base := time.Date(2026, 12, 3, 16, 0, 0, 0, time.UTC)
		offsets := []time.Duration{ // creation times, shuffled
			500 * time.Millisecond, time.Microsecond, 0, 999999 * time.Microsecond,
			120 * time.Millisecond, time.Second, 50 * time.Microsecond, 5 * time.Millisecond,
		}
		now := base.Add(time.Hour)
		for i, off := range offsets {
			created := base.Add(off)
			// Each expires a fraction after now, except the one at exactly
			// now, which is no longer live.
			expires := now.Add(off)
			tok := domain.RefreshToken{Hash: domain.NewRefreshSecret().Hash(), IssuedAt: created, ExpiresAt: expires}
			sess := domain.Session{ID: domain.SessionID(fmt.Sprintf("s%d", i)), UserID: "u1", CreatedAt: created, LastUsedAt: created, ExpiresAt: expires}
			if err := sessions.Create(t.Context(), sess, tok); err != nil {
				t.Fatal(err)
			}
		}
		list, err := sessions.ListLive(t.Context(), "u1", now)
		if err != nil {
			t.Fatal(err)
		}
		var got []time.Duration
		for _, s := range list {
			got = append(got, s.CreatedAt.Sub(base))
		}
		want := slices.Clone(offsets)
		slices.Sort(want)
		slices.Reverse(want)
		want = want[:len(want)-1] // offset 0 expires at now
		if !slices.Equal(got, want) {
			t.Fatalf("ListLive creation offsets = %v, want %v", got, want)
		}
		// Just below a microsecond past now, only the sessions expiring
		// later than that are live.
		list, err = sessions.ListLive(t.Context(), "u1", now.Add(999*time.Nanosecond))
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != len(want) {
			t.Fatalf("ListLive just under a microsecond later: %d sessions, want %d", len(list), len(want))
		}
		list, err = sessions.ListLive(t.Context(), "u1", now.Add(time.Microsecond))
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != len(want)-1 {
			t.Fatalf("ListLive a microsecond later: %d sessions, want %d", len(list), len(want)-1)
		}
	})
}
