// Package report writes the provenance every result file carries (command,
// date, machine, authd commit, load settings) and replaces generated
// sections of a markdown file while leaving the hand-written text around
// them alone.
package report

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// Machine describes where a run happened.
type Machine struct {
	NProc  int
	CPU    string
	Kernel string
	Go     string
	Load   string // /proc/loadavg at the start of the run
}

// ThisMachine reads /proc; what it cannot read it leaves empty.
func ThisMachine() Machine {
	m := Machine{NProc: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			m.Load = strings.Join(f[:3], " ")
		}
	}
	return m
}

// Commit is the authd commit the binaries were built from, with "+dirty"
// when the work tree had changes (so the figures may not match the commit
// exactly).
func Commit() string {
	out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown (not a git work tree)"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		c += "+dirty"
	}
	return c
}

// Header is the provenance block of one result.
type Header struct {
	Command  string   // exact command that reproduces it, as markdown (code spans included)
	Commit   string   // the authd source measured; empty: Commit()
	Settings []string // load tool and server settings, one per line
	Started  time.Time
	Took     time.Duration
}

// Markdown renders h as a bullet list.
func (h Header) Markdown() string {
	m := ThisMachine()
	var b strings.Builder
	fmt.Fprintf(&b, "- Reproduce: %s\n", h.Command)
	fmt.Fprintf(&b, "- Date: %s (run took %s)\n", h.Started.UTC().Format("2006-01-02 15:04 MST"), h.Took.Round(time.Second))
	fmt.Fprintf(&b, "- Machine: %d CPUs (nproc), %s, Linux %s, %s; load average at start %s (the machine is shared: other work may run meanwhile)\n",
		m.NProc, m.CPU, m.Kernel, m.Go, m.Load)
	commit := h.Commit
	if commit == "" {
		commit = Commit()
	}
	fmt.Fprintf(&b, "- authd commit: %s\n", commit)
	for _, s := range h.Settings {
		fmt.Fprintf(&b, "- %s\n", s)
	}
	return b.String()
}

func markers(name string) (begin, end string) {
	return "<!-- perfrun:" + name + ":begin (generated; edit outside these markers) -->",
		"<!-- perfrun:" + name + ":end -->"
}

// WriteSection puts content between the markers named name in the file at
// path, creating the file with title and the markers when it does not
// exist, and appending the markers when the file lacks them. Text outside
// the markers is kept as it is.
func WriteSection(path, title, name, content string) error {
	begin, end := markers(name)
	block := begin + "\n" + strings.TrimRight(content, "\n") + "\n" + end
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return os.WriteFile(path, []byte("# "+title+"\n\n"+block+"\n"), 0o644)
	case err != nil:
		return err
	}
	s := string(old)
	i := strings.Index(s, begin)
	j := strings.Index(s, end)
	if i < 0 || j < i {
		return os.WriteFile(path, []byte(strings.TrimRight(s, "\n")+"\n\n"+block+"\n"), 0o644)
	}
	return os.WriteFile(path, []byte(s[:i]+block+s[j+len(end):]), 0o644)
}
