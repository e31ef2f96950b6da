package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/sluice-cdc/sluice/internal/daemon"
)

// binary is the sluice command built once by TestMain, with a version
// stamped in through -ldflags as a release build would.
var binary string

const testVersion = "v0.0.0-clitest"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-cli-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "sluice")
	build := exec.Command("go", "build", "-o", binary, "-ldflags", "-X main.version="+testVersion, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build sluice:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// sluice runs the binary from the repository root with an empty
// environment, so that ${VAR} in the examples takes its default.
func sluice(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = "../.."
	cmd.Env = []string{}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run sluice: %v", err)
	}
	return out.String(), errb.String(), 0
}

func TestCLI(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string // exact; "" means empty
	}{
		{"version", []string{"version"}, 0, "sluice " + testVersion + "\n", ""},
		{"validate example", []string{"validate", "-c", "examples/sluice.yaml"}, 0,
			"examples/sluice.yaml: valid (1 source, kafka 1 broker)\n", ""},
		{"validate broken", []string{"validate", "-c", "examples/broken.yaml"}, 2, "", "" +
			"examples/broken.yaml:5: log: unknown field \"colour\"\n" +
			"examples/broken.yaml:10: kafka.compression.type: unknown compression \"brotli\" (want none, gzip, snappy, lz4 or zstd)\n" +
			"examples/broken.yaml:13: sources[0].topic.prefix: required\n" +
			"examples/broken.yaml:15: sources[0].url: environment variable \"SLUICE_EXAMPLE_UNSET_URL\" is not set and has no default (write ${SLUICE_EXAMPLE_UNSET_URL:-default})\n" +
			"examples/broken.yaml:18: sources[0].tables[1]: table name must be schema.table\n" +
			"examples/broken.yaml:23: sources[1]: unknown field \"tabels\" (did you mean \"tables\"?)\n"},
		{"validate missing file", []string{"validate", "--config", "nope.yaml"}, 2, "",
			"sluice: read config: open nope.yaml: no such file or directory\n"},
		{"run invalid config", []string{"run", "-c", "examples/broken.yaml"}, 2, "", "*"},
		{"help", []string{"help"}, 0, usage, ""},
		{"no command", nil, 2, "", usage},
		{"unknown command", []string{"frobnicate"}, 2, "", "sluice: unknown command \"frobnicate\"\n\n" + usage},
		{"unknown flag", []string{"validate", "-x"}, 2, "", "*"},
		{"extra argument", []string{"validate", "examples/sluice.yaml"}, 2, "", "*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := sluice(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.wantCode, stderr)
			}
			if stdout != tt.wantStdout {
				t.Errorf("stdout:\n%s\nwant:\n%s", stdout, tt.wantStdout)
			}
			if tt.wantStderr == "*" {
				if stderr == "" {
					t.Error("stderr is empty, want a message")
				}
			} else if stderr != tt.wantStderr {
				t.Errorf("stderr:\n%s\nwant:\n%s", stderr, tt.wantStderr)
			}
		})
	}
}

var listeningRE = regexp.MustCompile(`msg="http server listening" addr=(\S+)`)

// TestRunStopsOnSignal starts "sluice run", checks its endpoints and that
// SIGINT and SIGTERM both stop it cleanly.
func TestRunStopsOnSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "sluice.yaml")
			data := filepath.Join(t.TempDir(), "data")
			if err := os.WriteFile(cfg, []byte("log: {level: info, format: text}\nhttp: {addr: \"127.0.0.1:0\"}\ndata.dir: "+data+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(binary, "run", "-c", cfg)
			cmd.Env = []string{}
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()

			var log strings.Builder
			sc := bufio.NewScanner(stderr)
			addr := ""
			for addr == "" && sc.Scan() {
				log.WriteString(sc.Text() + "\n")
				if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
					addr = m[1]
				}
			}
			if addr == "" {
				t.Fatalf("sluice run never reported its address:\n%s", log.String())
			}
			resp, err := http.Get("http://" + addr + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != "ok\n" {
				t.Errorf("/healthz: %d %q", resp.StatusCode, body)
			}

			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			// The rest through the scanner: it may already hold lines
			// read past the address.
			for sc.Scan() {
				log.WriteString(sc.Text() + "\n")
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("sluice run after %v: %v\n%s", sig, err, log.String())
			}
			for _, want := range []string{"msg=\"no sources configured\"", "msg=\"sluice stopped\""} {
				if !strings.Contains(log.String(), want) {
					t.Errorf("log lacks %q:\n%s", want, log.String())
				}
			}
		})
	}
}

func TestVersionStringDefault(t *testing.T) {
	// In a test binary neither -ldflags nor a module version is set.
	if got := versionString(); got != "dev" {
		t.Errorf("versionString() = %q, want dev", got)
	}
}

func TestSummary(t *testing.T) {
	cfg := daemon.DefaultConfig()
	cfg.Kafka.Brokers = []string{"embedded"}
	cfg.Sources = make([]daemon.SourceConfig, 2)
	if got := summary(cfg); got != "2 sources, kafka embedded" {
		t.Errorf("summary = %q", got)
	}
	if got := plural(0, "source") + "," + plural(1, "source") + "," + plural(2, "broker"); got != "0 sources,1 source,2 brokers" {
		t.Errorf("plural: %q", got)
	}
}

// TestRunFails checks that a connector of the file that fails, or cannot
// be created, stops `sluice run` with exit code 1 and says why.
func TestRunFails(t *testing.T) {
	for _, c := range []struct{ name, connector, want string }{
		{"task fails", `{name: out, config: {connector.class: FileStreamSink, topics: t, file: /nonexistent/dir/out.txt}}`,
			`connector out: task 0 failed: start sink task: `},
		{"unknown class", `{name: x, config: {connector.class: com.example.NoSuchConnector}}`,
			`connector \"x\": Failed to find any class that implements Connector and which name matches com.example.NoSuchConnector`},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "sluice.yaml")
			doc := "http: {addr: \"127.0.0.1:0\"}\nkafka: {bootstrap.servers: [embedded]}\ndata.dir: " + filepath.Join(dir, "data") + "\n" +
				"connectors:\n  - " + c.connector + "\n"
			if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
				t.Fatal(err)
			}
			_, stderr, code := sluice(t, "run", "-c", cfg)
			if code != exitFailure || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and %q", code, stderr, c.want)
			}
		})
	}
}
