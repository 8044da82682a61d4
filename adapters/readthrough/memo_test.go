package readthrough

import (
	"context"
	"testing"
	"time"

	"github.com/authd/authd/adapters/memory"
	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
)

// The memo may only save decoding: a changed entry must be decoded afresh,
// and what one caller does to its copy must not reach the next caller.
func TestMemoNeverServesAnythingTheCacheDoesNotHold(t *testing.T) {
	ctx := context.Background()
	clock := ports.ClockFunc(time.Now)
	inner := memory.NewUserStore()
	store := NewUserStore(inner, memory.NewCache(100, clock), Options{TTL: time.Minute})
	phone := "+44 20 7946 0000"
	u := domain.User{ID: "u1", Name: "Ada Lovelace", Email: "ada@example.com", IsActive: true, Role: domain.RoleUser,
		Profile: domain.Profile{PhoneNumber: &phone}}
	if err := store.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	first, err := store.ByID(ctx, "u1") // miss: fills the cache
	if err != nil {
		t.Fatal(err)
	}
	second, _ := store.ByID(ctx, "u1") // hit: decoded and memoised
	*second.Profile.PhoneNumber = "changed by a caller"
	third, _ := store.ByID(ctx, "u1") // hit: from the memo
	if *third.Profile.PhoneNumber != phone || *first.Profile.PhoneNumber != phone {
		t.Fatalf("a caller's change reached the memo: %q", *third.Profile.PhoneNumber)
	}
	if _, err := store.Update(ctx, "u1", func(u *domain.User) error { u.Name = "Grace Hopper"; return nil }); err != nil {
		t.Fatal(err)
	}
	if got, _ := store.ByID(ctx, "u1"); got.Name != "Grace Hopper" {
		t.Fatalf("after an update the memo answered %q", got.Name)
	}
	if err := store.Delete(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.ByID(ctx, "u1"); err != domain.ErrNotFound {
		t.Fatalf("after delete: %v", err)
	}
}

func TestMemoStartsOverWhenFull(t *testing.T) {
	m := newMemo(func(s string) string { return s })
	m.max = 2
	dec := func(b []byte) (string, error) { return string(b), nil }
	for _, k := range []string{"a", "b", "c"} {
		if v, _ := m.decode(k, []byte(k+"!"), dec); v != k+"!" {
			t.Fatalf("decode %s = %s", k, v)
		}
	}
	if len(m.m) > 2 {
		t.Fatalf("memo holds %d entries, bound 2", len(m.m))
	}
}
