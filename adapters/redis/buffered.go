package redis

import (
	"cmp"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/authd/authd/ports"
)

var _ ports.RateLimiter = (*BufferedLimiter)(nil)

// BufferedLimiter is a ports.RateLimiter for a limit that every request
// passes, such as AUTH_IP_RATE_PER_MINUTE on /auth/*. Counting each of
// those in Redis before answering costs a round trip per request: it halved
// what a cached GET /auth/me can serve (perf/results/me-cache.md). So this
// limiter counts a key in process memory while the key is well under its
// limit, and sends the counts to Redis in one batch every FlushEvery; from
// the hit that brings a key's count to ExactFrom on, every hit of that
// window is counted in Redis before it is answered, as RateLimiter does.
// Near the limit, the decision is made on the count of every instance.
//
// What that trades, and what it does not:
//   - On one instance the count is exact while it runs: every hit is
//     counted here at once, whether or not it has reached Redis yet. A
//     window this process opens starts at zero even if Redis holds hits of
//     a process before it (a restart) or of this one's past MaxKeys, so
//     then a client gets at most ExactFrom − 1 more, until its first
//     exact hit learns Redis' count.
//   - A batch Redis answered too late for (a timeout after Redis applied
//     it) is sent again, so a slow Redis can count it twice: clients are
//     then refused early, never let through more.
//   - With several instances, the count one instance sees lacks what the
//     others hold unsent: hits of their last FlushEvery, and fewer than
//     ExactFrom of a key each, since an instance sends what it holds with
//     its first exact hit. So in one window a client gets at most
//     (instances − 1) × (ExactFrom − 1) requests past the limit, and only
//     by spreading them over the instances faster than they flush. With
//     ExactFrom at a quarter of the limit and two instances, that is a
//     quarter more, once; per-instance limits would allow double.
//   - While Redis cannot be reached, counts stay in memory (limits then
//     hold per instance, as with RateLimiter's fallback) and are sent when
//     Redis answers again, if their window is still open.
//
// Close stops the background flush and sends what is left.
type BufferedLimiter struct {
	shared    *RateLimiter
	exactFrom int64
	maxKeys   int

	mu   sync.Mutex
	cond *sync.Cond // signalled when a carrying call lands (bufferedKey.carrying)
	keys map[string]*bufferedKey

	stop chan struct{}
	done chan struct{}
}

// BufferedOptions configure a BufferedLimiter.
type BufferedOptions struct {
	// ExactFrom is the count from which a key's hits are counted in Redis
	// before they are answered: a fraction of the limit the caller
	// enforces (see the type's comment for what it bounds); 1 or less
	// counts every hit in Redis.
	ExactFrom int64
	// FlushEvery is how often counts held in memory are sent to Redis.
	// Default DefaultFlushEvery.
	FlushEvery time.Duration
	// MaxKeys bounds the keys held in memory; a new key past it is counted
	// in Redis at once. Default DefaultMaxBufferedKeys.
	MaxKeys int
}

// Defaults for BufferedOptions.
const (
	DefaultFlushEvery      = 100 * time.Millisecond
	DefaultMaxBufferedKeys = 100_000
)

// bufferedKey is this instance's view of one key's current window.
type bufferedKey struct {
	synced   int64     // the count Redis last answered: every instance's hits it had
	inflight int64     // hits of this instance on their way to Redis
	pending  int64     // hits of this instance not sent yet
	resetAt  time.Time // when the window ends
	exact    bool      // from now on every hit is counted in Redis first
	carrying bool      // a call carrying inflight is out; exact hits wait for it
}

func (e *bufferedKey) count() int64 { return e.synced + e.inflight + e.pending }

// NewBufferedLimiter returns a limiter counting under prefix in Redis, with
// fallback for a key it cannot hold in memory while Redis is unreachable.
// It starts the background flush; Close stops it.
func NewBufferedLimiter(c *Client, prefix string, fallback ports.RateLimiter, o BufferedOptions) *BufferedLimiter {
	if o.FlushEvery <= 0 {
		o.FlushEvery = DefaultFlushEvery
	}
	if o.MaxKeys <= 0 {
		o.MaxKeys = DefaultMaxBufferedKeys
	}
	l := &BufferedLimiter{
		shared: NewRateLimiter(c, prefix, fallback), exactFrom: o.ExactFrom, maxKeys: o.MaxKeys,
		keys: map[string]*bufferedKey{}, stop: make(chan struct{}), done: make(chan struct{}),
	}
	l.cond = sync.NewCond(&l.mu)
	go l.flushLoop(o.FlushEvery)
	return l
}

