// Package nodetest starts real Liaison nodes for tests: a PKI made in the
// test's temp dir, real listeners on 127.0.0.1, real SQLite files, and
// clients dialled with real certificates per role. Nodes run in-process,
// or as separate processes (the test binary re-executed) where a test must
// SIGKILL one.
package nodetest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/liaison-exchange/liaison/certs"
	"github.com/liaison-exchange/liaison/client"
	"github.com/liaison-exchange/liaison/server/config"
	"github.com/liaison-exchange/liaison/server/node"
)

// PKI is a test PKI: per agency, files laid out like the dev PKI.
type PKI struct {
	Dir string
	CAs map[string]*certs.CA
}

// NewPKI creates the CA, node and role certificates of each agency.
func NewPKI(t testing.TB, agencies ...string) *PKI {
	t.Helper()
	p := &PKI{Dir: t.TempDir(), CAs: map[string]*certs.CA{}}
	for _, a := range agencies {
		if err := certs.WriteAgency(p.Dir, a); err != nil {
			t.Fatalf("pki: %v", err)
		}
		ca, err := certs.LoadCA(p.Path(a, "ca.crt"), p.Path(a, "ca.key"))
		if err != nil {
			t.Fatalf("pki: %v", err)
		}
		p.CAs[a] = ca
	}
	return p
}

// Path is a file of an agency's PKI ("node.crt", "analyst.key", …).
func (p *PKI) Path(agency, file string) string { return filepath.Join(p.Dir, agency, file) }

// Issue writes a further certificate of an agency's CA and returns its
// certificate and key paths.
func (p *PKI) Issue(t testing.TB, agency, name string, o certs.LeafOptions) (certFile, keyFile string) {
	t.Helper()
	leaf, err := p.CAs[agency].Issue(o)
	if err != nil {
		t.Fatalf("issue: %v", err)
	}
	dir := filepath.Join(p.Dir, agency)
	if err := leaf.WritePair(dir, name); err != nil {
		t.Fatalf("issue: %v", err)
	}
	return filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
}

// Config is a node config for agency with the given partners, its database
// in dir. Listen and partner addresses are filled in by the caller.
func (p *PKI) Config(agency, dir string, partners ...string) *config.Config {
	c := &config.Config{
		Agency: agency,
		Listen: "127.0.0.1:0",
		TLS:    config.TLS{CA: p.Path(agency, "ca.crt"), Cert: p.Path(agency, "node.crt"), Key: p.Path(agency, "node.key")},
		Database: config.Database{
			Path: filepath.Join(dir, agency+".db"),
			// Tests run many nodes on two cores; "normal" keeps them quick
			// and still survives a process kill (not a power cut).
			Synchronous: "normal",
		},
		// High limits, partners' too: only the tests of the limits (which
		// lower them) meet them.
		Limits: config.Limits{RatePerSecond: 100000, Burst: 100000, PartnerRatePerSecond: 100000, PartnerBurst: 100000},
		Log:    config.Log{Level: "warn"},
		// Tests that read metrics turn them on (127.0.0.1:0).
		Metrics: config.Metrics{Listen: "off"},
		Audit:   config.Audit{LogKey: p.Path(agency, "log.key")},
		// Reconnect quickly: tests stop and start partners.
		Federation: config.Federation{
			MinBackoff: config.Duration{Duration: 20 * time.Millisecond},
			MaxBackoff: config.Duration{Duration: 500 * time.Millisecond},
		},
	}
	for _, partner := range partners {
		c.Partners = append(c.Partners, config.Partner{Agency: partner, CA: p.Path(partner, "ca.crt"), Address: "127.0.0.1:1", LogKey: p.Path(partner, "log.vkey")})
	}
	c.SetDefaults()
	return c
}

// Node is a node started by a test.
type Node struct {
	*node.Node
	PKI    *PKI
	Agency string
	Cfg    *config.Config
	addr   string
}

