package redis

import (
	"context"
	"sync"
	"time"
)

// lazyDeadline is a context with a timeout whose clock starts, and whose
// timer exists, only once somebody looks at it.
//
// Every call to Redis runs under a timeout, but most of authd's calls are
// client-side cache hits that rueidis answers from process memory without
// looking at the context. context.WithTimeout would still read the clock,
// allocate a timer and register a child with the request's context on each
// of them; on a warm GET /auth/me that was a tenth of the request
// (perf/results/me-cache.md). Here the first call to Deadline, Done or Err
// builds the real context.WithTimeout, so a call that goes to the network
// (where rueidis asks for the deadline and selects on Done at once) is
// bounded as before, from within microseconds of its start.
type lazyDeadline struct {
	context.Context // the parent, for Value

	timeout time.Duration

	once   sync.Once
	real   context.Context
	cancel context.CancelFunc
}

func withLazyDeadline(parent context.Context, timeout time.Duration) *lazyDeadline {
	return &lazyDeadline{Context: parent, timeout: timeout}
}

func (l *lazyDeadline) materialize() context.Context {
	l.once.Do(func() { l.real, l.cancel = context.WithTimeout(l.Context, l.timeout) })
	return l.real
}

func (l *lazyDeadline) Deadline() (time.Time, bool) { return l.materialize().Deadline() }
func (l *lazyDeadline) Done() <-chan struct{}       { return l.materialize().Done() }
func (l *lazyDeadline) Err() error                  { return l.materialize().Err() }

// release frees the timer, if one was made. After it the context reports
// cancellation, as a cancelled WithTimeout context would, without making a
// timer for that.
func (l *lazyDeadline) release() {
	l.once.Do(func() { l.real, l.cancel = released, func() {} })
	l.cancel()
}

// released is what a lazyDeadline released before anyone looked at it
// answers from then on.
var released = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()
