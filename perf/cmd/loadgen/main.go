// Command loadgen drives authd over HTTP and records every request.
//
//	loadgen register -url URL -n 20 [-sessions K] -out users.json
//	    registers n users (password strongpass123) and logs each in K
//	    times (default once), writing one entry per login: email, password,
//	    access token and refresh token. Each entry is a session of its own,
//	    so K logins give K entries whose refreshes never collide.
//
//	loadgen run -users users.json [-save FILE] -csv out.csv -stream SPEC [-stream SPEC …]
//	    runs the streams side by side and writes one CSV row per request
//	    (perf/internal/load). SPEC is ENDPOINT,MODE,FROM-TO[,url=URL]:
//	      ENDPOINT  me (GET /auth/me with a user's bearer token), login
//	                (POST /auth/login with a user's email and password),
//	                or refresh (POST /auth/refresh with a user's current
//	                refresh token; see below); users are taken round-robin.
//	      MODE      open=RATE: requests arrive at RATE a second whatever
//	                the answers do (each on its own goroutine; latency is
//	                counted from its slot in the schedule), or closed=C: C
//	                workers each send the next request when the last answered.
//	      FROM-TO   when the stream runs, as offsets from the start
//	                (e.g. 5s-15s).
//	    e.g. -stream me,open=200,0s-22s -stream login,open=80,5s-15s
//
// Refresh rotates: each user holds one current refresh token, a 200 replaces
// it with the one answered, and a user never has two refreshes in flight,
// since presenting a token that is being rotated is reuse, which authd
// answers by revoking the session once its grace interval has passed. A
// refresh takes the next user round-robin whose last refresh has answered;
// when none is free, the request is not sent and is recorded with the error
// "no-free-user" (too few users for the rate and latency), never silently
// dropped. A refresh that got no answer (a timeout) leaves the user's token
// unknown (authd may have rotated it), so that user is retired from
// refreshing for the rest of the run. -save writes the users with the tokens
// they hold at the end (retired ones with none), so a later run goes on
// rotating where this one stopped.
//
// Every run is bounded: it ends at the largest TO plus the request timeout.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authd/authd/perf/internal/load"
	"github.com/authd/authd/perf/internal/stats"
)

// Password is every generated user's password, as in the old service's
// Locust script.
const Password = "strongpass123"

