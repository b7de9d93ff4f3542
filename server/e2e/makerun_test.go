package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/liaison-exchange/liaison/server/nodetest"
)

// repoCopy copies the checkout's tracked (and new, not ignored) files into
// a temp dir, so `make` runs there as on a fresh clone and never touches
// the developer's certs/dev or .data.
func repoCopy(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("git", "-C", root, "ls-files", "--cached", "--others", "--exclude-standard", "-z").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	dst := t.TempDir()
	for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		src := filepath.Join(root, f)
		fi, err := os.Lstat(src)
		if err != nil {
			continue // deleted in the work tree
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, f), b, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// syncBuffer is a bytes.Buffer safe to write from a child's pipes while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestMakeRun starts the two-node demo exactly as the README says, checks
// both nodes answer health checks with the dev PKI, runs `make demo`
// against them, and stops them with SIGINT to the process group (what
// Ctrl-C does).
func TestMakeRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries; skipped with -short")
	}
	dir := repoCopy(t)
	alpha, bravo := nodetest.FreeAddr(t), nodetest.FreeAddr(t)
	cmd := exec.Command("make", "run", "ALPHA_ADDR="+alpha, "BRAVO_ADDR="+bravo,
		"ALPHA_METRICS="+nodetest.FreeAddr(t), "BRAVO_METRICS="+nodetest.FreeAddr(t))
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	})

	certs := filepath.Join(dir, "certs", "dev")
	deadline := time.Now().Add(4 * time.Minute) // a cold build of cgo SQLite
	for _, n := range []struct{ agency, addr string }{{"alpha", alpha}, {"bravo", bravo}} {
		for {
			if time.Now().After(deadline) {
				t.Fatalf("%s not up in time; make run printed:\n%s", n.agency, out.String())
			}
			select {
			case err := <-exited:
				t.Fatalf("make run exited early (%v):\n%s", err, out.String())
			default:
			}
			if _, err := os.Stat(filepath.Join(certs, n.agency, "service.key")); err == nil {
				conn := nodetest.DialFiles(t, n.addr, filepath.Join(certs, n.agency, "ca.crt"),
					filepath.Join(certs, n.agency, "service.crt"), filepath.Join(certs, n.agency, "service.key"))
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
				cancel()
				if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
					break
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	for _, f := range []string{".data/alpha.db", ".data/bravo.db"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("database %s: %v", f, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(certs, "alpha", "analyst.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("dev key permissions: %v %v, want 0600", fi.Mode().Perm(), err)
	}

	// The guided walk-through runs against these nodes, as a newcomer
	// would run it in a second terminal; it exits non-zero on any failed
	// step.
	demo := exec.Command("make", "demo", "ALPHA_ADDR="+alpha, "BRAVO_ADDR="+bravo)
	demo.Dir = dir
	demoOut, err := demo.CombinedOutput()
	if err != nil {
		t.Fatalf("make demo: %v\n%s", err, demoOut)
	}
	for _, want := range []string{"Demo complete:", "all as expected"} {
		if !strings.Contains(string(demoOut), want) {
			t.Errorf("make demo output lacks %q:\n%s", want, demoOut)
		}
	}

	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("make run still running 30s after SIGINT:\n%s", out.String())
	}
	if got := strings.Count(out.String(), `msg="node stopped"`); got != 2 {
		t.Fatalf("want both nodes to report a clean stop, got %d:\n%s", got, out.String())
	}
}
