package jwt_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authd/authd/adapters/memory"
	"github.com/authd/authd/domain"
)

// A token verified once is remembered, but the memory changes no verdict:
// it expires with the token, and a token differing in any byte is parsed
// and refused as before.
func TestVerifiedTokensAreRememberedOnlyUntilTheyExpire(t *testing.T) {
	ctx := context.Background()
	clock := memory.NewManualClock(t0)
	i := newIssuer(t, clock)
	tok, err := i.Issue(ctx, claims())
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		got, err := i.Verify(ctx, string(tok))
		if err != nil || got.SessionID != "session-1" || !got.ExpiresAt.Equal(t0.Add(ttl)) {
			t.Fatalf("verify: %+v, %v", got, err)
		}
	}
	s := string(tok)
	tampered := []byte(s) // one character of the signature changed
	if tampered[len(s)-2] == 'A' {
		tampered[len(s)-2] = 'B'
	} else {
		tampered[len(s)-2] = 'A'
	}
	if _, err := i.Verify(ctx, string(tampered)); !errors.Is(err, domain.ErrUnauthenticated) {
		t.Errorf("tampered copy of a remembered token: %v", err)
	}
	clock.Advance(ttl + 4*time.Second) // inside the leeway
	if _, err := i.Verify(ctx, s); err != nil {
		t.Errorf("within the leeway: %v", err)
	}
	clock.Advance(time.Second) // exp + leeway: refused, remembered or not
	if _, err := i.Verify(ctx, s); !errors.Is(err, domain.ErrUnauthenticated) {
		t.Errorf("expired but remembered token accepted: %v", err)
	}
}
