// Package redis holds the Redis adapters: a ports.Cache with rueidis'
// client-side caching (RESP3 tracking) and a ports.RateLimiter whose counts
// hold across instances.
//
// Redis is never the source of truth here. Every call runs under a deadline,
// and when Redis does not answer the adapters say so at once (ErrUnavailable)
// instead of making each request wait, so callers fall back to the database
// or to process memory.
package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
)

// ErrUnavailable is returned without asking Redis while a recent call found
// it unreachable; see Client.
var ErrUnavailable = errors.New("redis: unavailable")

// Options configure Open. Zero values take the defaults named.
type Options struct {
	// URL is redis://[user:password@]host:port/db, rediss:// for TLS, or
	// anything else rueidis.ParseURL accepts. client_cache=0 turns
	// client-side caching off, for Redis services without RESP3 tracking:
	// every Get then asks Redis.
	URL string
	// CacheSizeMB bounds this process's client-side cache, all connections
	// together. Default 64.
	CacheSizeMB int
	// Timeout bounds every call to Redis. Default 300ms.
	Timeout time.Duration
	// LocalTTL is the longest an entry stays in this process's memory.
	// Redis' own TTL of the key shortens it further, and an invalidation
	// from Redis ends it at once. Default 1 minute.
	LocalTTL time.Duration
	// Cooldown is how long calls fail fast after Redis was found
	// unreachable, before one call probes it again. Default 1s.
	Cooldown time.Duration
	// HealthCheck is how long a connection may stay silent before rueidis
	// PINGs it; a PING unanswered within max(3×HealthCheck, 2×Timeout)
	// drops the connection and its local cache. This bounds how long a
	// network that silently drops packets (no error, and no invalidations
	// either) can leave local copies answering: two to three HealthChecks
	// plus that wait (1.45s measured with the defaults). Default 250ms.
	HealthCheck time.Duration
	Logger      *slog.Logger
}

// Client is a connection to one Redis (or cluster) shared by the Cache and
// the RateLimiter built on it. It is safe for concurrent use.
//
// When a call fails for want of Redis (connection refused or lost, or no
// answer within Timeout), the client stops asking for Cooldown: calls
// return ErrUnavailable at once, and this process's client-side cache is
// not consulted either. After the cooldown a single PING probes Redis; the
// first one that succeeds lets calls through again. So an outage costs each
// request nothing but the fallback, and recovery needs nobody.
type Client struct {
	rdb      rueidis.Client
	timeout  time.Duration
	localTTL time.Duration
	cooldown time.Duration
	// connTimeout is rueidis' ConnWriteTimeout, for tests to report.
	connTimeout time.Duration
	log         *slog.Logger

	// openUntil is 0 while Redis answers, otherwise the UnixNano until which
	// calls fail fast.
	openUntil atomic.Int64
	probing   atomic.Bool

	recent recentWrites
}

// Open connects to Redis with client-side caching on (unless the URL says
// client_cache=0). A malformed URL, or options rueidis refuses, is an
// error. Redis being unreachable is not, for a single-address URL: authd
// must start and serve from its database while Redis is down, and the
// client connects once Redis answers (Ping tells /readyz meanwhile).
func Open(ctx context.Context, o Options) (*Client, error) {
	opt, err := rueidis.ParseURL(o.URL)
	if err != nil {
		return nil, fmt.Errorf("redis: parse url: %w", err)
	}
	if o.CacheSizeMB <= 0 {
		o.CacheSizeMB = 64
	}
	if o.Timeout <= 0 {
		o.Timeout = 300 * time.Millisecond
	}
	if o.LocalTTL <= 0 {
		o.LocalTTL = time.Minute
	}
	if o.Cooldown <= 0 {
		o.Cooldown = time.Second
	}
	if o.HealthCheck <= 0 {
		o.HealthCheck = 250 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}

	// rueidis gives each pipelined connection its own cache of
	// CacheSizeEachConn bytes and spreads keys over 2^PipelineMultiplex
	// connections; fix the count so the total is what was asked for.
	multiplex := min(2, int(math.Log2(float64(runtime.GOMAXPROCS(0)))))
	opt.PipelineMultiplex = multiplex
	opt.CacheSizeEachConn = max(1, (o.CacheSizeMB<<20)>>multiplex)
	opt.ClientName = "authd"
	// A connection that stops answering is only dropped, and its cache with
	// it, when a background PING (sent after Dialer.KeepAlive of silence)
	// gets no reply within ConnWriteTimeout (pipe.go, backgroundPing).
	// Until then invalidations may be lost while local hits still answer;
	// rueidis' defaults would allow some 12s. Values the URL set
	// (dial_timeout, write_timeout) stand.
	opt.Dialer.KeepAlive = o.HealthCheck
	if opt.ConnWriteTimeout == 0 {
		opt.ConnWriteTimeout = max(3*o.HealthCheck, 2*o.Timeout)
	}
	if opt.Dialer.Timeout == 0 {
		opt.Dialer.Timeout = max(time.Second, o.Timeout)
	}

	rdb, err := rueidis.NewClient(opt)
	var netErr net.Error
	if err != nil && errors.As(err, &netErr) && len(opt.InitAddress) == 1 && opt.Sentinel.MasterSet == "" {
		// NewClient fails when it cannot dial. A single client can be made
		// without the first dial and connects on first use.
		o.Logger.WarnContext(ctx, "redis unreachable at start; serving without it until it answers", "err", err)
		opt.ForceSingleClient = true
		rdb, err = rueidis.NewClient(opt)
		if rdb != nil {
			err = nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("redis: connect: %w", err)
	}
	return &Client{rdb: rdb, timeout: o.Timeout, localTTL: o.LocalTTL, cooldown: o.Cooldown, connTimeout: opt.ConnWriteTimeout, log: o.Logger}, nil
}

// Ping asks Redis for a PONG within the client's timeout, for /readyz. It
// always asks, cooldown or not.
func (c *Client) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := c.rdb.Do(ctx, c.rdb.B().Ping().Build()).Error(); err != nil {
		return fmt.Errorf("redis: ping: %w", err)
	}
	return nil
}