type user struct {
	Email        string `json:"email"`
	Password     string `json:"password"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadgen register|run [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "register":
		err = register(os.Args[2:])
	case "run":
		err = run(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func newClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        0,
			MaxIdleConnsPerHost: 4096,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

func register(args []string) error {
	fs := flag.NewFlagSet("register", flag.ExitOnError)
	url := fs.String("url", "http://127.0.0.1:8000", "authd base URL")
	n := fs.Int("n", 20, "users to register")
	sessions := fs.Int("sessions", 1, "logins (sessions) per user, each written as an entry of its own")
	prefix := fs.String("prefix", "perf", "email prefix")
	out := fs.String("out", "users.json", "where to write the users")
	conc := fs.Int("c", 4, "requests at once")
	_ = fs.Parse(args)
	if *sessions < 1 {
		return errors.New("-sessions must be at least 1")
	}

	client := newClient(30 * time.Second)
	users := make([]user, *n**sessions)
	tag := strconv.FormatInt(time.Now().UnixNano()%1e8, 36)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		next     atomic.Int64
	)
	for range *conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= *n {
					return
				}
				email := fmt.Sprintf("%s_%s_%06d@example.com", *prefix, tag, i)
				err := post(client, *url+"/auth/register", map[string]string{
					"name": fmt.Sprintf("Perf User %d", i), "email": email, "password": Password,
				}, http.StatusCreated, nil)
				// One user's logins run one after another, so authd's
				// credential cache (when on) hashes only the first.
				for j := 0; j < *sessions && err == nil; j++ {
					var tok struct {
						AccessToken  string `json:"access_token"`
						RefreshToken string `json:"refresh_token"`
					}
					err = post(client, *url+"/auth/login", map[string]string{"email": email, "password": Password}, http.StatusOK, &tok)
					mu.Lock()
					users[i**sessions+j] = user{Email: email, Password: Password, AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken}
					mu.Unlock()
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return writeUsers(*out, users)
}

func writeUsers(path string, users []user) error {
	b, err := json.MarshalIndent(users, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

func post(client *http.Client, url string, body any, want int, into any) error {
	b, _ := json.Marshal(body)
	res, err := client.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		return err
	}
	defer res.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(res.Body, 1<<16))
	if res.StatusCode != want {
		return fmt.Errorf("POST %s: %d %s", url, res.StatusCode, rb)
	}
	if into != nil {
		return json.Unmarshal(rb, into)
	}
	return nil
}

type stream struct {
	name     string
	endpoint string
	rate     float64 // open loop: arrivals a second
	conc     int     // closed loop: workers
	from, to time.Duration
	url      string
}

func parseStream(i int, spec, defURL string) (stream, error) {
	parts := strings.Split(spec, ",")
	if len(parts) < 3 {
		return stream{}, fmt.Errorf("stream %q: want ENDPOINT,MODE,FROM-TO[,url=URL]", spec)
	}
	s := stream{endpoint: parts[0], url: defURL}
	if s.endpoint != "me" && s.endpoint != "login" && s.endpoint != "refresh" {
		return stream{}, fmt.Errorf("stream %q: endpoint must be me, login or refresh", spec)
	}
	s.name = fmt.Sprintf("%s#%d", s.endpoint, i)
	mode, val, _ := strings.Cut(parts[1], "=")
	switch mode {
	case "open":
		r, err := strconv.ParseFloat(val, 64)
		if err != nil || r <= 0 {
			return stream{}, fmt.Errorf("stream %q: bad rate %q", spec, val)
		}
		s.rate = r
	case "closed":
		c, err := strconv.Atoi(val)
		if err != nil || c <= 0 {
			return stream{}, fmt.Errorf("stream %q: bad concurrency %q", spec, val)
		}
		s.conc = c
	default:
		return stream{}, fmt.Errorf("stream %q: mode must be open=RATE or closed=C", spec)
	}
	a, b, ok := strings.Cut(parts[2], "-")
	from, err1 := time.ParseDuration(a)
	to, err2 := time.ParseDuration(b)
	if !ok || err1 != nil || err2 != nil || to <= from || from < 0 {
		return stream{}, fmt.Errorf("stream %q: bad window %q", spec, parts[2])
	}
	s.from, s.to = from, to
	for _, p := range parts[3:] {
		if u, ok := strings.CutPrefix(p, "url="); ok {
			s.url = u
		} else {
			return stream{}, fmt.Errorf("stream %q: unknown option %q", spec, p)
		}
	}
	return s, nil
}

type specs []string

func (s *specs) String() string     { return strings.Join(*s, " ") }
func (s *specs) Set(v string) error { *s = append(*s, v); return nil }

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	url := fs.String("url", "http://127.0.0.1:8000", "default authd base URL")
	usersFile := fs.String("users", "users.json", "users written by loadgen register")
	csvPath := fs.String("csv", "", "write every request here")
	save := fs.String("save", "", "after the run, write the users with the refresh tokens they hold now (may be the -users file)")
	timeout := fs.Duration("timeout", 10*time.Second, "per-request timeout")
	var ss specs
	fs.Var(&ss, "stream", "ENDPOINT,MODE,FROM-TO[,url=URL] (repeatable)")
	_ = fs.Parse(args)
	if len(ss) == 0 {
		return errors.New("no -stream given")
	}
	b, err := os.ReadFile(*usersFile)
	if err != nil {
		return err
	}
	var users []user
	if err := json.Unmarshal(b, &users); err != nil || len(users) == 0 {
		return fmt.Errorf("%s: no users (%v)", *usersFile, err)
	}
	var streams []stream
	refreshing := false
	for i, spec := range ss {
		s, err := parseStream(i, spec, *url)
		if err != nil {
			return err
		}
		streams = append(streams, s)
		refreshing = refreshing || s.endpoint == "refresh"
	}

	g := &gen{client: newClient(*timeout), users: users, rot: newRotation(users)}
	if refreshing && g.rot.free == 0 {
		return fmt.Errorf("%s: no user holds a refresh token (register them with this loadgen)", *usersFile)
	}
	// Bodies are prepared before the clock starts.
	for _, u := range users {
		lb, _ := json.Marshal(map[string]string{"email": u.Email, "password": u.Password})
		g.loginBodies = append(g.loginBodies, lb)
	}
	g.t0 = time.Now()
	var wg sync.WaitGroup
	for _, s := range streams {
		wg.Go(func() { g.stream(s) })
	}
	wg.Wait()
	took := time.Since(g.t0)

	slices.SortFunc(g.recs, func(a, b load.Record) int { return int(a.Sched - b.Sched) })
	if *csvPath != "" {
		f, err := os.Create(*csvPath)
		if err != nil {
			return err
		}
		if err := load.WriteCSV(f, g.recs); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	if *save != "" {
		for i := range users {
			users[i].RefreshToken = g.rot.tokens[i]
		}
		if err := writeUsers(*save, users); err != nil {
			return err
		}
	}
	summarize(os.Stdout, streams, g.recs, took)
	if refreshing {
		fmt.Fprintf(os.Stdout, "refresh: %d of %d users retired (a refresh without an answer left their token unknown)\n", g.rot.retired, len(users))
	}
	return nil
}

type gen struct {
	client      *http.Client
	users       []user
	loginBodies [][]byte
	rot         *rotation
	t0          time.Time
	next        atomic.Uint64

	mu   sync.Mutex
	recs []load.Record
}

func (g *gen) stream(s stream) {
	sleepUntil(g.t0.Add(s.from))
	var wg sync.WaitGroup
	if s.rate > 0 {
		interval := float64(time.Second) / s.rate
		for i := 0; ; i++ {
			sched := s.from + time.Duration(float64(i)*interval)
			if sched >= s.to {
				break
			}
			sleepUntil(g.t0.Add(sched))
			wg.Go(func() { g.do(s, sched) })
		}
	} else {
		for range s.conc {
			wg.Go(func() {
				for {
					now := time.Since(g.t0)
					if now >= s.to {
						return
					}
					g.do(s, now)
				}
			})
		}
	}
	wg.Wait()
}

func sleepUntil(t time.Time) {
	if d := time.Until(t); d > 0 {
		time.Sleep(d)
	}
}

// rotation is every user's current refresh token and whether a refresh of
// it is in flight.
type rotation struct {
	mu      sync.Mutex
	tokens  []string // "" once retired, or when the user never had one
	busy    []bool
	next    int // where the round-robin search starts
	free    int // users with a token and nothing in flight
	retired int
}

func newRotation(users []user) *rotation {
	r := &rotation{tokens: make([]string, len(users)), busy: make([]bool, len(users))}
	for i, u := range users {
		r.tokens[i] = u.RefreshToken
		if u.RefreshToken != "" {
			r.free++
		}
	}
	return r
}

// take returns the next user round-robin holding a token with no refresh
// in flight, and marks it busy; ok is false when there is none.
func (r *rotation) take() (i int, token string, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.free == 0 {
		return 0, "", false
	}
	n := len(r.tokens)
	for k := range n {
		i = (r.next + k) % n
		if !r.busy[i] && r.tokens[i] != "" {
			r.busy[i] = true
			r.free--
			r.next = i + 1
			return i, r.tokens[i], true
		}
	}
	return 0, "", false // not reached: free counts exactly these
}

// release ends user i's refresh: token is what the user holds from now on,
// "" to retire it.
func (r *rotation) release(i int, token string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.busy[i] = false
	r.tokens[i] = token
	if token == "" {
		r.retired++
	} else {
		r.free++
	}
}

func (g *gen) do(s stream, sched time.Duration) {
	r := load.Record{Stream: s.name, Endpoint: s.endpoint, Sched: sched}
	var (
		req     *http.Request
		refresh = -1 // the user being refreshed
		token   string
	)
	switch s.endpoint {
	case "me":
		i := int(g.next.Add(1) % uint64(len(g.users)))
		req, _ = http.NewRequest(http.MethodGet, s.url+"/auth/me", nil)
		req.Header.Set("Authorization", "Bearer "+g.users[i].AccessToken)
	case "login":
		i := int(g.next.Add(1) % uint64(len(g.users)))
		req, _ = http.NewRequest(http.MethodPost, s.url+"/auth/login", bytes.NewReader(g.loginBodies[i]))
		req.Header.Set("Content-Type", "application/json")
	case "refresh":
		i, tok, ok := g.rot.take()
		if !ok {
			r.Start = time.Since(g.t0)
			r.Err = "no-free-user"
			r.Latency = r.Start - sched
			g.record(r)
			return
		}
		refresh, token = i, tok
		body, _ := json.Marshal(map[string]string{"refresh_token": tok})
		req, _ = http.NewRequest(http.MethodPost, s.url+"/auth/refresh", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	}
	r.Start = time.Since(g.t0)
	res, err := g.client.Do(req)
	if err != nil {
		r.Err = errClass(err)
		token = "" // authd may have rotated it: retire the user
	} else {
		body, rerr := io.ReadAll(io.LimitReader(res.Body, 1<<16))
		res.Body.Close()
		r.Status = res.StatusCode
		r.RetryAfter = res.Header.Get("Retry-After")
		switch {
		case rerr != nil:
			r.Err = errClass(rerr)
			token = ""
		case s.endpoint == "login" && res.StatusCode == http.StatusOK && !bytes.Contains(body, []byte(`"access_token"`)):
			r.Err = "200 without access_token"
		case s.endpoint == "refresh" && res.StatusCode == http.StatusOK:
			var pair struct {
				RefreshToken string `json:"refresh_token"`
			}
			if json.Unmarshal(body, &pair) != nil || pair.RefreshToken == "" {
				r.Err = "200 without refresh_token"
			}
			// The old token is spent either way; without a new one the
			// user is retired.
			token = pair.RefreshToken
		}
	}
	r.Latency = time.Since(g.t0) - sched
	if refresh >= 0 {
		g.rot.release(refresh, token)
	}
	g.record(r)
}

func (g *gen) record(r load.Record) {
	g.mu.Lock()
	g.recs = append(g.recs, r)
	g.mu.Unlock()
}

func errClass(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "connection closed"
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	return s
}

// summarize prints one line per stream: what it asked for, what it got.
func summarize(w io.Writer, streams []stream, recs []load.Record, took time.Duration) {
	for _, s := range streams {
		var lat []float64
		status := map[string]int{}
		ok := 0
		for _, r := range recs {
			if r.Stream != s.name {
				continue
			}
			key := strconv.Itoa(r.Status)
			if r.Err != "" {
				key = "error:" + r.Err
			} else if r.Status == http.StatusServiceUnavailable && r.RetryAfter != "" {
				key = "503+Retry-After"
			}
			status[key]++
			if r.Status == http.StatusOK && r.Err == "" {
				lat = append(lat, stats.Ms(r.Latency))
				if r.End() <= s.to {
					ok++
				}
			}
		}
		sum := stats.Summarize(lat)
		mode := fmt.Sprintf("closed=%d", s.conc)
		if s.rate > 0 {
			mode = fmt.Sprintf("open=%g/s", s.rate)
		}
		fmt.Fprintf(w, "%s %s %s-%s: %d×200 done within the window (%.1f/s); statuses %v; 200 latency ms p50 %.2f p99 %.2f max %.2f\n",
			s.name, mode, s.from, s.to, ok, float64(ok)/(s.to-s.from).Seconds(), status, sum.P50, sum.P99, sum.Max)
	}
	fmt.Fprintf(w, "run took %s\n", took.Round(time.Millisecond))
}
