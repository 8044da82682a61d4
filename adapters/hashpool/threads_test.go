package hashpool_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"syscall"
	"testing"

	"github.com/authd/authd/adapters/hashpool"
	"github.com/authd/authd/domain"
)

// niceHasher reports the scheduling priority of the thread it runs on.
type niceHasher struct {
	mu        sync.Mutex
	priority  []int
	panicking bool
}

func (h *niceHasher) Hash(context.Context, domain.Password) (domain.PasswordHash, error) {
	if h.panicking {
		panic("hasher broke")
	}
	if runtime.GOOS == "linux" {
		// The raw syscall answers 20 - nice for the calling thread.
		prio, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
		if err != nil {
			return "", err
		}
		h.mu.Lock()
		h.priority = append(h.priority, 20-prio)
		h.mu.Unlock()
	}
	return "hash", nil
}

func (h *niceHasher) Compare(context.Context, domain.PasswordHash, domain.Password) error {
	return domain.ErrInvalidCredentials
}

func (h *niceHasher) NeedsRehash(domain.PasswordHash) bool { return false }

func TestNiceRunsHashesOnLowPriorityThreads(t *testing.T) {
	inner := &niceHasher{}
	p := hashpool.New(inner, hashpool.Options{Workers: 2, Nice: 10})
	defer p.Close()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if h, err := p.Hash(context.Background(), "pw"); err != nil || h != "hash" {
				t.Errorf("Hash = %q, %v", h, err)
			}
		})
	}
	wg.Wait()
	if err := p.Compare(context.Background(), "hash", "pw"); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Errorf("Compare = %v, want the inner hasher's answer", err)
	}
	if runtime.GOOS != "linux" {
		return
	}
	if len(inner.priority) != 8 {
		t.Fatalf("%d hashes observed, want 8", len(inner.priority))
	}
	for _, nice := range inner.priority {
		if nice != 10 {
			t.Errorf("hash ran at nice %d, want 10", nice)
		}
	}
}

func TestNiceThreadsRaiseAPanicInTheCaller(t *testing.T) {
	inner := &niceHasher{panicking: true}
	p := hashpool.New(inner, hashpool.Options{Workers: 1, Nice: 5})
	defer p.Close()
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the hasher's panic did not reach the caller")
			}
		}()
		_, _ = p.Hash(context.Background(), "pw")
	}()
	inner.panicking = false
	// The worker and its thread survive the panic.
	if _, err := p.Hash(context.Background(), "pw"); err != nil {
		t.Fatalf("after a panic: %v", err)
	}
	if s := p.Stats(); s.InFlight != 0 {
		t.Errorf("in flight after the panic: %d", s.InFlight)
	}
}
