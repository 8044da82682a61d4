package hashpool_test

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authd/authd/adapters/hashpool"
	"github.com/authd/authd/adapters/memory"
	"github.com/authd/authd/domain"
)

// gate is an inner hasher whose calls block until the test finishes them.
// A call is named by its password, so the test can say which call to end
// and see which one a freed worker went to.
type gate struct {
	mu      sync.Mutex
	results map[string]chan error
	started chan string // names of calls that reached the inner hasher
	calls   atomic.Int64
}

func newGate() *gate {
	return &gate{results: map[string]chan error{}, started: make(chan string, 1024)}
}

func (g *gate) result(name string) chan error {
	g.mu.Lock()
	defer g.mu.Unlock()
	ch, ok := g.results[name]
	if !ok {
		ch = make(chan error, 1)
		g.results[name] = ch
	}
	return ch
}

func (g *gate) block(name string) error {
	g.calls.Add(1)
	g.started <- name
	return <-g.result(name)
}

func (g *gate) Hash(_ context.Context, pw domain.Password) (domain.PasswordHash, error) {
	err := g.block(pw.Reveal())
	return domain.PasswordHash("h:" + pw.Reveal()), err
}

func (g *gate) Compare(_ context.Context, _ domain.PasswordHash, pw domain.Password) error {
	return g.block(pw.Reveal())
}

func (g *gate) NeedsRehash(hash domain.PasswordHash) bool { return hash == "old" }

type harness struct {
	t     *testing.T
	pool  *hashpool.Pool
	inner *gate
	clock *memory.ManualClock
}

func newHarness(t *testing.T, o hashpool.Options) *harness {
	t.Helper()
	h := &harness{t: t, inner: newGate(), clock: memory.NewManualClock(time.Date(2026, 12, 3, 16, 0, 0, 0, time.UTC))}
	o.Clock = h.clock
	h.pool = hashpool.New(h.inner, o)
	return h
}

// compare starts a Compare named name in its own goroutine; its result
// arrives on the returned channel.
func (h *harness) compare(ctx context.Context, name string) <-chan error {
	done := make(chan error, 1)
	go func() { done <- h.pool.Compare(ctx, "hash", domain.Password(name)) }()
	return done
}

// running starts a call and returns once it holds a worker.
func (h *harness) running(name string) <-chan error {
	h.t.Helper()
	done := h.compare(context.Background(), name)
	if got := <-h.inner.started; got != name {
		h.t.Fatalf("call %q reached the hasher, want %q", got, name)
	}
	return done
}

// queued starts a call and returns once it waits in the queue.
func (h *harness) queued(ctx context.Context, name string) <-chan error {
	h.t.Helper()
	want := h.pool.Stats().Queued + 1
	done := h.compare(ctx, name)
	h.waitFor("queue length "+strconv.Itoa(want), func() bool { return h.pool.Stats().Queued == want })
	return done
}

// finish ends the running call name after it took d on the fake clock (the
// clock moves for everyone) and returns what the caller got.
func (h *harness) finish(name string, d time.Duration, result error, done <-chan error) error {
	h.t.Helper()
	h.clock.Advance(d)
	h.inner.result(name) <- result
	return <-done
}

// seed times one hash of d, so that admission has an estimate to work from.
func (h *harness) seed(d time.Duration) {
	h.t.Helper()
	if err := h.finish("seed", d, nil, h.running("seed")); err != nil {
		h.t.Fatal(err)
	}
}

// waitFor polls cond until it holds. Another goroutine has to reach a state
// (queued) that has no event to wait on; the deadline only turns a hang
// into a failure and is no timing assertion.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("never reached: %s; stats %+v", what, h.pool.Stats())
		}
		runtime.Gosched()
	}
}

// rejected calls Compare expecting an immediate refusal, and fails if the
// call queues instead.
func (h *harness) rejected(name string) *domain.RetryError {
	h.t.Helper()
	queued := h.pool.Stats().Queued
	done := h.compare(context.Background(), name)
	var err error
	h.waitFor("an answer for "+name, func() bool {
		select {
		case err = <-done:
			return true
		default:
			if q := h.pool.Stats().Queued; q > queued {
				h.t.Fatalf("%s was queued (queue %d), want it refused", name, q)
			}
			return false
		}
	})
	var retry *domain.RetryError
	if !errors.As(err, &retry) || !errors.Is(err, domain.ErrOverloaded) {
		h.t.Fatalf("%s: err = %v, want RetryError(ErrOverloaded)", name, err)
	}
	if errors.Is(err, domain.ErrInvalidCredentials) {
		h.t.Fatalf("%s: a refusal must not read as a wrong password", name)
	}
	return retry
}

