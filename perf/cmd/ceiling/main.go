// Command ceiling measures the machine's bcrypt ceiling: how many password
// checks a second it can do at a given cost with every worker busy. That is
// the physical limit on logins, whatever the service around it does.
//
//	ceiling -cost 10 -d 10s -workers 2
//
// Each worker runs bcrypt.CompareHashAndPassword back to back (what a login
// costs; authd's 44-byte pre-hash is the same length as the input here)
// until the time is up, finishing the hash in hand. It prints one JSON line:
// hashes, seconds, hashes_per_second, ms_per_hash (wall time of one hash on
// one worker).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func main() {
	cost := flag.Int("cost", 10, "bcrypt cost")
	d := flag.Duration("d", 10*time.Second, "how long to hash")
	workers := flag.Int("workers", runtime.NumCPU(), "hashing goroutines (default: every CPU)")
	flag.Parse()

	// 44 bytes, like base64(SHA-256(password)).
	pw := []byte("c3Ryb25ncGFzczEyMy1zdHJvbmdwYXNzMTIzLXN0cm9u")
	hash, err := bcrypt.GenerateFromPassword(pw, *cost)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var (
		n    atomic.Int64
		busy atomic.Int64 // summed wall time of the hashes
		wg   sync.WaitGroup
	)
	start := time.Now()
	stop := start.Add(*d)
	for range *workers {
		wg.Go(func() {
			for time.Now().Before(stop) {
				t := time.Now()
				if err := bcrypt.CompareHashAndPassword(hash, pw); err != nil {
					panic(err)
				}
				busy.Add(int64(time.Since(t)))
				n.Add(1)
			}
		})
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	out, _ := json.Marshal(map[string]any{
		"cost": *cost, "workers": *workers, "gomaxprocs": runtime.GOMAXPROCS(0),
		"hashes": n.Load(), "seconds": secs, "hashes_per_second": float64(n.Load()) / secs,
		"ms_per_hash": float64(busy.Load()) / float64(n.Load()) / 1e6,
	})
	fmt.Println(string(out))
}
