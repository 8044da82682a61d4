package memory_test

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/adapters/memory"
	"github.com/authd/authd/domain"
)

const (
	ada     = domain.UserID("ada")
	grace   = domain.UserID("grace")
	adaHash = domain.PasswordHash("$2a$10$ada")
	adaPw   = domain.Password("strongpass123")
)

func newCredentials(t *testing.T, ttl time.Duration, size int) (*memory.CredentialCache, *memory.ManualClock) {
	t.Helper()
	clock := memory.NewManualClock(time.Date(2026, 12, 3, 16, 0, 0, 0, time.UTC))
	return memory.NewCredentialCache(ttl, size, clock), clock
}

func TestCredentialCacheVerifiesOnlyWhatWasRemembered(t *testing.T) {
	c, _ := newCredentials(t, time.Minute, 10)
	if c.Verified(ada, adaHash, adaPw) {
		t.Fatal("verified before anything was remembered")
	}
	c.Remember(ada, adaHash, adaPw)
	if !c.Verified(ada, adaHash, adaPw) {
		t.Fatal("not verified right after Remember")
	}
	cases := []struct {
		name string
		id   domain.UserID
		hash domain.PasswordHash
		pw   domain.Password
	}{
		{"wrong password", ada, adaHash, "wrongpass123"},
		{"password differing in case", ada, adaHash, "Strongpass123"},
		{"password with a suffix", ada, adaHash, adaPw + "x"},
		{"another user's id", grace, adaHash, adaPw},
		{"changed stored hash", ada, "$2a$10$new", adaPw},
		// Fields are length-prefixed: moving bytes from one field to the next
		// does not give the same MAC.
		{"shifted boundary", ada, adaHash + "s", "trongpass123"},
		{"empty password", ada, adaHash, ""},
	}
	for _, tc := range cases {
		if c.Verified(tc.id, tc.hash, tc.pw) {
			t.Errorf("%s: verified", tc.name)
		}
	}
	// A failed check does not drop the right entry.
	if !c.Verified(ada, adaHash, adaPw) {
		t.Error("the right password stopped verifying after wrong ones")
	}
}

func TestCredentialCacheRememberReplacesTheUsersEntry(t *testing.T) {
	c, _ := newCredentials(t, time.Minute, 10)
	c.Remember(ada, adaHash, adaPw)
	c.Remember(ada, "$2a$10$new", "newpass12345")
	if c.Verified(ada, adaHash, adaPw) {
		t.Error("the old password still verifies after a new one was remembered")
	}
	if !c.Verified(ada, "$2a$10$new", "newpass12345") {
		t.Error("the new password does not verify")
	}
	if c.Len() != 1 {
		t.Errorf("Len = %d, want one entry per user", c.Len())
	}
}

func TestCredentialCacheExpiresAfterTTL(t *testing.T) {
	c, clock := newCredentials(t, time.Minute, 10)
	c.Remember(ada, adaHash, adaPw)
	clock.Advance(time.Minute - time.Nanosecond)
	if !c.Verified(ada, adaHash, adaPw) {
		t.Fatal("expired before its ttl")
	}
	clock.Advance(time.Nanosecond)
	if c.Verified(ada, adaHash, adaPw) {
		t.Fatal("verified at its ttl")
	}
	if c.Len() != 0 {
		t.Errorf("Len = %d: an expired entry that was looked up stays", c.Len())
	}
}

func TestCredentialCacheHitsDoNotExtendTheTTL(t *testing.T) {
	c, clock := newCredentials(t, time.Minute, 10)
	c.Remember(ada, adaHash, adaPw)
	for range 3 {
		clock.Advance(20 * time.Second)
		c.Verified(ada, adaHash, adaPw)
	}
	if c.Verified(ada, adaHash, adaPw) {
		t.Fatal("lookups kept the entry alive past its ttl: bcrypt would never run again")
	}
}