// Hit counts one event on key. Errors come only from the fallback.
func (l *BufferedLimiter) Hit(ctx context.Context, key string, window time.Duration) (ports.Window, error) {
	if window <= 0 {
		return ports.Window{}, errors.New("redis limiter: window must be positive")
	}
	l.mu.Lock()
	var (
		e   *bufferedKey
		now time.Time
	)
	for {
		now = time.Now()
		e = l.entry(key, window, now)
		if e == nil {
			// Too many keys in memory: count this one in Redis alone.
			l.mu.Unlock()
			return l.shared.Hit(ctx, key, window)
		}
		if !e.exact && e.count()+1 < l.exactFrom {
			e.pending++
			w := ports.Window{Count: e.count(), ResetIn: e.resetAt.Sub(now)}
			l.mu.Unlock()
			return w, nil
		}
		if !e.carrying {
			break
		}
		// Earlier hits are on their way to Redis; counted after them, this
		// one sees a count that includes them.
		l.cond.Wait()
	}
	// Counted in Redis before it is answered, together with whatever this
	// instance still holds of the key.
	e.exact = true
	carried := e.send()
	ms := floorMillis(e.resetAt.Sub(now))
	l.mu.Unlock()

	w, err := l.shared.add(ctx, key, carried+1, ms)

	l.mu.Lock()
	defer l.mu.Unlock()
	l.landed(e, carried, now, w, err)
	if err != nil {
		l.shared.fallingBack(ctx, "hit", err)
		e.pending++ // this hit too, held here until Redis answers
		return ports.Window{Count: e.count(), ResetIn: e.resetAt.Sub(now)}, nil
	}
	return w, nil
}

