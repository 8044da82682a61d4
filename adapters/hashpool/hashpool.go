// Package hashpool bounds password hashing: a ports.PasswordHasher
// decorator that lets at most a fixed number of hashes run at once, queues
// the rest, and turns a request away at once (domain.ErrOverloaded with a
// Retry-After) when it would wait too long.
//
// Why: a bcrypt hash at cost 10 takes about 70 ms of one core. Unbounded,
// a login burst starts more hashes than there are cores, every one of them
// slows down, and everything else the process does (token checks, /auth/me,
// refresh, logout, health) queues behind them for CPU — what broke the
// Python service authd replaces. Bounded, hashing takes at most Workers
// cores, and a request that cannot be served within MaxWait learns so in
// microseconds instead of holding a connection until its client gives up.
// Only calls through this hasher ever wait for the pool; nothing else in
// the process touches it.
//
// The default MaxWait, 2 s (AUTH_HASH_MAX_WAIT), is a login latency budget:
// long enough to absorb a burst (at cost 10 on 2 cores, about 50 queued
// logins), short enough that the client gets a 503 with Retry-After well
// before common client and load-balancer timeouts, and before a person gives
// up and retries by hand, which would only add to the queue.
package hashpool

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
)

var _ ports.PasswordHasher = (*Pool)(nil)

// DefaultMaxWait is the wait bound when Options.MaxWait is zero; see the
// package comment for why 2 s.
const DefaultMaxWait = 2 * time.Second

// QueuePerWorker sets the absolute queue bound when Options.MaxQueue is
// zero: Workers × QueuePerWorker.
const QueuePerWorker = 64

// ewmaShift weighs each new duration 1/8 against the running average (as
// TCP does for its RTT): a change of bcrypt cost or CPU contention shows
// within a few dozen hashes, while one slow or fast outlier moves the
// estimate little.
const ewmaShift = 3

// Options configure a Pool. Zero values take the defaults.
type Options struct {
	// Workers is how many hashes may run at once; default GOMAXPROCS (the
	// CPUs this process may use).
	Workers int
	// MaxWait is the longest expected wait a request is queued for; past
	// it the request is refused at once. Default DefaultMaxWait.
	MaxWait time.Duration
	// MaxQueue bounds the queue whatever the estimate says: it holds before
	// the first hash has been timed, and if the estimate runs low. Default
	// Workers × QueuePerWorker.
	MaxQueue int
	// Clock times waits and hashes; default time.Now.
	Clock ports.Clock
	// Nice, when above 0, runs hashes on Workers dedicated OS threads at
	// that lower priority (Linux; elsewhere the threads are dedicated but
	// not niced), so requests that need no hash get the cores first. The
	// pool must then be closed. 0 hashes on the caller's goroutine.
	Nice int
}

// Stats is a snapshot for metrics. Gauges: Workers, MaxQueue, InFlight,
// Queued, HashEstimate. The rest are counters since the pool was made.
type Stats struct {
	Workers  int
	MaxQueue int
	InFlight int // hashes running now
	Queued   int // requests waiting for a worker
	// Rejected counts requests refused with ErrOverloaded.
	Rejected uint64
	// Abandoned counts queued requests whose context ended first.
	Abandoned uint64
	// Waits counts requests that got a worker, and WaitSum adds up how long
	// they queued for it (zero when one was free): a Prometheus summary's
	// _count and _sum.
	Waits   uint64
	WaitSum time.Duration
	// HashEstimate is the moving average of one hash's duration that
	// admission works from; zero until the first hash has been timed.
	HashEstimate time.Duration
}

// Pool implements ports.PasswordHasher over another one, bounding how many
// of its Hash and Compare calls run at once. It is safe for concurrent use.
type Pool struct {
	inner    ports.PasswordHasher
	workers  int
	maxWait  time.Duration
	maxQueue int
	clock    ports.Clock

	mu       sync.Mutex
	inFlight int
	queue    list.List // of *waiter, oldest first
	avg      time.Duration
	stats    Stats // counters only; gauges are filled in by Stats

	threads *threads // nil: hash on the caller's goroutine
}

type waiter struct {
	ready   chan struct{} // closed when granted a worker
	granted bool          // set under mu with the close
	since   time.Time
	elem    *list.Element
}

// New returns a pool in front of inner.
func New(inner ports.PasswordHasher, o Options) *Pool {
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.MaxWait <= 0 {
		o.MaxWait = DefaultMaxWait
	}
	if o.MaxQueue <= 0 {
		o.MaxQueue = o.Workers * QueuePerWorker
	}
	if o.Clock == nil {
		o.Clock = ports.ClockFunc(time.Now)
	}
	p := &Pool{inner: inner, workers: o.Workers, maxWait: o.MaxWait, maxQueue: o.MaxQueue, clock: o.Clock}
	if o.Nice > 0 {
		p.threads = startThreads(o.Workers, o.Nice)
	}
	return p
}

// Close stops the dedicated hashing threads (Options.Nice). Call it after
// the last Hash or Compare.
func (p *Pool) Close() {
	if p.threads != nil {
		close(p.threads.stop)
	}
}

