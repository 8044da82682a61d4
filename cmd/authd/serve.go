package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/authd/authd/adapters/prom"
	"github.com/authd/authd/adapters/rest"
	"github.com/authd/authd/config"
)

func serve(ctx context.Context, cfg config.Config, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	noMigrate := fs.Bool("no-migrate", false, "do not apply pending migrations at start")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	log := newLogger(cfg, stderr)
	log.Info("starting authd", "version", version, "config", cfg)
	if getenv("GOMAXPROCS") == "" {
		// Each hashing worker holds a P for a whole bcrypt run (~60 ms),
		// and by default there are as many workers as Ps, so a request that
		// needs no hash would wait for Go's 10 ms preemption to get one.
		// One P more lets the OS share the cores between threads at its
		// finer grain instead: under a login flood at 3× the bcrypt
		// ceiling, /auth/me p99 went from 28 ms to 8 ms with login
		// throughput unchanged (perf/results/hashing.md).
		runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1)
	}
	if percent, limit := tuneGC(getenv, cfg.Cache.SizeMB); percent > 0 {
		log.Info("garbage collector tuned (set GOGC or GOMEMLIMIT to choose yourself)", "gogc", percent, "memory_limit_mib", limit>>20)
	}

	st, err := build(ctx, cfg, log, cfg.Database.MigrateOnStart && !*noMigrate)
	if err != nil {
		return err
	}
	defer st.close()

	st.metrics.Version = version
	metrics := prom.New(st.metrics)
	handler := rest.NewServer(rest.Options{
		App: st.svc, Limiter: st.ipLimiter, IPRatePerMinute: cfg.RateLimit.IPPerMinute,
		TrustedProxies: cfg.HTTP.TrustedProxies, CORSOrigins: cfg.HTTP.CORSOrigins,
		Ready: st.ready, Logger: log, Version: version,
		Observer: metrics, MetricsHandler: metrics.Handler(),
	})
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: min(cfg.HTTP.ReadTimeout, 5*time.Second),
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    16 << 10,
	}
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return &config.Error{Problems: []config.Problem{{Key: "AUTH_HTTP_ADDR", Message: err.Error()}}}
	}
	log.Info("listening", "addr", ln.Addr().String())

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Drain: stop accepting, let in-flight requests finish, bounded.
	log.Info("shutting down", "timeout", cfg.HTTP.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}

func createAdmin(ctx context.Context, cfg config.Config, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("create-admin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "the administrator's email")
	name := fs.String("name", "", "the administrator's name")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	if *email == "" || *name == "" {
		return usageError("create-admin: --email and --name are required")
	}
	password := getenv("AUTH_ADMIN_PASSWORD")
	if password == "" && stdin != nil {
		line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("create-admin: read password: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	if password == "" {
		return errNoPassword
	}
	log := newLogger(cfg, stderr)
	st, err := build(ctx, cfg, log, cfg.Database.MigrateOnStart)
	if err != nil {
		return err
	}
	defer st.close()
	u, created, err := st.svc.CreateAdmin(ctx, *name, *email, password)
	if err != nil {
		return fmt.Errorf("create-admin: %w", err)
	}
	verb := "promoted"
	if created {
		verb = "created"
	}
	_, err = fmt.Fprintf(stdout, "admin %s: %s (%s)\n", verb, u.Email, u.ID)
	return err
}
