// Command authd serves the authentication API. main only calls run; run
// does the work with the OS facilities passed in, so tests (test/e2e) drive
// the real wiring in-process.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/authd/authd/config"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(exitCode(err))
	}
}

// exitCode is 2 for bad configuration or usage (API.md), 1 otherwise.
func exitCode(err error) int {
	var cerr *config.Error
	var uerr usageError
	if errors.As(err, &cerr) || errors.As(err, &uerr) {
		return 2
	}
	return 1
}

// usageError is a bad command line.
type usageError string

func (e usageError) Error() string { return string(e) }

const usage = `usage: authd [--config FILE] [serve [--no-migrate] | migrate | create-admin --email E --name N | version]`

// run dispatches the subcommand. It returns errors and never exits, so the
// end-to-end tests can call it.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, rest, err := config.Load(args, getenv)
	if err != nil {
		return err
	}
	cmd := "serve"
	if len(rest) > 0 {
		cmd, rest = rest[0], rest[1:]
	}
	switch cmd {
	case "version":
		_, err := fmt.Fprintln(stdout, "authd", version)
		return err
	case "serve":
		return serve(ctx, cfg, rest, getenv, stderr)
	case "migrate":
		return migrate(ctx, cfg, stderr)
	case "create-admin":
		return createAdmin(ctx, cfg, rest, getenv, stdin, stdout, stderr)
	case "-h", "--help", "help":
		_, err := fmt.Fprintln(stdout, usage)
		return err
	default:
		return usageError(fmt.Sprintf("unknown command %q\n%s", cmd, usage))
	}
}
