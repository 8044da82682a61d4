package redis

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/adapters/memory"
	"github.com/authd/authd/adapters/readthrough"
	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
)

// BenchmarkGet reads one warm key of a cached user's size every way there
// is, side by side: from the client-side cache, over the network to Redis
// (our Cache inside its own-write window, and a bare rueidis GET), and
// from the in-process cache; then a whole read-through ByID.
func BenchmarkGet(b *testing.B) {
	c := openTest(b, "", Options{})
	prefix := testPrefix(b, c)
	ctx := context.Background()
	value := strings.Repeat("x", 400) // about one encoded user

	local := NewCache(c, prefix)
	local.window = 0
	mustPut(b, local, "k", 1, value)
	mustGet(b, local, "k")

	// The same key, read as if this process had just written it.
	directClient := openTest(b, "", Options{})
	direct := NewCache(directClient, prefix)
	direct.markWritten(prefix + "k")
	directClient.recent.mu.Lock()
	directClient.recent.until[prefix+"k"] = time.Now().Add(time.Hour)
	directClient.recent.mu.Unlock()

	mem := memory.NewCache(10_000, ports.ClockFunc(time.Now))
	if err := mem.Put(ctx, "k", 1, []byte(value), time.Hour); err != nil {
		b.Fatal(err)
	}

	users := memory.NewUserStore()
	u := domain.User{ID: "u1", Name: "Ada Lovelace", Email: "ada@example.com", PasswordHash: domain.PasswordHash("$2a$10$" + strings.Repeat("h", 53)),
		IsActive: true, Role: domain.RoleUser, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := users.Create(ctx, u); err != nil {
		b.Fatal(err)
	}
	rtCache := NewCache(c, prefix+"rt:")
	rtCache.window = 0
	rt := readthrough.NewUserStore(users, rtCache, readthrough.Options{TTL: time.Minute})
	for range 2 {
		if _, err := rt.ByID(ctx, u.ID); err != nil {
			b.Fatal(err)
		}
	}

	get := func(c ports.Cache) func(*testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				if _, ok, err := c.Get(ctx, "k"); err != nil || !ok {
					b.Fatal(ok, err)
				}
			}
		}
	}
	b.Run("ClientSideCache", func(b *testing.B) {
		before := local.Stats().LocalHits
		get(local)(b)
		if hits := local.Stats().LocalHits - before; hits < int64(b.N) {
			b.Fatalf("%d of %d reads were local", hits, b.N)
		}
	})
	b.Run("RedisRoundTrip", get(direct))
	b.Run("RueidisDoGET", func(b *testing.B) {
		for b.Loop() {
			if err := c.rdb.Do(ctx, c.rdb.B().Get().Key(prefix+"k").Build()).Error(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("MemoryCache", get(mem))
	b.Run("ReadThroughUserByID", func(b *testing.B) {
		for b.Loop() {
			if _, err := rt.ByID(ctx, u.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ClientSideCacheParallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, _, err := local.Get(ctx, "k"); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("RedisRoundTripParallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, _, err := direct.Get(ctx, "k"); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
