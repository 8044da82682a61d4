// Package readthrough puts a ports.Cache in front of the stores without app
// knowing: reads fill the cache from the store on a miss, writes go to the
// store first and then put the new value in the cache. The same decorators
// serve the in-process cache and Redis.
//
// Every cached value carries the row's Version, and the cache keeps the
// highest it has seen (ports.Cache), so a reader that loaded a row just
// before a writer committed cannot put the older row back over the newer
// one. Deletion puts a tombstone at the highest version, which nothing can
// overwrite until it expires.
//
// The cache is never needed: a cache error is logged and the store answers.
// A write whose cache Put fails is the dangerous case, since the cache may
// still hold the row as it was (a session not yet revoked). Three things
// bound it:
//
//   - If the cache is Redis and Redis is down, no instance holds local
//     copies: rueidis drops a connection's client-side cache with the
//     connection (pipe.go, (*pipe)._background calls p.cache.Close), and
//     the Redis client fails fast instead of answering from memory while
//     Redis is unreachable (adapters/redis.Client). A network that drops
//     packets silently is noticed by rueidis' PING within about 1.5s
//     (adapters/redis.Options.HealthCheck).
//   - The write is queued for repair: a background loop reloads the row
//     from the store and puts it again until the cache takes it, and until
//     then this instance reads that key from the store. This covers Redis
//     coming back with its data intact (a network cut rather than a
//     restart), which would otherwise serve the old row to every instance.
//   - Every entry has a TTL (Options.TTL), so even a repair that never
//     happens (the process died) leaves a stale entry for at most that long.
//
// Other instances that can still reach Redis during such a cut would serve
// the old row until the repair lands. On PostgreSQL they do not: the
// database announces every user change and session revocation itself
// (sqlstore.DB.Watch), and Changed queues the key on every instance, which
// then reads it from the store until the stored row is back in the cache.
// The same covers instances with no shared cache at all.
package readthrough

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authd/authd/ports"
)

// Options configure the decorators.
type Options struct {
	// TTL is how long an entry lives in the cache, and so the longest a
	// stale entry can outlive a lost write. Default DefaultTTL.
	TTL    time.Duration
	Logger *slog.Logger
	// Clock tells the session decorator when a cached session has expired
	// (see SessionStore.ByID). Default the system clock.
	Clock ports.Clock
}

// DefaultTTL is the TTL when Options leave it zero.
const DefaultTTL = time.Minute

// Log throttling: an outage makes every request fail the same way.
const warnEvery = 10 * time.Second

// maxRepairs bounds the repair queue. Past it a failed write is only
// logged, and the TTL alone bounds what the cache may still hold.
const maxRepairs = 100_000

// Repair backoff: short at first, since a cut that heals quickly should be
// repaired before anyone reads the key elsewhere.
const (
	repairFirstDelay = 50 * time.Millisecond
	repairMaxDelay   = 2 * time.Second
	// repairOpTimeout bounds a write-through Put, and one reload or Put of
	// the repair loop.
	repairOpTimeout = 5 * time.Second
)

// reloadFunc reads the current state of a cached row from the store: its
// version and encoded value, or a tombstone when the row is gone.
type reloadFunc func(ctx context.Context) (version int64, value []byte, err error)

// layer is what both decorators share: reads, writes, logging and repair.
type layer struct {
	cache ports.Cache
	ttl   time.Duration
	log   *slog.Logger
	clock ports.Clock
	kind  string // "user" or "session", for log lines

	readWarn, writeWarn throttle

	mu      sync.Mutex
	repairs map[string]repairJob
	queued  atomic.Int64 // len(repairs), readable without mu
	running bool
	seq     uint64
}

type repairJob struct {
	reload   reloadFunc
	giveUpAt time.Time
	seq      uint64 // identifies this failure; a newer one replaces it
	heard    bool   // queued by changed, not by a failed write
}

func newLayer(cache ports.Cache, o Options, kind string) *layer {
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = ports.ClockFunc(time.Now)
	}
	return &layer{cache: cache, ttl: o.TTL, log: o.Logger, clock: o.Clock, kind: kind, repairs: map[string]repairJob{}}
}

type lookup int

const (
	hit    lookup = iota
	miss          // fill from the store
	bypass        // cache failed or key under repair: read the store, fill nothing
)

func (l *layer) get(ctx context.Context, key string) ([]byte, lookup) {
	if l.repairing(key) {
		return nil, bypass
	}
	v, ok, err := l.cache.Get(ctx, key)
	switch {
	case err != nil:
		l.readWarn.warn(ctx, l.log, "cache read failed; reading the store", "kind", l.kind, "err", err)
		return nil, bypass
	case !ok:
		return nil, miss
	}
	return v, hit
}

// fill puts what a read loaded from the store (encErr: the value could not
// be encoded). Failing loses nothing: the next read loads it again.
func (l *layer) fill(ctx context.Context, key string, version int64, value []byte, encErr error) {
	err := encErr
	if err == nil {
		err = l.cache.Put(ctx, key, version, value, l.ttl)
	}
	if err != nil {
		l.readWarn.warn(ctx, l.log, "cache fill failed", "kind", l.kind, "err", err)
	}
}

