package main

import (
	"bufio"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// runProc is a "sluice run" process started by a test, with its log.
type runProc struct {
	cmd  *exec.Cmd
	addr string // the HTTP server's address, from the log
	log  strings.Builder
	rest chan string // the rest of stderr, once the process has ended
}

// startRun starts "sluice run -c cfg" with env (nil: the test's
// environment) and waits for its HTTP server's address. The process is
// killed at the end of the test if still running.
func startRun(t *testing.T, cfg string, env []string) *runProc {
	t.Helper()
	p := &runProc{cmd: exec.Command(binary, "run", "-c", cfg), rest: make(chan string, 1)}
	p.cmd.Env = env
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill() })
	sc := bufio.NewScanner(stderr)
	for p.addr == "" && sc.Scan() {
		p.log.WriteString(sc.Text() + "\n")
		if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
			p.addr = m[1]
		}
	}
	if p.addr == "" {
		t.Fatalf("no address:\n%s", p.log.String())
	}
	// The rest through the scanner: it may already hold lines read past
	// the address.
	go func() {
		var b strings.Builder
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
		}
		p.rest <- b.String()
	}()
	return p
}

// output returns the log so far: all of it once the process has ended
// (waiting up to 10 s for that).
func (p *runProc) output() string {
	select {
	case s := <-p.rest:
		p.log.WriteString(s)
	case <-time.After(10 * time.Second):
	}
	return p.log.String()
}