func TestCredentialCacheForget(t *testing.T) {
	c, _ := newCredentials(t, time.Minute, 10)
	c.Remember(ada, adaHash, adaPw)
	c.Remember(grace, "$2a$10$grace", "gracepass123")
	c.Forget(ada)
	c.Forget("nobody") // no-op
	if c.Verified(ada, adaHash, adaPw) {
		t.Error("verified after Forget")
	}
	if !c.Verified(grace, "$2a$10$grace", "gracepass123") {
		t.Error("Forget(ada) dropped grace")
	}
}

func TestCredentialCacheStaysWithinItsSize(t *testing.T) {
	c, clock := newCredentials(t, time.Minute, 3)
	id := func(i int) domain.UserID { return domain.UserID("u" + strconv.Itoa(i)) }
	for i := range 5 {
		c.Remember(id(i), adaHash, adaPw)
		clock.Advance(time.Second)
		if c.Len() > 3 {
			t.Fatalf("Len = %d after %d entries, bound is 3", c.Len(), i+1)
		}
	}
	// The oldest went first.
	for i, want := range []bool{false, false, true, true, true} {
		if got := c.Verified(id(i), adaHash, adaPw); got != want {
			t.Errorf("u%d verified = %v, want %v", i, got, want)
		}
	}
	// Re-remembering a user makes it the newest again.
	c.Remember(id(2), adaHash, adaPw)
	c.Remember(id(5), adaHash, adaPw)
	if !c.Verified(id(2), adaHash, adaPw) || c.Verified(id(3), adaHash, adaPw) {
		t.Error("eviction did not follow age")
	}
}

func TestCredentialCacheDropsExpiredEntriesBeforeEvicting(t *testing.T) {
	c, clock := newCredentials(t, time.Minute, 2)
	c.Remember(ada, adaHash, adaPw)
	clock.Advance(time.Minute)
	c.Remember(grace, "$2a$10$grace", "gracepass123")
	if c.Len() != 1 {
		t.Errorf("Len = %d, want the expired entry gone", c.Len())
	}
}

func TestCredentialCacheKeysArePerProcess(t *testing.T) {
	// Two caches stand for two processes: what one remembered the other
	// cannot verify, because each has its own random key.
	a, _ := newCredentials(t, time.Minute, 10)
	b, _ := newCredentials(t, time.Minute, 10)
	a.Remember(ada, adaHash, adaPw)
	if b.Verified(ada, adaHash, adaPw) {
		t.Fatal("a cache verified what another remembered")
	}
}

func TestCredentialCacheDoesNotPrint(t *testing.T) {
	c, _ := newCredentials(t, time.Minute, 10)
	c.Remember(ada, adaHash, adaPw)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(verb, c); !strings.Contains(out, "redacted") || strings.Contains(out, "ada") {
			t.Errorf("%s printed %q", verb, out)
		}
	}
}

func TestCredentialCacheRejectsAnOffConfiguration(t *testing.T) {
	for _, tc := range []struct {
		ttl  time.Duration
		size int
	}{{0, 10}, {time.Minute, 0}, {-time.Second, 10}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewCredentialCache(%v, %d) did not panic", tc.ttl, tc.size)
				}
			}()
			memory.NewCredentialCache(tc.ttl, tc.size, memory.NewManualClock(time.Now()))
		}()
	}
}

func TestCredentialCacheConcurrentUse(t *testing.T) {
	c, clock := newCredentials(t, time.Minute, 8)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			id := domain.UserID("u" + strconv.Itoa(g))
			for i := range 200 {
				c.Remember(id, adaHash, adaPw)
				if i%7 == 0 {
					clock.Advance(time.Second)
				}
				c.Verified(id, adaHash, adaPw)
				if i%11 == 0 {
					c.Forget(id)
				}
			}
		})
	}
	wg.Wait()
	if c.Len() > 8 {
		t.Errorf("Len = %d over the bound", c.Len())
	}
}