// write puts what a write stored (encErr: the value could not be encoded).
// Failing may leave the old value in the cache, so the key goes to the
// repair queue.
func (l *layer) write(ctx context.Context, key string, version int64, value []byte, encErr error, reload reloadFunc) {
	// The store has committed: a client that hangs up now must not stop
	// the cache from learning it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), repairOpTimeout)
	defer cancel()
	err := encErr
	if err == nil {
		err = l.cache.Put(ctx, key, version, value, l.ttl)
	}
	if err != nil {
		l.writeWarn.warn(ctx, l.log, "cache write failed after the store committed; repairing in the background",
			"kind", l.kind, "key", key, "err", err)
		l.repair(key, reload)
	}
}

// repair queues key to be reloaded from the store and put again, until the
// cache takes it or any entry older than now has expired. Until then this
// instance reads key from the store.
func (l *layer) repair(key string, reload reloadFunc) { l.queueRepair(key, reload, false) }

// changed is repair for a change another process made in the store.
func (l *layer) changed(key string, reload reloadFunc) { l.queueRepair(key, reload, true) }

func (l *layer) queueRepair(key string, reload reloadFunc, heard bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, queued := l.repairs[key]; !queued && len(l.repairs) >= maxRepairs {
		l.log.Error("cache repair queue full; entry may stay stale until its TTL",
			"kind", l.kind, "key", key, "ttl", l.ttl)
		return
	}
	l.seq++
	// Entries put before now expire within one TTL; a fill racing this
	// write may have put one a moment later, hence the margin.
	l.repairs[key] = repairJob{reload: reload, giveUpAt: time.Now().Add(2 * l.ttl), seq: l.seq, heard: heard}
	l.queued.Store(int64(len(l.repairs)))
	if !l.running {
		l.running = true
		go l.repairLoop()
	}
}

func (l *layer) repairing(key string) bool {
	// Every read asks; almost always nothing is queued, and then no lock
	// is taken.
	if l.queued.Load() == 0 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.repairs[key]
	return ok
}

// repairLoop runs while the queue holds anything.
func (l *layer) repairLoop() {
	delay := repairFirstDelay
	repaired := 0 // after failed writes; changes heard from the store are routine
	for {
		time.Sleep(delay)
		l.mu.Lock()
		jobs := make(map[string]repairJob, len(l.repairs))
		for k, j := range l.repairs {
			jobs[k] = j
		}
		l.mu.Unlock()

		progress := false
		for key, j := range jobs {
			if time.Now().After(j.giveUpAt) {
				l.done(key, j.seq)
				l.log.Warn("gave up repairing a cache entry; any stale copy has expired", "kind", l.kind, "key", key)
				continue
			}
			err := l.repairOne(key, j)
			if err == nil {
				l.done(key, j.seq)
				if !j.heard {
					repaired++
				}
				progress = true
				continue
			}
			if errors.Is(err, errCachePut) {
				break // the cache is still failing; try again later
			}
		}

		l.mu.Lock()
		if len(l.repairs) == 0 {
			l.running = false
			l.mu.Unlock()
			if repaired > 0 {
				l.log.Info("cache entries repaired", "kind", l.kind, "count", repaired)
			}
			return
		}
		l.mu.Unlock()
		if progress {
			delay = repairFirstDelay
		} else {
			delay = min(2*delay, repairMaxDelay)
		}
	}
}

var errCachePut = errors.New("cache put failed")

func (l *layer) repairOne(key string, j repairJob) error {
	ctx, cancel := context.WithTimeout(context.Background(), repairOpTimeout)
	defer cancel()
	version, value, err := j.reload(ctx)
	if err != nil {
		return err
	}
	if err := l.cache.Put(ctx, key, version, value, l.ttl); err != nil {
		return errors.Join(errCachePut, err)
	}
	return nil
}

// done removes key's job unless a newer failure replaced it meanwhile: the
// reload may have read the row before that failure's write.
func (l *layer) done(key string, seq uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if j, ok := l.repairs[key]; ok && j.seq == seq {
		delete(l.repairs, key)
		l.queued.Store(int64(len(l.repairs)))
	}
}

func (l *layer) pendingRepairs() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.repairs)
}

// throttle logs a warning at most once per warnEvery and counts what it
// held back.
type throttle struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (t *throttle) warn(ctx context.Context, log *slog.Logger, msg string, args ...any) {
	t.mu.Lock()
	now := time.Now()
	if !t.last.IsZero() && now.Sub(t.last) < warnEvery {
		t.suppressed++
		t.mu.Unlock()
		return
	}
	n := t.suppressed
	t.last, t.suppressed = now, 0
	t.mu.Unlock()
	log.WarnContext(ctx, msg, append(args, "suppressed_since_last", n)...)
}