func (h *harness) wantStats(check func(s hashpool.Stats) bool, what string) {
	h.t.Helper()
	if s := h.pool.Stats(); !check(s) {
		h.t.Errorf("stats %+v, want %s", s, what)
	}
}

func TestAdmitsUpToWorkersThenQueues(t *testing.T) {
	h := newHarness(t, hashpool.Options{Workers: 2, MaxWait: time.Second})
	a := h.running("a")
	b := h.running("b")
	c := h.queued(context.Background(), "c")
	h.wantStats(func(s hashpool.Stats) bool {
		return s.Workers == 2 && s.InFlight == 2 && s.Queued == 1 && s.Waits == 2
	}, "2 running, 1 queued")
	if n := h.inner.calls.Load(); n != 2 {
		t.Fatalf("%d calls reached the hasher with 2 workers", n)
	}

	// The freed worker goes to the queued call, not to a newcomer.
	if err := h.finish("a", 0, nil, a); err != nil {
		t.Fatal(err)
	}
	if got := <-h.inner.started; got != "c" {
		t.Fatalf("freed worker went to %q, want the queued c", got)
	}
	h.wantStats(func(s hashpool.Stats) bool { return s.InFlight == 2 && s.Queued == 0 }, "c running")
	if err := h.finish("b", 0, nil, b); err != nil {
		t.Fatal(err)
	}
	if err := h.finish("c", 0, nil, c); err != nil {
		t.Fatal(err)
	}
	h.wantStats(func(s hashpool.Stats) bool {
		return s.InFlight == 0 && s.Queued == 0 && s.Waits == 3 && s.Rejected == 0
	}, "idle")
}

func TestQueueIsFirstInFirstOut(t *testing.T) {
	h := newHarness(t, hashpool.Options{Workers: 1, MaxWait: time.Hour})
	a := h.running("a")
	names := []string{"q1", "q2", "q3"}
	done := map[string]<-chan error{}
	for _, n := range names {
		done[n] = h.queued(context.Background(), n)
	}
	prev, prevDone := "a", a
	for _, n := range names {
		if err := h.finish(prev, 0, nil, prevDone); err != nil {
			t.Fatal(err)
		}
		if got := <-h.inner.started; got != n {
			t.Fatalf("worker went to %q, want %q", got, n)
		}
		prev, prevDone = n, done[n]
	}
	if err := h.finish(prev, 0, nil, prevDone); err != nil {
		t.Fatal(err)
	}
}

func TestRejectsWhenTheExpectedWaitExceedsMaxWait(t *testing.T) {
	h := newHarness(t, hashpool.Options{Workers: 2, MaxWait: 200 * time.Millisecond})
	h.seed(100 * time.Millisecond)
	h.wantStats(func(s hashpool.Stats) bool { return s.HashEstimate == 100*time.Millisecond }, "estimate 100ms")

	a, b := h.running("a"), h.running("b")
	// With both workers busy, the k-th in the queue expects k×100ms/2:
	// 50, 100, 150 and 200ms are within MaxWait, 250ms is not.
	q := map[string]<-chan error{}
	for _, n := range []string{"q1", "q2", "q3", "q4"} {
		q[n] = h.queued(context.Background(), n)
	}
	retry := h.rejected("q5")
	if retry.RetryAfter != 250*time.Millisecond {
		t.Errorf("RetryAfter = %v, want the expected wait, 250ms", retry.RetryAfter)
	}
	h.rejected("q6")
	h.wantStats(func(s hashpool.Stats) bool { return s.Rejected == 2 && s.Queued == 4 && s.InFlight == 2 }, "2 rejected, 4 queued")
	if n := h.inner.calls.Load(); n != 3 {
		t.Errorf("%d calls reached the hasher, want 3 (seed, a, b): a refusal does no work", n)
	}

	// One hash done (100ms again, so the estimate stays) frees a place.
	if err := h.finish("a", 100*time.Millisecond, nil, a); err != nil {
		t.Fatal(err)
	}
	if got := <-h.inner.started; got != "q1" {
		t.Fatalf("worker went to %q, want q1", got)
	}
	q5 := h.queued(context.Background(), "q5")
	h.rejected("q6")

	// Drain in order; each freed worker goes to the oldest in the queue.
	q["b"], q["q5"] = b, q5
	for _, step := range []struct{ finish, next string }{
		{"b", "q2"}, {"q1", "q3"}, {"q2", "q4"}, {"q3", "q5"}, {"q4", ""}, {"q5", ""},
	} {
		if err := h.finish(step.finish, 100*time.Millisecond, nil, q[step.finish]); err != nil {
			t.Fatal(err)
		}
		if step.next != "" {
			if got := <-h.inner.started; got != step.next {
				t.Fatalf("worker went to %q, want %q", got, step.next)
			}
		}
	}
	h.wantStats(func(s hashpool.Stats) bool { return s.InFlight == 0 && s.Queued == 0 }, "drained")
	// Drained, a newcomer runs at once.
	if err := h.finish("late", 100*time.Millisecond, nil, h.running("late")); err != nil {
		t.Fatal(err)
	}
	h.wantStats(func(s hashpool.Stats) bool { return s.Rejected == 3 }, "3 rejected in all")
}