// Close closes every connection.
func (c *Client) Close() { c.rdb.Close() }

// admit decides whether a call may go to Redis now: nil, or ErrUnavailable
// during the cooldown (or while another caller probes), or the probe's
// error.
func (c *Client) admit(ctx context.Context) error {
	until := c.openUntil.Load()
	if until == 0 {
		return nil
	}
	if time.Now().UnixNano() < until || !c.probing.CompareAndSwap(false, true) {
		return ErrUnavailable
	}
	defer c.probing.Store(false)
	// A real round trip: a DoCache answered from local memory would say
	// nothing about the connection.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
	defer cancel()
	if err := c.rdb.Do(pctx, c.rdb.B().Ping().Build()).Error(); err != nil {
		c.openUntil.Store(time.Now().Add(c.cooldown).UnixNano())
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if c.openUntil.Swap(0) != 0 {
		c.log.InfoContext(ctx, "redis reachable again")
	}
	return nil
}

// observe looks at the error of a call made under parent and starts a
// cooldown when it says Redis could not be reached. Errors Redis itself
// replied with, and a caller that gave up, say nothing about reachability.
func (c *Client) observe(parent context.Context, err error) {
	if err == nil || rueidis.IsRedisNil(err) || errors.Is(err, rueidis.ErrClosing) || parent.Err() != nil {
		return
	}
	if _, replied := rueidis.IsRedisErr(err); replied {
		return
	}
	if c.openUntil.Swap(time.Now().Add(c.cooldown).UnixNano()) == 0 {
		c.log.WarnContext(parent, "redis unreachable; falling back until it answers", "err", err, "cooldown", c.cooldown)
	}
}

// call runs f against Redis under the client's timeout, unless admit says
// no, and records what its error says about reachability. The deadline is
// lazy: a client-side cache hit never waits, so it never pays for a timer.
func (c *Client) call(ctx context.Context, f func(ctx context.Context) error) error {
	if c.openUntil.Load() != 0 { // admit's fast path, kept here: call runs on every request
		if err := c.admit(ctx); err != nil {
			return err
		}
	}
	cctx := withLazyDeadline(ctx, c.timeout)
	err := f(cctx)
	cctx.release()
	if err != nil {
		c.observe(ctx, err)
	}
	return err
}

// warnEvery logs a warning at most once per interval and counts what it
// held back, so an outage cannot flood the log.
type warnEvery struct {
	interval time.Duration
	log      *slog.Logger

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (w *warnEvery) warn(ctx context.Context, msg string, args ...any) {
	w.mu.Lock()
	now := time.Now()
	if !w.last.IsZero() && now.Sub(w.last) < w.interval {
		w.suppressed++
		w.mu.Unlock()
		return
	}
	n := w.suppressed
	w.last, w.suppressed = now, 0
	w.mu.Unlock()
	w.log.WarnContext(ctx, msg, append(args, "suppressed_since_last", n)...)
}
