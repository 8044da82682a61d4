// Command propagation measures how long a logout on one authd instance takes
// to reach another: the time from the logout's 204 on instance X to the
// first 401 for the same token on instance Y, with Y polling GET /auth/me
// back to back from the moment the 204 arrives.
//
//	propagation -a http://127.0.0.1:8001 -b http://127.0.0.1:8002 -n 240 -csv samples.csv
//
// Samples alternate direction (logout on A, watch B; then the reverse).
// Before each logout, Y holds the session in its client-side cache: Y reads
// it once (which fills Redis and, in authd, makes Y read that key from Redis
// itself for about 1.3 s after its own write), waits that window out, then
// reads it twice more (the first fetches it into the local cache, the
// second answers from there). So what is measured is the invalidation of a
// warm local copy, the case that can serve a revoked session.
//
// It prints one JSON line: n, timeouts (no 401 within -wait), p50, p90, p99
// and max in milliseconds, the count of 200s Y served after the 204
// (stale answers), and Y's /auth/me round trip (p50) for scale.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/authd/authd/perf/internal/stats"
)

type sample struct {
	LogoutOn  string
	Stale     int           // 200s Y answered after X's 204
	Prop      time.Duration // X's 204 received → Y's first 401 received
	SentAfter time.Duration // X's 204 received → the request that got 401 sent
	Logout    time.Duration // the logout's own round trip
	TimedOut  bool
}

func main() {
	a := flag.String("a", "", "instance A base URL")
	b := flag.String("b", "", "instance B base URL")
	n := flag.Int("n", 240, "samples")
	batch := flag.Int("batch", 60, "sessions prepared at once")
	wait := flag.Duration("wait", 2*time.Second, "longest a sample waits for its 401")
	window := flag.Duration("window", 1500*time.Millisecond, "wait after Y's own cache fill (authd reads its own writes from Redis for 1.3 s)")
	csvPath := flag.String("csv", "", "write the samples here")
	flag.Parse()
	if *a == "" || *b == "" {
		fmt.Fprintln(os.Stderr, "propagation: -a and -b are required")
		os.Exit(2)
	}
	if err := run(*a, *b, *n, *batch, *wait, *window, *csvPath); err != nil {
		fmt.Fprintln(os.Stderr, "propagation:", err)
		os.Exit(1)
	}
}

func run(a, b string, n, batch int, wait, window time.Duration, csvPath string) error {
	// Separate clients, so the logout and the polling never share a
	// connection; each keeps its connections alive.
	logoutClient := &http.Client{Timeout: 10 * time.Second}
	pollClient := &http.Client{Timeout: 10 * time.Second}

	email := fmt.Sprintf("prop_%d@example.com", time.Now().UnixNano())
	const password = "strongpass123"
	if _, err := call(logoutClient, "POST", a+"/auth/register", "", map[string]string{"name": "Propagation", "email": email, "password": password}, 201); err != nil {
		return err
	}

	var samples []sample
	var rtt []float64
	for len(samples) < n {
		k := min(batch, n-len(samples))
		tokens, err := loginMany(logoutClient, a, email, password, k)
		if err != nil {
			return err
		}
		// Sample j logs out on X and watches Y.
		base := len(samples)
		pair := func(j int) (x, y, name string) {
			if (base+j)%2 == 0 {
				return a, b, "A"
			}
			return b, a, "B"
		}
		warm := func(j int) error {
			_, y, _ := pair(j)
			_, err := call(pollClient, "GET", y+"/auth/me", tokens[j], nil, 200)
			return err
		}
		for j := range k {
			if err := warm(j); err != nil {
				return err
			}
		}
		time.Sleep(window)
		for j := range k {
			for range 2 {
				t := time.Now()
				if err := warm(j); err != nil {
					return err
				}
				rtt = append(rtt, stats.Ms(time.Since(t)))
			}
		}
		for j := range k {
			x, y, name := pair(j)
			s := sample{LogoutOn: name}
			t0 := time.Now()
			if _, err := call(logoutClient, "POST", x+"/auth/logout", tokens[j], nil, 204); err != nil {
				return err
			}
			t204 := time.Now()
			s.Logout = t204.Sub(t0)
			for {
				sent := time.Now()
				status, _, err := do(pollClient, "GET", y+"/auth/me", tokens[j], nil)
				if err != nil {
					return err
				}
				if status == 401 {
					s.Prop, s.SentAfter = time.Since(t204), sent.Sub(t204)
					break
				}
				if status != 200 {
					return fmt.Errorf("GET /auth/me on %s after logout: %d", y, status)
				}
				s.Stale++
				if time.Since(t204) > wait {
					s.TimedOut, s.Prop = true, time.Since(t204)
					break
				}
			}
			samples = append(samples, s)
		}
	}

	if csvPath != "" {
		var buf bytes.Buffer
		buf.WriteString("logout_on,stale_200s,prop_us,first_401_sent_after_us,logout_us,timed_out\n")
		for _, s := range samples {
			fmt.Fprintf(&buf, "%s,%d,%d,%d,%d,%t\n", s.LogoutOn, s.Stale, s.Prop.Microseconds(), s.SentAfter.Microseconds(), s.Logout.Microseconds(), s.TimedOut)
		}
		if err := os.WriteFile(csvPath, buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	var prop, sentAfter []float64
	stale, staleSamples, timeouts := 0, 0, 0
	for _, s := range samples {
		prop = append(prop, stats.Ms(s.Prop))
		sentAfter = append(sentAfter, stats.Ms(s.SentAfter))
		stale += s.Stale
		if s.Stale > 0 {
			staleSamples++
		}
		if s.TimedOut {
			timeouts++
		}
	}
	p := stats.Summarize(prop)
	sa := stats.Summarize(sentAfter)
	out, _ := json.Marshal(map[string]any{
		"n": len(samples), "timeouts": timeouts,
		"p50_ms": p.P50, "p90_ms": p.P90, "p99_ms": p.P99, "max_ms": p.Max,
		"sent_after_p50_ms": sa.P50, "sent_after_p99_ms": sa.P99, "sent_after_max_ms": sa.Max,
		"stale_200s": stale, "samples_with_stale": staleSamples,
		"me_rtt_p50_ms": stats.Percentile(rtt, 50), "me_rtt_p99_ms": stats.Percentile(rtt, 99),
	})
	fmt.Println(string(out))
	return nil
}

// loginMany opens k sessions for one user, two logins at a time (each costs
// a bcrypt comparison).
func loginMany(c *http.Client, url, email, password string, k int) ([]string, error) {
	tokens := make([]string, k)
	errs := make([]error, k)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for i := range k {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			var tok struct {
				AccessToken string `json:"access_token"`
			}
			body, err := call(c, "POST", url+"/auth/login", "", map[string]string{"email": email, "password": password}, 200)
			if err == nil {
				err = json.Unmarshal(body, &tok)
			}
			tokens[i], errs[i] = tok.AccessToken, err
		})
	}
	wg.Wait()
	return tokens, errors.Join(errs...)
}

// do sends one request and reads the whole answer.
func do(c *http.Client, method, url, bearer string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// call is do that fails unless the status is want.
func call(c *http.Client, method, url, bearer string, body any, want int) ([]byte, error) {
	status, b, err := do(c, method, url, bearer, body)
	if err == nil && status != want {
		err = fmt.Errorf("%s %s: %d %s", method, url, status, b)
	}
	return b, err
}