// Hash runs inner's Hash on a worker. Besides inner's errors it returns a
// *domain.RetryError wrapping domain.ErrOverloaded when the pool refuses the
// request, and ctx's error when ctx ends while queued.
func (p *Pool) Hash(ctx context.Context, pw domain.Password) (domain.PasswordHash, error) {
	var h domain.PasswordHash
	err := p.run(ctx, func(ctx context.Context) error {
		var err error
		h, err = p.inner.Hash(ctx, pw)
		return err
	})
	return h, err
}

// Compare runs inner's Compare on a worker, with Hash's extra errors. A
// refusal or a cancelled wait is never domain.ErrInvalidCredentials: no
// answer was reached.
func (p *Pool) Compare(ctx context.Context, hash domain.PasswordHash, pw domain.Password) error {
	return p.run(ctx, func(ctx context.Context) error {
		return p.inner.Compare(ctx, hash, pw)
	})
}

// NeedsRehash only parses the hash, so it bypasses the pool.
func (p *Pool) NeedsRehash(hash domain.PasswordHash) bool { return p.inner.NeedsRehash(hash) }

// Stats returns a snapshot, taken under the pool's lock: cheap enough to
// call on every metrics scrape.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Workers, s.MaxQueue = p.workers, p.maxQueue
	s.InFlight, s.Queued = p.inFlight, p.queue.Len()
	s.HashEstimate = p.avg
	return s
}

func (p *Pool) run(ctx context.Context, fn func(context.Context) error) error {
	if err := p.acquire(ctx); err != nil {
		return err
	}
	start := p.clock.Now()
	timed := false
	// Deferred so a panicking hasher still gives its worker back.
	defer func() { p.release(p.clock.Now().Sub(start), timed) }()
	var err error
	if p.threads != nil {
		p.threads.do(func() { err = fn(ctx) })
	} else {
		err = fn(ctx)
	}
	// A call that ended on its context did little or no work (bcrypt checks
	// ctx before starting); timing it would drag the estimate below what a
	// hash costs.
	timed = !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	return err
}

// Admit reports, without queueing, whether a hash asked for now would be
// refused: the same *domain.RetryError a Hash or Compare would return, or
// nil. A caller with work to do before its hash (a login reads the user
// first) asks here, so a flood that will be refused anyway costs no
// database reads. Nil is no promise: the hash itself may still be refused.
func (p *Pool) Admit() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inFlight < p.workers {
		return nil
	}
	return p.refuseLocked()
}

// refuseLocked is the admission rule for a caller finding every worker
// busy: a *domain.RetryError when its expected wait exceeds MaxWait or the
// queue is full (counted as a rejection), else nil. Caller holds mu.
func (p *Pool) refuseLocked() error {
	wait := p.estimateLocked()
	if wait <= p.maxWait && p.queue.Len() < p.maxQueue {
		return nil
	}
	p.stats.Rejected++
	if p.avg == 0 {
		// Queue full before any hash was timed: nothing better known.
		wait = p.maxWait
	}
	return &domain.RetryError{Err: domain.ErrOverloaded, RetryAfter: wait}
}

// acquire returns once the caller holds a worker, or with the reason it
// will not get one.
func (p *Pool) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("hashpool: %w", err)
	}
	p.mu.Lock()
	if p.inFlight < p.workers {
		// A free worker implies an empty queue: release hands a worker
		// straight to the oldest waiter.
		p.inFlight++
		p.stats.Waits++
		p.mu.Unlock()
		return nil
	}
	if err := p.refuseLocked(); err != nil {
		p.mu.Unlock()
		return err
	}
	w := &waiter{ready: make(chan struct{}), since: p.clock.Now()}
	w.elem = p.queue.PushBack(w)
	p.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	p.mu.Lock()
	p.stats.Abandoned++
	if w.granted {
		// Granted while ctx ended: pass the worker on rather than run a
		// hash nobody waits for.
		p.releaseLocked()
	} else {
		p.queue.Remove(w.elem)
	}
	p.mu.Unlock()
	return fmt.Errorf("hashpool: waiting for a worker: %w", ctx.Err())
}

// estimateLocked is how long a newcomer would queue with every worker busy:
// workers free up about one every avg/workers, and the newcomer needs the
// one after those that go to the requests queued ahead of it. Zero until a hash has been timed, which
// admits up to MaxQueue; in authd the first hash (app.New's dummy hash)
// runs at start, before any request.
func (p *Pool) estimateLocked() time.Duration {
	return time.Duration(p.queue.Len()+1) * p.avg / time.Duration(p.workers)
}

func (p *Pool) release(took time.Duration, timed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if timed {
		if p.avg == 0 {
			p.avg = took
		} else {
			p.avg += (took - p.avg) >> ewmaShift
		}
	}
	p.releaseLocked()
}

// releaseLocked hands the caller's worker to the oldest waiter, or frees it.
func (p *Pool) releaseLocked() {
	front := p.queue.Front()
	if front == nil {
		p.inFlight--
		return
	}
	w := p.queue.Remove(front).(*waiter)
	w.granted = true
	p.stats.Waits++
	p.stats.WaitSum += p.clock.Now().Sub(w.since)
	close(w.ready)
}