func TestQueueBoundHoldsBeforeAnyHashWasTimed(t *testing.T) {
	h := newHarness(t, hashpool.Options{Workers: 1, MaxQueue: 2, MaxWait: 3 * time.Second})
	a := h.running("a")
	q1 := h.queued(context.Background(), "q1")
	q2 := h.queued(context.Background(), "q2")
	retry := h.rejected("q3")
	if retry.RetryAfter != 3*time.Second {
		t.Errorf("RetryAfter = %v, want MaxWait while nothing is measured", retry.RetryAfter)
	}
	if err := h.finish("a", 0, nil, a); err != nil {
		t.Fatal(err)
	}
	<-h.inner.started
	if err := h.finish("q1", 0, nil, q1); err != nil {
		t.Fatal(err)
	}
	<-h.inner.started
	if err := h.finish("q2", 0, nil, q2); err != nil {
		t.Fatal(err)
	}
}

func TestQueueBoundHoldsEvenWhenTheEstimateIsLow(t *testing.T) {
	h := newHarness(t, hashpool.Options{Workers: 1, MaxQueue: 1, MaxWait: time.Hour})
	h.seed(time.Millisecond)
	a := h.running("a")
	q1 := h.queued(context.Background(), "q1")
	if r := h.rejected("q2"); r.RetryAfter != 2*time.Millisecond {
		t.Errorf("RetryAfter = %v, want the estimate, 2ms", r.RetryAfter)
	}
	if err := h.finish("a", time.Millisecond, nil, a); err != nil {
		t.Fatal(err)
	}
	<-h.inner.started
	if err := h.finish("q1", time.Millisecond, nil, q1); err != nil {
		t.Fatal(err)
	}
}

func TestCancelledWhileQueuedLeavesTheQueue(t *testing.T) {
	h := newHarness(t, hashpool.Options{Workers: 1, MaxQueue: 2, MaxWait: time.Hour})
	a := h.running("a")
	ctx, cancel := context.WithCancel(context.Background())
	gone := h.queued(ctx, "gone")
	b := h.queued(context.Background(), "b")
	h.rejected("full")

	cancel()
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled while queued: err = %v, want context.Canceled", err)
	}
	h.wantStats(func(s hashpool.Stats) bool { return s.Queued == 1 && s.Abandoned == 1 && s.InFlight == 1 }, "gone left the queue")
	// Its place is free again.
	c := h.queued(context.Background(), "c")

	if err := h.finish("a", 0, nil, a); err != nil {
		t.Fatal(err)
	}
	if got := <-h.inner.started; got != "b" {
		t.Fatalf("worker went to %q, want b (gone was cancelled)", got)
	}
	if err := h.finish("b", 0, nil, b); err != nil {
		t.Fatal(err)
	}
	<-h.inner.started
	if err := h.finish("c", 0, nil, c); err != nil {
		t.Fatal(err)
	}
	if n := h.inner.calls.Load(); n != 3 {
		t.Errorf("%d calls reached the hasher, want 3: the cancelled one must not run", n)
	}
	h.wantStats(func(s hashpool.Stats) bool { return s.InFlight == 0 && s.Queued == 0 }, "idle")
}

