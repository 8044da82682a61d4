package redis

import (
	"context"
	"errors"
	"testing"
	"time"
)

// The lazy deadline must behave as context.WithTimeout would to anyone who
// looks: a deadline, expiry, the parent's cancellation, and cancellation
// after release.

func TestLazyDeadlineExpires(t *testing.T) {
	ctx := withLazyDeadline(t.Context(), 20*time.Millisecond)
	defer ctx.release()
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > 20*time.Millisecond || time.Until(d) < 0 {
		t.Fatalf("Deadline() = %v, %v", d, ok)
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done never closed after the deadline")
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err() = %v, want DeadlineExceeded", ctx.Err())
	}
}

func TestLazyDeadlineExpiredBeforeAnyoneWaits(t *testing.T) {
	ctx := withLazyDeadline(t.Context(), time.Nanosecond)
	defer ctx.release()
	if d, _ := ctx.Deadline(); time.Now().Before(d) {
		time.Sleep(time.Until(d) + time.Millisecond)
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err() = %v, want DeadlineExceeded", ctx.Err())
	}
}

func TestLazyDeadlineFollowsParent(t *testing.T) {
	parent, cancel := context.WithCancel(context.WithValue(t.Context(), ctxKey{}, "v"))
	ctx := withLazyDeadline(parent, time.Hour)
	defer ctx.release()
	if ctx.Value(ctxKey{}) != "v" {
		t.Fatal("the parent's values are lost")
	}
	done := ctx.Done()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the parent's cancellation did not reach Done")
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Fatalf("Err() = %v, want Canceled", ctx.Err())
	}
}

func TestLazyDeadlineKeepsTheEarlierParentDeadline(t *testing.T) {
	parent, cancel := context.WithTimeout(t.Context(), time.Millisecond)
	defer cancel()
	ctx := withLazyDeadline(parent, time.Hour)
	defer ctx.release()
	pd, _ := parent.Deadline()
	if d, _ := ctx.Deadline(); !d.Equal(pd) {
		t.Fatalf("Deadline() = %v, want the parent's %v", d, pd)
	}
}

func TestLazyDeadlineReleased(t *testing.T) {
	for _, waited := range []bool{false, true} {
		ctx := withLazyDeadline(t.Context(), time.Hour)
		if waited {
			_ = ctx.Done()
		}
		ctx.release()
		select {
		case <-ctx.Done():
		default:
			t.Fatalf("waited=%v: Done open after release", waited)
		}
		if !errors.Is(ctx.Err(), context.Canceled) {
			t.Fatalf("waited=%v: Err() = %v after release, want Canceled", waited, ctx.Err())
		}
		ctx.release() // twice is harmless, as with a CancelFunc
	}
}

// A warm call must not make the timer: that is the point of the type.
func TestLazyDeadlineAllocatesNothingUnlessWaitedOn(t *testing.T) {
	parent := t.Context()
	allocs := testing.AllocsPerRun(100, func() {
		ctx := withLazyDeadline(parent, time.Second)
		_ = ctx.Value(ctxKey{})
		ctx.release()
	})
	if allocs > 1 { // the lazyDeadline itself
		t.Fatalf("%v allocations per unwaited call, want at most 1", allocs)
	}
}

type ctxKey struct{}