// Peek returns the key's window without counting, after sending what this
// instance holds of it, so that the count is every instance's. Errors come
// only from the fallback.
func (l *BufferedLimiter) Peek(ctx context.Context, key string) (ports.Window, error) {
	l.mu.Lock()
	e := l.keys[key]
	for e != nil && e.carrying {
		l.cond.Wait()
		e = l.keys[key]
	}
	now := time.Now()
	if e != nil && !now.Before(e.resetAt) {
		e = nil // its window is over
	}
	var carried, ms int64
	if e != nil {
		carried, ms = e.send(), floorMillis(e.resetAt.Sub(now))
	}
	l.mu.Unlock()

	var (
		w   ports.Window
		err error
	)
	if carried > 0 {
		w, err = l.shared.add(ctx, key, carried, ms)
	} else {
		w, err = l.shared.peek(ctx, key)
	}
	if e == nil {
		if err != nil {
			l.shared.fallingBack(ctx, "peek", err)
			return l.shared.fallback.Peek(ctx, key)
		}
		return w, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.landed(e, carried, now, w, err)
	if err != nil || w.Count == 0 {
		if err != nil {
			l.shared.fallingBack(ctx, "peek", err)
		}
		return ports.Window{Count: e.count(), ResetIn: e.resetAt.Sub(now)}, nil
	}
	return ports.Window{Count: w.Count + e.pending, ResetIn: w.ResetIn}, nil
}

// Undo takes back one hit: one this instance still holds if it has any,
// else one in Redis. Errors come only from the fallback.
func (l *BufferedLimiter) Undo(ctx context.Context, key string) error {
	l.mu.Lock()
	e := l.keys[key]
	// A hit on its way to Redis may not be there yet to take back.
	for e != nil && e.carrying {
		l.cond.Wait()
		e = l.keys[key]
	}
	if e != nil && !time.Now().Before(e.resetAt) {
		e = nil
	}
	if e != nil && e.pending > 0 {
		e.pending--
		l.mu.Unlock()
		return nil
	}
	l.mu.Unlock()
	n, err := l.shared.undo(ctx, key)
	switch {
	case err != nil && e == nil:
		l.shared.fallingBack(ctx, "undo", err)
		return l.shared.fallback.Undo(ctx, key)
	case err != nil:
		// Redis keeps its count; this instance's view goes down by one.
		l.shared.fallingBack(ctx, "undo", err)
		l.mu.Lock()
		e.synced = max(e.synced-1, 0)
		l.mu.Unlock()
	case e != nil:
		l.mu.Lock()
		e.synced = n
		l.mu.Unlock()
	}
	return nil
}

// send marks what e holds as on its way to Redis and returns how many;
// exact hits wait for a call that carries some (carrying). Call with mu
// held and e not carrying.
func (e *bufferedKey) send() int64 {
	n := e.pending
	e.inflight, e.pending, e.carrying = n, 0, n > 0
	return n
}

// landed records Redis' answer (w, or err) to a call, sent at now, that
// carried n of e's hits. Call with mu held.
func (l *BufferedLimiter) landed(e *bufferedKey, n int64, now time.Time, w ports.Window, err error) {
	if n > 0 {
		e.inflight, e.carrying = 0, false
		l.cond.Broadcast()
	}
	if err != nil {
		e.pending += n // sent again with the next flush or exact hit
		return
	}
	if w.Count > 0 {
		// Redis' count includes what was carried; pending holds what came
		// since.
		e.synced = w.Count
		e.resetAt = minTime(e.resetAt, now.Add(w.ResetIn))
	}
}

// entry returns the key's current window, opening one if there is none or
// the last has ended; nil when that would hold more than maxKeys. Call
// with mu held.
func (l *BufferedLimiter) entry(key string, window time.Duration, now time.Time) *bufferedKey {
	e, ok := l.keys[key]
	switch {
	case ok && now.Before(e.resetAt):
		return e
	case !ok && len(l.keys) >= l.maxKeys:
		return nil
	}
	// A call still carrying the ended window's hits updates the old entry,
	// which nothing reads any more.
	e = &bufferedKey{resetAt: now.Add(window)}
	l.keys[key] = e
	return e
}

// Flush sends every count held in memory to Redis now, in one round trip,
// and forgets keys whose window has ended. The background loop calls it
// every FlushEvery; tests call it to make the moment certain.
func (l *BufferedLimiter) Flush(ctx context.Context) error {
	l.mu.Lock()
	now := time.Now()
	var (
		adds    []pendingAdd
		entries []*bufferedKey
	)
	for k, e := range l.keys {
		switch {
		case e.carrying:
		case !now.Before(e.resetAt):
			delete(l.keys, k) // what it held belongs to an ended window
		case e.pending > 0:
			ms := floorMillis(e.resetAt.Sub(now))
			adds = append(adds, pendingAdd{key: k, n: e.send(), ms: ms})
			entries = append(entries, e)
		}
	}
	l.mu.Unlock()
	if len(adds) == 0 {
		return nil
	}

	ws, errs, err := l.shared.addMulti(ctx, adds)

	l.mu.Lock()
	defer l.mu.Unlock()
	var firstErr error
	for i, e := range entries {
		var w ports.Window
		keyErr := err
		if err == nil {
			w, keyErr = ws[i], errs[i]
		}
		l.landed(e, adds[i].n, now, w, keyErr)
		firstErr = cmp.Or(firstErr, keyErr)
	}
	return firstErr
}

// Close stops the background flush and sends what is left, within the
// client's timeout.
func (l *BufferedLimiter) Close() {
	select {
	case <-l.stop:
		return
	default:
	}
	close(l.stop)
	<-l.done
	_ = l.Flush(context.Background())
}

func (l *BufferedLimiter) flushLoop(every time.Duration) {
	defer close(l.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			if err := l.Flush(context.Background()); err != nil {
				l.shared.fallingBack(context.Background(), "flush", err)
			}
		}
	}
}

// Fallbacks counts the calls answered without Redis, for metrics.
func (l *BufferedLimiter) Fallbacks() int64 { return l.shared.Fallbacks() }

// floorMillis is d in Redis' unit, rounded down so that a window opened in
// Redis never ends after the one held here; at least a millisecond.
func floorMillis(d time.Duration) int64 {
	return max(int64(d/time.Millisecond), 1)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
