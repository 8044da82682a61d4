// Command constant is the ceiling of the /auth/me benchmark: a bare Echo
// server that answers every GET with one constant JSON body, read from a
// file so it is byte for byte the size of authd's /auth/me answer. No
// middleware, no token check, no store: what is left is the cost of Go's
// HTTP server and Echo's router, which authd pays too.
//
//	constant -addr 127.0.0.1:8100 -body me.json
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/labstack/echo/v4"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8100", "listen address")
	bodyFile := flag.String("body", "", "file holding the JSON body to answer with (default: a 291-byte user object)")
	flag.Parse()

	body := []byte(`{"id":"01a23d05-dd49-76f6-ad47-2e8d95f8257a","name":"Perf User 0001","email":"perf_00000001@example.com","is_active":true,"role":"user","created_at":"2026-12-03T17:48:44Z","updated_at":"2026-12-03T17:48:44Z","profile":{"first_name":null,"last_name":null,"phone_number":null,"address":null}}`)
	if *bodyFile != "" {
		b, err := os.ReadFile(*bodyFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		body = b
	}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	answer := func(c echo.Context) error { return c.JSONBlob(http.StatusOK, body) }
	e.GET("/auth/me", answer)
	e.GET("/healthz", answer)
	// The same server timeouts as authd's defaults, so both hold
	// connections alike.
	srv := &http.Server{Addr: *addr, Handler: e, ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 10 * time.Second, WriteTimeout: 15 * time.Second, IdleTimeout: 60 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
