package rest

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"log/slog"
	"math/rand/v2"

	"github.com/authd/authd/app"
)

// HeaderRequestID names the header that carries a request's id both ways,
// spelled in Go's canonical form: http.Header then uses it as the map key
// as it is, where "X-Request-ID" would be canonicalised (and allocated)
// again on every request. Header names are case-insensitive on the wire.
const HeaderRequestID = "X-Request-Id"

// requestState is what the middleware learns about a request and the
// access log reports: its id, the caller requireBearer authenticated, the
// masked email of a register or login. It rides in the request's context,
// put there once by requestID, so that the id reaches app's log lines and
// the rest costs no further allocation (echo's c.Set makes a map for every
// request that uses it).
type requestState struct {
	id        string
	principal *app.Principal
	email     string // masked, "a***@example.com"
}

type requestStateKey struct{}

// RequestID returns the id of the request ctx belongs to, or "" outside one.
func RequestID(ctx context.Context) string {
	if st := stateOf(ctx); st != nil {
		return st.id
	}
	return ""
}

func withRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestStateKey{}, &requestState{id: id})
}

// stateOf is the request's state, or nil outside a request.
func stateOf(ctx context.Context) *requestState {
	st, _ := ctx.Value(requestStateKey{}).(*requestState)
	return st
}

// saneRequestID accepts a client's id only if it cannot forge log lines or
// bloat them: 1–128 characters of [A-Za-z0-9._-].
func saneRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// newRequestID returns 128 random bits in hex. A request id must be unique,
// not secret, so math/rand/v2's per-goroutine ChaCha8 source serves: it
// costs nanoseconds where crypto/rand's system call showed as a tenth of a
// cached GET /auth/me (perf/results/me-cache.md).
func newRequestID() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	return hex.EncodeToString(b[:])
}

// LogHandler wraps h so that every record logged with a request's context
// carries its id as request_id. The server wraps its own logger with it; cmd
// can wrap the logger it gives app too, so the app's security events (failed
// login, token reuse) can be matched to the request that caused them.
func LogHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(requestIDHandler); ok {
		return h
	}
	return requestIDHandler{h}
}

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
