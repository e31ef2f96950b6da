package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// BuildSluice compiles ./cmd/sluice into dir and returns the binary's path.
// With rev empty it builds the module at root as it is on disk; otherwise it
// builds git revision rev of root's repository, exported into dir (so that
// work in progress in the tree does not get in the way).
func BuildSluice(ctx context.Context, root, rev, dir string) (string, error) {
	bin := filepath.Join(dir, "sluice")
	src := root
	if rev != "" {
		src = filepath.Join(dir, "src")
		if err := os.MkdirAll(src, 0o755); err != nil {
			return "", err
		}
		export := exec.CommandContext(ctx, "sh", "-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "sh", root, rev, src)
		if out, err := export.CombinedOutput(); err != nil {
			return "", fmt.Errorf("export %s: %w\n%s", rev, err, out)
		}
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/sluice")
	cmd.Dir = src
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build sluice: %w\n%s", err, out)
	}
	return bin, nil
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Usage is what a finished child process consumed.
type Usage struct {
	CPU     time.Duration // user + system
	PeakRSS int64         // bytes: the largest VmHWM sampled (every 100 ms and at Stop)
	Wall    time.Duration // start to exit
}

// Process is a running child whose resource use is read after it exits.
type Process struct {
	cmd     *exec.Cmd
	start   time.Time
	logPath string
	done    chan struct{}
	waitErr error
	end     time.Time
	hwm     atomic.Int64 // largest VmHWM seen, bytes
}

// StartProcess starts bin with args, its stdout and stderr going to logPath.
func StartProcess(bin string, args []string, logPath string) (*Process, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("process log: %w", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &Process{cmd: cmd, logPath: logPath, done: make(chan struct{})}
	p.start = time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", filepath.Base(bin), err)
	}
	go p.sampleHWM()
	go func() {
		p.waitErr = cmd.Wait()
		p.end = time.Now()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// sampleHWM reads the child's VmHWM (peak resident set) every 100 ms until
// it exits. ru_maxrss cannot serve: Linux carries the parent's high-water
// mark over into a child created with vfork (as os/exec does) at exec, so
// the child would report this benchmark process's peak.
func (p *Process) sampleHWM() {
	path := fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		p.readHWM(path)
		select {
		case <-p.done:
			return
		case <-t.C:
		}
	}
}

func (p *Process) readHWM(path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	if v, ok := ParseVmHWM(string(b)); ok && v > p.hwm.Load() {
		p.hwm.Store(v)
	}
}

// ParseVmHWM returns the VmHWM line of a /proc/<pid>/status text, in bytes.
func ParseVmHWM(status string) (int64, bool) {
	for _, line := range strings.Split(status, "\n") {
		rest, ok := strings.CutPrefix(line, "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, false
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, false
		}
		return kb * 1024, true
	}
	return 0, false
}

// Started is when the process was started.
func (p *Process) Started() time.Time { return p.start }

// Pid is the child's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited is closed once the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.done }

// Err is the result of waiting for the process (valid after Exited).
func (p *Process) Err() error { return p.waitErr }

// Stop sends SIGTERM, waits up to grace, then SIGKILLs, and returns the
// process's resource usage. It returns the exit error too (nil for a clean
// exit) so callers can tell a crash from a graceful stop.
func (p *Process) Stop(grace time.Duration) (Usage, error) {
	select {
	case <-p.done:
	default:
		p.readHWM(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	return p.Wait()
}

// Wait waits for the process to exit by itself and returns its usage.
func (p *Process) Wait() (Usage, error) {
	<-p.done
	u := Usage{Wall: p.end.Sub(p.start)}
	if st := p.cmd.ProcessState; st != nil {
		u.CPU = st.UserTime() + st.SystemTime()
	}
	u.PeakRSS = p.hwm.Load()
	return u, p.waitErr
}

// LogTail returns the last n bytes of the process's log.
func (p *Process) LogTail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > n {
		b = b[len(b)-n:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}

// Log returns the whole log.
func (p *Process) Log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

// ScrapeMetrics fetches and parses http://addr/metrics.
func ScrapeMetrics(ctx context.Context, addr string) (Scrape, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: status %s", addr, resp.Status)
	}
	return ParseScrape(resp.Body)
}

// ErrNotCapturing marks a Sluice binary that runs but does not capture yet.
var ErrNotCapturing = errors.New("sluice run does not capture Postgres yet")

// hostPort joins 127.0.0.1 and port.
func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