// A cancel can land just as a worker is handed over; whichever wins, the
// worker must not leak. The interleaving is up to the scheduler, so this
// runs many rounds and checks only what must hold in every one.
func TestCancelRacingAHandOverNeverLeaksAWorker(t *testing.T) {
	h := newHarness(t, hashpool.Options{Workers: 1, MaxWait: time.Hour})
	for i := range 200 {
		a, q := "a"+strconv.Itoa(i), "q"+strconv.Itoa(i)
		aDone := h.running(a)
		ctx, cancel := context.WithCancel(context.Background())
		qDone := h.queued(ctx, q)
		go cancel()
		if err := h.finish(a, 0, nil, aDone); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-h.inner.started: // q won the worker and runs
			if got != q {
				t.Fatalf("started %q, want %q", got, q)
			}
			if err := h.finish(q, 0, nil, qDone); err != nil {
				t.Fatal(err)
			}
		case err := <-qDone:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
		}
		h.waitFor("idle", func() bool { s := h.pool.Stats(); return s.InFlight == 0 && s.Queued == 0 })
	}
}

func TestDoneContextIsRefusedWithoutQueueing(t *testing.T) {
	h := newHarness(t, hashpool.Options{Workers: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.pool.Compare(ctx, "hash", "pw"); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if _, err := h.pool.Hash(ctx, "pw"); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if h.inner.calls.Load() != 0 {
		t.Error("a done context reached the hasher")
	}
}

func TestWaitTimeIsMeasuredOnTheClock(t *testing.T) {
	h := newHarness(t, hashpool.Options{Workers: 1, MaxWait: time.Hour})
	a := h.running("a")
	q := h.queued(context.Background(), "q")
	if err := h.finish("a", 30*time.Millisecond, nil, a); err != nil {
		t.Fatal(err)
	}
	<-h.inner.started
	if err := h.finish("q", 50*time.Millisecond, nil, q); err != nil {
		t.Fatal(err)
	}
	h.wantStats(func(s hashpool.Stats) bool {
		// a waited 0, q waited for a's 30ms; estimate 30 + (50-30)/8.
		return s.Waits == 2 && s.WaitSum == 30*time.Millisecond && s.HashEstimate == 32500*time.Microsecond
	}, "2 waits summing 30ms, estimate 32.5ms")
}

func TestCallsEndedByTheirContextDoNotSkewTheEstimate(t *testing.T) {
	h := newHarness(t, hashpool.Options{Workers: 1})
	h.seed(100 * time.Millisecond)
	a := h.running("a")
	err := h.finish("a", time.Millisecond, context.DeadlineExceeded, a)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	h.wantStats(func(s hashpool.Stats) bool { return s.HashEstimate == 100*time.Millisecond && s.InFlight == 0 }, "estimate unchanged, worker free")
}

func TestInnerResultsPassThroughAndFreeTheWorker(t *testing.T) {
	h := newHarness(t, hashpool.Options{Workers: 1})
	if err := h.finish("wrong", 0, domain.ErrInvalidCredentials, h.running("wrong")); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Errorf("wrong password: err = %v", err)
	}
	boom := errors.New("boom")
	if err := h.finish("boom", 0, boom, h.running("boom")); !errors.Is(err, boom) {
		t.Errorf("inner failure: err = %v", err)
	}
	// Hash goes through the pool as well and returns inner's hash.
	got := make(chan domain.PasswordHash, 1)
	go func() {
		hash, _ := h.pool.Hash(context.Background(), "pw")
		got <- hash
	}()
	if name := <-h.inner.started; name != "pw" {
		t.Fatalf("started %q", name)
	}
	h.inner.result("pw") <- nil
	if hash := <-got; hash != "h:pw" {
		t.Errorf("Hash = %q", hash)
	}
	h.wantStats(func(s hashpool.Stats) bool { return s.InFlight == 0 && s.Waits == 3 }, "3 calls, worker free")
}

func TestHashWaitsForTheSameWorkers(t *testing.T) {
	h := newHarness(t, hashpool.Options{Workers: 1})
	a := h.running("a")
	got := make(chan error, 1)
	go func() {
		_, err := h.pool.Hash(context.Background(), "new")
		got <- err
	}()
	h.waitFor("Hash queued", func() bool { return h.pool.Stats().Queued == 1 })
	if err := h.finish("a", 0, nil, a); err != nil {
		t.Fatal(err)
	}
	<-h.inner.started
	if err := h.finish("new", 0, nil, got); err != nil {
		t.Fatal(err)
	}
}

func TestNeedsRehashBypassesAFullPool(t *testing.T) {
	h := newHarness(t, hashpool.Options{Workers: 1, MaxQueue: 1})
	a := h.running("a")
	q := h.queued(context.Background(), "q")
	if !h.pool.NeedsRehash("old") || h.pool.NeedsRehash("new") {
		t.Error("NeedsRehash does not follow the inner hasher")
	}
	if err := h.finish("a", 0, nil, a); err != nil {
		t.Fatal(err)
	}
	<-h.inner.started
	if err := h.finish("q", 0, nil, q); err != nil {
		t.Fatal(err)
	}
}

type panicky struct{ instant }

func (panicky) Compare(context.Context, domain.PasswordHash, domain.Password) error {
	panic("hasher bug")
}

func TestPanickingHasherGivesItsWorkerBack(t *testing.T) {
	p := hashpool.New(panicky{}, hashpool.Options{Workers: 1})
	func() {
		defer func() { _ = recover() }()
		_ = p.Compare(context.Background(), "hash", "pw")
	}()
	if s := p.Stats(); s.InFlight != 0 {
		t.Fatalf("stats %+v: the worker leaked", s)
	}
}

func TestDefaults(t *testing.T) {
	p := hashpool.New(newGate(), hashpool.Options{})
	s := p.Stats()
	if s.Workers != runtime.GOMAXPROCS(0) || s.MaxQueue != s.Workers*hashpool.QueuePerWorker {
		t.Errorf("defaults: %+v", s)
	}
}

// instant is an inner hasher that does no work, so benchmarks see only the
// pool.
type instant struct{}

func (instant) Hash(context.Context, domain.Password) (domain.PasswordHash, error) { return "h", nil }
func (instant) Compare(context.Context, domain.PasswordHash, domain.Password) error {
	return nil
}
func (instant) NeedsRehash(domain.PasswordHash) bool { return false }

// BenchmarkOverhead measures what the pool adds around a hash: next to the
// ~70ms of a cost-10 bcrypt it should be noise.
func BenchmarkOverhead(b *testing.B) {
	ctx := context.Background()
	b.Run("direct", func(b *testing.B) {
		var h instant
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = h.Compare(ctx, "h", "pw")
			}
		})
	})
	b.Run("pool", func(b *testing.B) {
		p := hashpool.New(instant{}, hashpool.Options{MaxWait: time.Hour})
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := p.Compare(ctx, "h", "pw"); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("pool/uncontended", func(b *testing.B) {
		p := hashpool.New(instant{}, hashpool.Options{Workers: 1})
		for b.Loop() {
			if err := p.Compare(ctx, "h", "pw"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestAdmitSaysWhatAHashWouldHearWithoutQueueing(t *testing.T) {
	h := newHarness(t, hashpool.Options{Workers: 1, MaxWait: 150 * time.Millisecond})
	if err := h.pool.Admit(); err != nil {
		t.Fatalf("idle pool: %v", err)
	}
	h.seed(100 * time.Millisecond)
	a := h.running("a")
	// Worker busy, queue empty: a newcomer expects 100ms, within MaxWait.
	if err := h.pool.Admit(); err != nil {
		t.Fatalf("one running: %v", err)
	}
	q1 := h.queued(context.Background(), "q1")
	// One queued: a newcomer expects 200ms, past MaxWait.
	err := h.pool.Admit()
	var retry *domain.RetryError
	if !errors.As(err, &retry) || !errors.Is(err, domain.ErrOverloaded) || retry.RetryAfter != 200*time.Millisecond {
		t.Fatalf("saturated: %v, want RetryError(ErrOverloaded) after 200ms", err)
	}
	h.wantStats(func(s hashpool.Stats) bool { return s.Queued == 1 && s.Rejected == 1 }, "Admit queued nothing and counted its refusal")
	if err := h.finish("a", 100*time.Millisecond, nil, a); err != nil {
		t.Fatal(err)
	}
	if got := <-h.inner.started; got != "q1" {
		t.Fatalf("worker went to %q", got)
	}
	if err := h.finish("q1", 100*time.Millisecond, nil, q1); err != nil {
		t.Fatal(err)
	}
}
