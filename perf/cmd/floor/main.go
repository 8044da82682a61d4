// Command floor answers the three routes of the old service's Locust
// workload with constant bodies and no work at all. Run under the same
// Locust settings as authd, in the same session, it measures the load
// generator's own latency and throughput floor (NOTES.md: part of what
// Locust reports is Locust's), so authd's figures can be read against it.
package main

import (
	"flag"
	"log"
	"net/http"
)

const (
	user   = `{"id":"0193f4c2-0000-7000-8000-000000000000","name":"Load Test User","email":"x@example.com","is_active":true,"role":"user","created_at":"2026-12-03T16:00:00Z","updated_at":"2026-12-03T16:00:00Z","profile":{"first_name":null,"last_name":null,"phone_number":null,"address":null}}`
	tokens = `{"access_token":"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.c2lnbmF0dXJl","refresh_token":"floor","token_type":"bearer","expires_in":900}`
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8099", "listen address")
	flag.Parse()
	reply := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}
	}
	mux := http.NewServeMux()
	mux.Handle("POST /auth/register", reply(http.StatusCreated, user))
	mux.Handle("POST /auth/login", reply(http.StatusOK, tokens))
	mux.Handle("GET /auth/me", reply(http.StatusOK, user))
	mux.Handle("GET /healthz", reply(http.StatusOK, `{"status":"ok"}`))
	log.Fatal(http.ListenAndServe(*addr, mux))
}