// Start starts an in-process node on lis (a fresh loopback listener if
// nil) and stops it when the test ends.
func Start(t testing.TB, pki *PKI, cfg *config.Config, lis net.Listener) *Node {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	if lis == nil {
		lis = Listen(t)
	}
	var w io.Writer = testWriter{t}
	if f, ok := t.(*testing.F); ok {
		// A fuzz target may not log through f while it fuzzes: keep the
		// node's log and show its end if the target fails.
		fw := &fuzzLog{}
		f.Cleanup(func() {
			if f.Failed() {
				f.Logf("node %s's log, its last %d bytes:\n%s", cfg.Agency, fuzzLogKeep, fw.tail())
			}
		})
		w = fw
	}
	var lh slog.Handler = slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn})
	if sink, ok := logSinks.Load(cfg); ok {
		lh = slog.NewMultiHandler(lh, slog.NewTextHandler(sink.(io.Writer), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	log := slog.New(lh)
	var extra []grpc.ServerOption
	if o, ok := serverOpts.Load(cfg); ok {
		extra = o.([]grpc.ServerOption)
	}
	n, err := node.Start(context.Background(), cfg, log, lis, extra...)
	if err != nil {
		t.Fatalf("start node %s: %v", cfg.Agency, err)
	}
	h := &Node{Node: n, PKI: pki, Agency: cfg.Agency, Cfg: cfg, addr: n.Addr()}
	t.Cleanup(func() { h.Stop(t) })
	return h
}

// logSinks are the writers CaptureLog added, by config.
var logSinks sync.Map

// CaptureLog makes the node started with cfg write its whole log, every
// level, to w as well (which must be safe for concurrent writes): for
// tests of what a node logs.
func CaptureLog(cfg *config.Config, w io.Writer) { logSinks.Store(cfg, w) }

// serverOpts are the options ServerOptions added, by config.
var serverOpts sync.Map

// ServerOptions makes the node started with cfg use opts as well, after
// its own (for tests that look at what a node receives at its handlers:
// an interceptor added here runs innermost).
func ServerOptions(cfg *config.Config, opts ...grpc.ServerOption) { serverOpts.Store(cfg, opts) }

// Pair starts alpha and bravo, each the other's partner, with databases
// in a temp dir. mutate, if not nil, adjusts each config before start.
func Pair(t testing.TB, mutate func(*config.Config)) (alpha, bravo *Node) {
	t.Helper()
	n := Mesh(t, mutate, "alpha", "bravo")
	return n[0], n[1]
}

// Trio starts alpha, bravo and charlie, each a partner of the other two
// (see Mesh).
func Trio(t testing.TB, mutate func(*config.Config)) (alpha, bravo, charlie *Node) {
	t.Helper()
	n := Mesh(t, mutate, "alpha", "bravo", "charlie")
	return n[0], n[1], n[2]
}

// Mesh starts a node per agency, each a partner of every other, sharing
// one PKI and one temp dir for their databases; it returns them in the
// order given. Every listener is opened before any node starts, so each
// config names its partners' real addresses. mutate, if not nil, adjusts
// each config before start.
func Mesh(t testing.TB, mutate func(*config.Config), agencies ...string) []*Node {
	t.Helper()
	pki := NewPKI(t, agencies...)
	dir := t.TempDir()
	addr := map[string]string{}
	lis := make([]net.Listener, len(agencies))
	for i, a := range agencies {
		lis[i] = Listen(t)
		addr[a] = lis[i].Addr().String()
	}
	cfgs := make([]*config.Config, len(agencies))
	for i, a := range agencies {
		var partners []string
		for _, p := range agencies {
			if p != a {
				partners = append(partners, p)
			}
		}
		c := pki.Config(a, dir, partners...)
		c.Listen = addr[a]
		for j := range c.Partners {
			c.Partners[j].Address = addr[c.Partners[j].Agency]
		}
		if mutate != nil {
			mutate(c)
		}
		cfgs[i] = c
	}
	nodes := make([]*Node, len(agencies))
	for i := range agencies {
		nodes[i] = Start(t, pki, cfgs[i], lis[i])
	}
	return nodes
}

// Restart starts a stopped node again on the same address and database.
func (n *Node) Restart(t testing.TB) {
	t.Helper()
	if n.Node != nil {
		t.Fatalf("restart %s: still running", n.Agency)
	}
	var lis net.Listener
	var err error
	for i := 0; i < 50; i++ { // the old socket may linger for a moment
		if lis, err = net.Listen("tcp", n.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("restart %s: listen on %s: %v", n.Agency, n.addr, err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	nn, err := node.Start(context.Background(), n.Cfg, log, lis)
	if err != nil {
		t.Fatalf("restart %s: %v", n.Agency, err)
	}
	n.Node = nn
}

// Eventually polls cond until it returns nil or the time is up.
func Eventually(t testing.TB, within time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %v", within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop shuts the node down (once; later calls do nothing).
func (n *Node) Stop(t testing.TB) {
	if n.Node == nil {
		return
	}
	if err := n.Node.Shutdown(); err != nil {
		t.Errorf("shutdown %s: %v", n.Agency, err)
	}
	n.Node = nil
}

// Addr is the node's address.
func (n *Node) Addr() string { return n.addr }

// Listen opens a loopback listener on a free port.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return lis
}

// Dial connects to addr as role of agency, with certificates of pki,
// trusting the CA of serverAgency. The connection is closed when the test
// ends.
func Dial(t testing.TB, pki *PKI, addr, agency, role, serverAgency string) *grpc.ClientConn {
	t.Helper()
	return DialFiles(t, addr, pki.Path(serverAgency, "ca.crt"), pki.Path(agency, role+".crt"), pki.Path(agency, role+".key"))
}

// DialFiles connects with explicit certificate files.
func DialFiles(t testing.TB, addr, caFile, certFile, keyFile string) *grpc.ClientConn {
	t.Helper()
	conn, err := client.Dial(client.Options{Addr: addr, CA: caFile, Cert: certFile, Key: keyFile})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// Conn dials the node as a role of its own agency ("analyst", …).
func (n *Node) Conn(t testing.TB, role string) *grpc.ClientConn {
	return Dial(t, n.PKI, n.addr, n.Agency, role, n.Agency)
}

// ConnAs dials the node with a certificate of another agency and role
// (e.g. a partner's "node").
func (n *Node) ConnAs(t testing.TB, agency, role string) *grpc.ClientConn {
	return Dial(t, n.PKI, n.addr, agency, role, n.Agency)
}

type testWriter struct{ t testing.TB }

// fuzzLogKeep is how much of a node's log a fuzz target keeps.
const fuzzLogKeep = 64 << 10

// fuzzLog keeps the end of a node's log.
type fuzzLog struct {
	mu  sync.Mutex
	buf []byte
}

func (l *fuzzLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	if over := len(l.buf) - fuzzLogKeep; over > 0 {
		l.buf = append(l.buf[:0], l.buf[over:]...)
	}
	return len(p), nil
}

func (l *fuzzLog) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.buf)
}

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// ---- nodes in their own process -------------------------------------------------

const serveEnv = "LIAISON_NODETEST_SERVE"

// MaybeServe must be called first in TestMain of a package that uses
// StartProcess: in the child process it runs the node and exits.
func MaybeServe() {
	path := os.Getenv(serveEnv)
	if path == "" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := config.Load(path, config.Overrides{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	n, err := node.Start(ctx, cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	<-ctx.Done()
	if err := n.Shutdown(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Process is a node running in a child process.
type Process struct {
	Cmd    *exec.Cmd
	Config *config.Config
	path   string
}

// WriteConfig writes cfg as YAML into dir and returns its path.
func WriteConfig(t testing.TB, dir string, cfg *config.Config) string {
	t.Helper()
	b, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatalf("marshal config: %v", err)
	}
	path := filepath.Join(dir, cfg.Agency+".yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatalf("write config: %v", err)
	}
	return path
}

// StartProcess starts the node of cfg (its Listen must be a fixed address)
// in a child process and waits until it answers health checks.
func StartProcess(t testing.TB, pki *PKI, cfg *config.Config, stderr io.Writer) *Process {
	t.Helper()
	path := WriteConfig(t, t.TempDir(), cfg)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), serveEnv+"="+path)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node process: %v", err)
	}
	p := &Process{Cmd: cmd, Config: cfg, path: path}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	conn := Dial(t, pki, cfg.Listen, cfg.Agency, "service", cfg.Agency)
	WaitHealthy(t, conn, 20*time.Second)
	return p
}

// Kill sends SIGKILL and reaps the process.
func (p *Process) Kill(t testing.TB) {
	t.Helper()
	if err := p.Cmd.Process.Kill(); err != nil {
		t.Fatalf("kill: %v", err)
	}
	p.Cmd.Wait()
}

// WaitHealthy waits until the node behind conn reports SERVING.
func WaitHealthy(t testing.TB, conn *grpc.ClientConn, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	hc := healthpb.NewHealthClient(conn)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node not healthy after %v: %v", within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// FreeAddr returns a loopback address that was free a moment ago (for
// child processes, which must listen themselves).
func FreeAddr(t testing.TB) string {
	t.Helper()
	lis := Listen(t)
	addr := lis.Addr().String()
	lis.Close()
	return addr
}
