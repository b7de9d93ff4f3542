// Command liaisonbench measures a Liaison node (`make bench`).
//
// In one process it creates a throw-away PKI, starts an alpha node (real
// TLS, real SQLite file, synchronous=full, every interceptor, audit on) and
// a bare grpc-go server over the same mTLS that serves only the standard
// health service. The health Check on the bare server is the ceiling: what
// grpc-go over this mTLS does on this machine with nothing behind it. The
// same load generator then drives each scenario, and the output is a
// Markdown table of requests/s, exact p50/p99 latency, errors and the share
// of the ceiling.
//
// The load generator, the node and the echo server share the process and
// its CPUs, so the percentages compare like with like; the absolute numbers
// are lower than with a client on another machine. The output also shows
// how much CPU other processes used during each run: a busy machine
// disturbs the numbers, and the run says so.
//
// Usage:
//
//	go run -tags sqlite_fts5 ./server/cmd/liaisonbench [-concurrency 50] [-duration 10s]
//	    [-warmup 2s] [-conns 4] [-leads 2000] [-only Echo,GetLead] [-db-dir DIR [-reuse-db]]
//	    [-persons 1000000] [-mixed-rate 2000] [-fed-leads 100000] [-ghz PATH]
//	    [-match-persons 3000] [-match-build-persons 20000]
//	    [-cpuprofile PREFIX] [-log-level warn]
//
// -persons fills the node's search index before it starts, for the search
// scenarios (search.go) and the mixed workload; -fed-leads runs the
// federation phase on two more nodes after the scenarios (federation.go);
// -ghz runs the base scenarios again with ghz as the load generator
// (ghz.go); -match-persons runs the blind hit/no-hit phase on two more
// nodes after that (match.go).
//
// The Mixed scenario (mixed.go) is a working day over the same persons:
// 70% GetLead, 15% SearchPersons, 10% CreateLead and 5% ReleaseLead of a
// lead just created to a real partner node (bravo, started in this
// process when Mixed is selected), offered at -mixed-rate calls/s for
// -duration on a fixed schedule (open loop, open.go: latency runs from
// each call's scheduled send time, so stalls are not hidden), with count,
// errors, p50 and p99 per call kind against the target (p99 < 20 ms for
// every kind, no error). A small run:
//
//	go run -tags sqlite_fts5 ./server/cmd/liaisonbench -only Mixed -persons 20000 \
//	    -fed-leads 0 -duration 5s -mixed-rate 2000
//
// After the scenarios, with persons populated, the output gives the
// process's VmRSS and VmHWM (mem.go) against the node's RSS target
// (< 300 MB): the node runs in this process, so the figure is the whole
// bench process — node, load generator, echo server and the partner node —
// an upper bound of the node's own.
//
// It exits 1 if any call failed (a run with errors is not a measurement),
// 0 otherwise; missed targets are reported, not an exit status.
//
// To add a scenario, write a setup function returning a Call and add it to
// scenarios() in scenarios.go; Run in load.go is the load generator.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/liaison-exchange/liaison/certs"
	"github.com/liaison-exchange/liaison/client"
	"github.com/liaison-exchange/liaison/server/mtls"
	"github.com/liaison-exchange/liaison/server/node"
	"github.com/liaison-exchange/liaison/server/store"
)

const (
	ownAgency     = "alpha"
	partnerAgency = "bravo"
)

type flags struct {
	concurrency  int
	duration     time.Duration
	warmup       time.Duration
	conns        int
	seed         int
	keepFreed    bool // store.KeepFreedMemory applied
	only         string
	dbDir        string
	reuseDB      bool
	cpuProfile   string
	logLevel     string
	ghz          string
	persons      int
	fedLeads     int
	gogc         int
	mixedRate    float64
	matchPersons int
	matchBuild   int
	nodeBin      string
}

func main() {
	var f flags
	flag.IntVar(&f.concurrency, "concurrency", 50, "concurrent workers, each making one call at a time")
	flag.DurationVar(&f.duration, "duration", 10*time.Second, "measured time per scenario")
	flag.DurationVar(&f.warmup, "warmup", 2*time.Second, "unmeasured warm-up before each scenario")
	flag.IntVar(&f.conns, "conns", 4, "client connections (grpc.ClientConn) the workers are spread over, for every scenario")
	flag.IntVar(&f.seed, "leads", 2000, "leads created (untimed) before the read scenarios")
	flag.StringVar(&f.only, "only", "", "run only these scenarios (comma-separated, case-insensitive): "+scenarioNames())
	flag.StringVar(&f.dbDir, "db-dir", "", "directory of the node's database, kept after the run (default: a temp dir, removed)")
	flag.BoolVar(&f.reuseDB, "reuse-db", false, "with -db-dir: use the database an earlier run left there as it is, without populating persons again (the earlier run's -persons; a search that finds nobody fails the run)")
	flag.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of each measured run to PREFIX.<run>.pprof")
	flag.StringVar(&f.logLevel, "log-level", "warn", "node log level (debug, info, warn, error), to stderr")
	flag.StringVar(&f.ghz, "ghz", "", "path of a ghz binary: also run the scenarios with ghz as the load generator")
	flag.IntVar(&f.persons, "persons", 1_000_000, "persons populated in the node's search index before it starts (0: no search scenarios)")
	flag.IntVar(&f.fedLeads, "fed-leads", 100_000, "leads released from alpha to bravo in the federation phase (0: no federation phase)")
	flag.Float64Var(&f.mixedRate, "mixed-rate", 2000, "calls/s offered by the mixed workload (open loop), for -duration")
	flag.IntVar(&f.matchPersons, "match-persons", 3000, "leads (one synthetic subject each) bravo holds in the blind hit/no-hit phase (0: no match phase)")
	flag.IntVar(&f.matchBuild, "match-build-persons", 20_000, "synthetic persons whose index entries the match phase computes for the build rate")
	flag.StringVar(&f.nodeBin, "node-bin", "", "path of the liaison binary: after the scenarios, run it as a process of its own over their database, drive GetLead, CreateLead and both searches against it for -duration each, and report its memory (the node alone)")
	flag.Parse()
	// The garbage collector and C allocator settings liaison serve runs with.
	f.gogc = node.TuneGC()
	f.keepFreed = store.KeepFreedMemory()
	if flag.NArg() > 0 || f.concurrency < 1 || f.conns < 1 || f.duration <= 0 || f.warmup < 0 || f.seed < 50 || f.persons < 0 || f.fedLeads < 0 || !(f.mixedRate > 0) || f.matchPersons < 0 || f.matchPersons > 0 && f.matchBuild < 1 || f.reuseDB && f.dbDir == "" {
		fmt.Fprintln(os.Stderr, "liaisonbench: bad arguments (need -concurrency ≥ 1, -conns ≥ 1, -duration > 0, -warmup ≥ 0, -leads ≥ 50, -persons ≥ 0, -fed-leads ≥ 0, -mixed-rate > 0, -match-persons ≥ 0, -match-build-persons ≥ 1, -db-dir with -reuse-db, no positional arguments)")
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, f, os.Stdout)
	stop()
	os.Exit(code)
}

func scenarioNames() string {
	var names []string
	seen := map[string]bool{}
	for _, s := range scenarios() {
		if !seen[s.Name] {
			seen[s.Name] = true
			names = append(names, s.Name)
		}
	}
	return strings.Join(names, ",")
}

// selected are the scenarios -only names, in their fixed order.
func selected(only string) ([]Scenario, error) {
	all := scenarios()
	if strings.TrimSpace(only) == "" {
		return all, nil
	}
	want := map[string]bool{}
	for _, n := range strings.Split(only, ",") {
		if n = strings.ToLower(strings.TrimSpace(n)); n != "" {
			want[n] = true
		}
	}
	found := map[string]bool{}
	var out []Scenario
	for _, s := range all {
		if n := strings.ToLower(s.Name); want[n] {
			out = append(out, s)
			found[n] = true
		}
	}
	for n := range want {
		if !found[n] {
			return nil, fmt.Errorf("-only: no scenario %q (have %s)", n, scenarioNames())
		}
	}
	return out, nil
}

// outcome is one scenario's measured run.
type outcome struct {
	sc        Scenario
	res       Result
	warmErrs  int64
	setupErr  error
	writer    store.Stats // writer counters over the measured run
	cpu       time.Duration
	other     float64 // CPU cores used by other processes meanwhile; -1 unknown
	hasWriter bool
	mixed     *mixedResult // the mixed workload's run per call kind
}

func run(ctx context.Context, f flags, out io.Writer) int {
	scs, err := selected(f.only)
	if err != nil {
		fmt.Fprintln(os.Stderr, "liaisonbench:", err)
		return 2
	}
	if f.persons == 0 {
		scs = slices.DeleteFunc(scs, func(s Scenario) bool { return s.Persons })
	}
	tmp, err := os.MkdirTemp("", "liaisonbench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "liaisonbench:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	dbDir := f.dbDir
	if dbDir == "" {
		dbDir = filepath.Join(tmp, "db")
	}

	b, err := start(ctx, f, tmp, dbDir, slices.ContainsFunc(scs, func(s Scenario) bool { return s.Mixed }))
	if b != nil {
		defer b.close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "liaisonbench:", err)
		return 1
	}

	// The peak RSS from here on is the node's life, not the populating's
	// (whose garbage is first given back to the system).
	debug.FreeOSMemory()
	peakReset := resetPeak() == nil
	var results []outcome
	for i, sc := range scs {
		if ctx.Err() != nil {
			break
		}
		results = append(results, b.measure(ctx, f, i, sc))
	}
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "liaisonbench: interrupted; results are partial")
	}

	mem := readMemory(peakReset)

	report(out, f, b, results, mem)
	ghzOK := true
	if f.ghz != "" && ctx.Err() == nil {
		ghzOK = reportGhz(out, f, b.measureGhz(ctx, f, scs, tmp))
	}
	dbPath := b.node.Config.Database.Path
	b.stopNodes()
	aloneOK := true
	if f.nodeBin != "" && f.persons > 0 && ctx.Err() == nil {
		aloneOK = reportAlone(out, f, f.nodeBin, measureAlone(ctx, f, f.nodeBin, b.pkiDir, tmp, dbPath, b.env.SearchNames, b.env.SearchPhones, f.duration))
	}
	fedOK := true
	if f.fedLeads > 0 && ctx.Err() == nil {
		createRate := 0.0
		for _, r := range results {
			if r.sc.Name == "CreateLead" && r.setupErr == nil {
				createRate = r.res.Throughput()
			}
		}
		fedOK = reportFederation(out, f, measureFederation(ctx, f, b.pkiDir, tmp, createRate))
	}
	matchOK := true
	if f.matchPersons > 0 && ctx.Err() == nil {
		matchOK = reportMatch(out, measureMatch(ctx, f, matchOptions(f), b.pkiDir, tmp))
	}
	if f.dbDir != "" {
		fmt.Fprintf(out, "\nDatabase kept at %s.\n", dbPath)
	}
	for _, r := range results {
		if r.setupErr != nil || r.res.Errors > 0 || r.warmErrs > 0 || r.mixed != nil && r.mixed.applyErr != nil {
			return 1
		}
	}
	if ctx.Err() != nil || !ghzOK || !fedOK || !matchOK || !aloneOK {
		return 1
	}
	return 0
}

// bench is the running servers and the clients' environment.
type bench struct {
	node      *node.Node
	partner   *node.Node // bravo, receiving the mixed workload's releases; nil without it
	echo      *grpc.Server
	echoConns []*grpc.ClientConn
	env       *Env
	disk      string // where the database is, and its fsync latency
	loadAvg   string
	pkiDir    string
	echoAddr  string
}

// path is a file of an agency's PKI.
func (b *bench) path(agency, file string) string { return filepath.Join(b.pkiDir, agency, file) }

func (b *bench) close() {
	if b.env != nil {
		b.env.Close()
	}
	for _, c := range b.echoConns {
		c.Close()
	}
	if b.echo != nil {
		b.echo.Stop()
	}
	b.stopNodes()
}

// stopNodes shuts the scenarios' node and its partner down, so the phases
// after them (which start nodes of their own) do not share the machine with
// their background work: a million persons' heap, the mixed workload's
// releases still being delivered.
func (b *bench) stopNodes() {
	if b.node != nil {
		if err := b.node.Shutdown(); err != nil {
			fmt.Fprintln(os.Stderr, "liaisonbench: node shutdown:", err)
		}
		b.node = nil
	}
	if b.partner != nil {
		if err := b.partner.Shutdown(); err != nil {
			fmt.Fprintln(os.Stderr, "liaisonbench: partner node shutdown:", err)
		}
		b.partner = nil
	}
	runtime.GC()
	debug.FreeOSMemory()
}

// start makes the PKI, starts the node and the echo server, and dials both.
func start(ctx context.Context, f flags, tmp, dbDir string, withPartner bool) (*bench, error) {
	pkiDir := filepath.Join(tmp, "pki")
	for _, a := range []string{ownAgency, partnerAgency} {
		if err := certs.WriteAgency(pkiDir, a); err != nil {
			return nil, fmt.Errorf("pki: %w", err)
		}
	}

	// Without the mixed workload the node's partner is unreachable (the
	// federation phase starts nodes of its own); with it, a real partner
	// node receives its releases, started once the persons are populated.
	var lis, partnerLis net.Listener
	listen, partnerAddr := "127.0.0.1:0", "127.0.0.1:1"
	if withPartner {
		var err error
		if lis, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return nil, err
		}
		if partnerLis, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			lis.Close()
			return nil, err
		}
		listen, partnerAddr = lis.Addr().String(), partnerLis.Addr().String()
	}
	closeListeners := func() {
		for _, l := range []net.Listener{lis, partnerLis} {
			if l != nil {
				l.Close()
			}
		}
	}
	cfg, err := nodeConfig(f, pkiDir, filepath.Join(dbDir, ownAgency+".db"), ownAgency, partnerAgency, listen, partnerAddr)
	if err != nil {
		closeListeners()
		return nil, err
	}
	var names, phones []string
	if f.persons > 0 {
		if err := os.MkdirAll(dbDir, 0o700); err != nil {
			closeListeners()
			return nil, err
		}
		if names, phones, err = populatePersons(ctx, cfg.Database.Path, f.persons, f.reuseDB); err != nil {
			closeListeners()
			return nil, fmt.Errorf("populate persons: %w", err)
		}
	}
	var partner *node.Node
	if withPartner {
		dir := filepath.Join(tmp, "partner")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			closeListeners()
			return nil, err
		}
		if partner, _, err = startPartner(ctx, f, pkiDir, dir, partnerLis, lis.Addr().String()); err != nil {
			lis.Close()
			return nil, err
		}
	}
	log := node.NewLogger(cfg.Log)
	n, err := node.Start(ctx, cfg, log, lis)
	if err != nil {
		if partner != nil {
			partner.Shutdown()
		}
		return nil, fmt.Errorf("start node: %w", err)
	}
	b := &bench{node: n, partner: partner, loadAvg: loadAvg(), disk: diskInfo(filepath.Dir(cfg.Database.Path)), pkiDir: pkiDir}

	// The ceiling: bare grpc-go, same mTLS (its own Material from the same
	// files), the health service only, no interceptors, no database.
	mat, err := mtls.New(mtls.Options{
		Own:      mtls.Agency{Code: ownAgency, TrustDomain: cfg.TrustDomain, CAFile: cfg.TLS.CA},
		Partners: []mtls.Agency{{Code: partnerAgency, TrustDomain: cfg.Partners[0].TrustDomain, CAFile: cfg.Partners[0].CA}},
		CertFile: cfg.TLS.Cert, KeyFile: cfg.TLS.Key, Logger: log,
	})
	if err != nil {
		return b, fmt.Errorf("echo server tls: %w", err)
	}
	b.echo = grpc.NewServer(grpc.Creds(credentials.NewTLS(mat.ServerConfig())))
	healthpb.RegisterHealthServer(b.echo, health.NewServer())
	reflection.Register(b.echo) // for ghz, which finds methods by reflection
	echoLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return b, fmt.Errorf("echo server: %w", err)
	}
	b.echoAddr = echoLis.Addr().String()
	go b.echo.Serve(echoLis)

	if b.echoConns, err = dialAs(pkiDir, echoLis.Addr().String(), "analyst", f.conns); err != nil {
		return b, fmt.Errorf("dial echo server: %w", err)
	}
	b.env = &Env{
		EchoConns: b.echoConns, Concurrency: f.concurrency, SeedLeads: f.seed,
		SearchNames: names, SearchPhones: phones,
		dial:  func(role string) ([]*grpc.ClientConn, error) { return dialAs(pkiDir, n.Addr(), role, f.conns) },
		conns: map[string][]*grpc.ClientConn{},
	}
	return b, nil
}

// dialAs opens conns connections to addr as role of the own agency, with
// the certificates of pkiDir.
func dialAs(pkiDir, addr, role string, conns int) ([]*grpc.ClientConn, error) {
	path := func(file string) string { return filepath.Join(pkiDir, ownAgency, file) }
	o := client.Options{Addr: addr, CA: path("ca.crt"), Cert: path(role + ".crt"), Key: path(role + ".key")}
	out := make([]*grpc.ClientConn, 0, conns)
	for range conns {
		c, err := client.Dial(o)
		if err != nil {
			for _, c := range out {
				c.Close()
			}
			return nil, err
		}
		c.Connect()
		out = append(out, c)
	}
	return out, nil
}

// measure runs one scenario: setup, warm-up, measured run.
func (b *bench) measure(ctx context.Context, f flags, i int, sc Scenario) outcome {
	o := outcome{sc: sc, hasWriter: !sc.Echo}
	progress := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "liaisonbench: %-12s "+format+"\n", append([]any{sc.label()}, args...)...)
	}
	progress("setup")
	// runFor drives the scenario for d; expected is the warm-up's rate.
	var runFor func(d time.Duration, expected float64) Result
	var mix *mixed
	if sc.Mixed {
		m, err := b.setupMixed(ctx)
		if err != nil {
			o.setupErr = err
			progress("setup failed: %v", err)
			return o
		}
		mix = m
		runFor = func(d time.Duration, _ float64) Result { return m.run(ctx, f.mixedRate, d) }
	} else {
		call, err := sc.Setup(ctx, b.env)
		if err != nil {
			o.setupErr = err
			progress("setup failed: %v", err)
			return o
		}
		runFor = func(d time.Duration, expected float64) Result {
			return Run(ctx, Load{Concurrency: sc.concurrency(f), Duration: d, ExpectedRate: expected}, call)
		}
	}
	var expected float64
	if f.warmup > 0 {
		progress("warm-up %v", f.warmup)
		w := runFor(f.warmup, 0)
		o.warmErrs = w.Errors
		for _, e := range w.FirstErrors {
			progress("warm-up error: %s", e)
		}
		expected = w.Throughput()
	}
	if ctx.Err() != nil {
		o.res.Interrupted = true
		return o
	}
	runtime.GC()
	progress("measuring %v", f.duration)
	stopProfile := b.profile(f, i, sc)
	before, cpu0, sys0 := b.node.Store.Stats(), processCPU(), systemBusy()
	o.res = runFor(f.duration, expected)
	after, cpu1, sys1 := b.node.Store.Stats(), processCPU(), systemBusy()
	stopProfile()
	o.writer = store.Stats{Batches: after.Batches - before.Batches, Ops: after.Ops - before.Ops}
	o.other = -1
	if cpu0 >= 0 && cpu1 >= 0 {
		o.cpu = cpu1 - cpu0
		if sys0 >= 0 && sys1 >= 0 {
			o.other = max(0, (sys1-sys0-o.cpu).Seconds()/o.res.Elapsed.Seconds())
		}
	}
	for _, e := range o.res.FirstErrors {
		progress("error: %s", e)
	}
	progress("%.0f req/s, %d errors", o.res.Throughput(), o.res.Errors)
	if mix != nil {
		progress("waiting for %s to apply the releases", partnerAgency)
		r := mix.finish(ctx, b.partner, f.mixedRate)
		o.mixed = &r
		if r.applyErr != nil {
			progress("%v", r.applyErr)
		}
	}
	return o
}

// profile starts a CPU profile of the measured run if -cpuprofile is set and
// returns the function that stops it.
func (b *bench) profile(f flags, i int, sc Scenario) func() {
	return startProfile(f.cpuProfile, fmt.Sprintf("%d-%s", i+1, slug(sc.label())))
}

// startProfile starts a CPU profile written to PREFIX.<run>.pprof if
// -cpuprofile set a prefix and returns the function that stops it.
func startProfile(prefix, run string) func() {
	if prefix == "" {
		return func() {}
	}
	name := fmt.Sprintf("%s.%s.pprof", prefix, run)
	file, err := os.Create(name)
	if err != nil {
		fmt.Fprintln(os.Stderr, "liaisonbench: cpuprofile:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(file); err != nil {
		fmt.Fprintln(os.Stderr, "liaisonbench: cpuprofile:", err)
		file.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		if err := file.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "liaisonbench: cpuprofile:", err)
			return
		}
		fmt.Fprintln(os.Stderr, "liaisonbench: CPU profile written to", name)
	}
}

func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// ---- report ----------------------------------------------------------------

func report(w io.Writer, f flags, b *bench, results []outcome, mem memory) {
	cfg := b.node.Config
	partnerNote := ""
	if b.partner != nil {
		partnerNote = fmt.Sprintf(", and so does %s, the partner node that receives the mixed workload's releases (running from the start)", partnerAgency)
	}
	fmt.Fprintln(w, "# Liaison benchmark")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "- Machine: %d CPUs (GOMAXPROCS %d), %s/%s, %s, CPU %s\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version(), cpuModel())
	fmt.Fprintf(w, "- Settings: concurrency %d (unless the scenario says), duration %v, warm-up %v, conns %d, synchronous %s (max_batch %d, read connections %d), %d seeded leads, %d persons in the search index\n",
		f.concurrency, f.duration, f.warmup, f.conns, cfg.Database.Synchronous, cfg.Database.MaxBatch, cfg.Database.ReadConnections, f.seed, f.persons)
	fmt.Fprintf(w, "- Database: %s\n", b.disk)
	fmt.Fprintf(w, "- Load average before the run: %s\n", b.loadAvg)
	fmt.Fprintf(w, "- Node: mTLS (TLS 1.3, ECDSA P-256), every interceptor, audit event per call, rate limit raised to 1e6/s, GOGC %d and the C allocator keeping freed memory (%t) as liaison serve (but not its memory limits, which are for a process of one node: the node alone below runs with them); load generator, node and echo server share this process%s\n", f.gogc, f.keepFreed, partnerNote)
	fmt.Fprintln(w)

	// The ceiling is the mean of the echo runs.
	var echoSum float64
	var echoN int
	var echoRates []float64
	for _, r := range results {
		if r.sc.Echo && r.setupErr == nil && r.res.OK > 0 {
			echoSum += r.res.Throughput()
			echoN++
			echoRates = append(echoRates, r.res.Throughput())
		}
	}
	ceiling := 0.0
	if echoN > 0 {
		ceiling = echoSum / float64(echoN)
	}
	share := func(r outcome) string {
		if ceiling == 0 || r.setupErr != nil || r.sc.Mixed {
			return "–"
		}
		return fmt.Sprintf("%.1f%%", 100*r.res.Throughput()/ceiling)
	}

	fmt.Fprintln(w, "| scenario | requests/s | p50 ms | p99 ms | errors | % of echo ceiling |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
	for _, r := range results {
		if r.setupErr != nil {
			fmt.Fprintf(w, "| %s | – | – | – | **setup failed** | – |\n", r.sc.label())
			continue
		}
		errCol := fmt.Sprint(r.res.Errors)
		if r.res.Errors > 0 || r.warmErrs > 0 {
			errCol = fmt.Sprintf("**%d ERRORS**", r.res.Errors)
			if r.warmErrs > 0 {
				errCol += fmt.Sprintf(" (+%d in warm-up)", r.warmErrs)
			}
		}
		name := r.sc.label()
		if r.sc.Mixed {
			name += fmt.Sprintf(" (%.0f/s offered)", f.mixedRate)
		}
		if r.res.Interrupted {
			name += " (interrupted)"
		}
		fmt.Fprintf(w, "| %s | %.0f | %.2f | %.2f | %s | %s |\n", name, r.res.Throughput(),
			ms(r.res.Percentile(0.50)), ms(r.res.Percentile(0.99)), errCol, share(r))
	}
	fmt.Fprintln(w)
	switch {
	case echoN == 0:
		fmt.Fprintln(w, "No echo run: no ceiling.")
	case echoN == 1:
		fmt.Fprintf(w, "Ceiling (one echo run): %.0f req/s.\n", ceiling)
	default:
		drift := 100 * (echoRates[len(echoRates)-1] - echoRates[0]) / echoRates[0]
		fmt.Fprintf(w, "Ceiling (mean of %d echo runs): %.0f req/s; drift from first to last echo run %+.1f%%.\n", echoN, ceiling, drift)
		if drift > 10 || drift < -10 {
			fmt.Fprintln(w, "**Warning: the ceiling moved by more than 10% during the run; the percentages are uncertain by as much. Run again (or longer).**")
		}
	}

	var failed []outcome
	for _, r := range results {
		if r.setupErr != nil || len(r.res.FirstErrors) > 0 {
			failed = append(failed, r)
		}
	}
	if len(failed) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Errors (a scenario with errors is not a valid measurement):")
		for _, r := range failed {
			if r.setupErr != nil {
				fmt.Fprintf(w, "- %s: setup: %v\n", r.sc.label(), r.setupErr)
			}
			for _, e := range r.res.FirstErrors {
				fmt.Fprintf(w, "- %s: %s\n", r.sc.label(), e)
			}
		}
	}

	// Where the work goes: the writer's group commits (reads write their
	// audit event too) and the CPU the whole process spent per call.
	fmt.Fprintln(w)
	var disturbed []string
	fmt.Fprintln(w, "Store writer and CPU over each measured run (CPU is the whole process: client, node and echo server):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| scenario | group commits | ops | ops per commit | commits/s | CPU µs per call | other processes' CPU (cores) |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	for _, r := range results {
		if r.setupErr != nil {
			continue
		}
		cpu := "–"
		if calls := r.res.OK + r.res.Errors; calls > 0 && r.cpu > 0 {
			cpu = fmt.Sprintf("%.0f", float64(r.cpu.Microseconds())/float64(calls))
		}
		other := "–"
		if r.other >= 0 {
			other = fmt.Sprintf("%.2f", r.other)
			if r.other > 0.2 {
				disturbed = append(disturbed, r.sc.label())
			}
		}
		if !r.hasWriter {
			fmt.Fprintf(w, "| %s | – | – | – | – | %s | %s |\n", r.sc.label(), cpu, other)
			continue
		}
		fmt.Fprintf(w, "| %s | %d | %d | %s | %.0f | %s | %s |\n", r.sc.label(), r.writer.Batches, r.writer.Ops,
			perCommit(r.writer), float64(r.writer.Batches)/r.res.Elapsed.Seconds(), cpu, other)
	}
	if len(disturbed) > 0 {
		fmt.Fprintf(w, "\n**Warning: other processes used more than 0.2 CPU cores during %s; those numbers are disturbed.**\n", strings.Join(disturbed, ", "))
	}
	for _, r := range results {
		if r.sc.Name == "CreateLead" && r.setupErr == nil {
			fmt.Fprintf(w, "\nCreateLead writer: %d group commits, %d ops → %s ops per group commit.\n",
				r.writer.Batches, r.writer.Ops, perCommit(r.writer))
		}
	}

	persons := false
	for _, r := range results {
		if r.mixed != nil {
			reportMixed(w, f, r)
		}
		persons = persons || r.sc.Persons
	}
	if persons {
		reportMemory(w, f, mem, b.partner != nil)
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, "Targets:")
	fmt.Fprintln(w)
	targets := 0
	for _, r := range results {
		if r.sc.Target <= 0 {
			continue
		}
		targets++
		verdict, pct := "MISS", "–"
		if ceiling > 0 && r.setupErr == nil {
			p := r.res.Throughput() / ceiling
			pct = fmt.Sprintf("%.1f%%", 100*p)
			if p >= r.sc.Target {
				verdict = "PASS"
			}
		}
		note := ""
		switch {
		case r.setupErr != nil:
			verdict, note = "MISS", " (setup failed)"
		case ceiling == 0:
			verdict, note = "MISS", " (no echo ceiling measured)"
		case r.res.Errors > 0 || r.warmErrs > 0:
			verdict, note = "MISS", " (errors)"
		}
		fmt.Fprintf(w, "- %s ≥ %.0f%% of echo: %s — %s%s\n", r.sc.label(), 100*r.sc.Target, pct, verdict, note)
	}
	var getLead8 *outcome
	for i, r := range results {
		if r.sc.Name == "GetLead8" && r.setupErr == nil {
			getLead8 = &results[i]
		}
	}
	for _, r := range results {
		if r.sc.P99Target <= 0 {
			continue
		}
		targets++
		verdict, p99, note := "MISS", "–", ""
		if r.setupErr == nil {
			p99 = fmt.Sprintf("%.2f ms", ms(r.res.Percentile(0.99)))
			if r.res.Percentile(0.99) < r.sc.P99Target {
				verdict = "PASS"
			}
		}
		switch {
		case r.setupErr != nil:
			verdict, note = "MISS", " (setup failed)"
		case r.res.Errors > 0 || r.warmErrs > 0:
			verdict, note = "MISS", " (errors)"
		}
		if getLead8 != nil {
			note += fmt.Sprintf(" (GetLead at the same concurrency: p50 %.2f ms, p99 %.2f ms)",
				ms(getLead8.res.Percentile(0.50)), ms(getLead8.res.Percentile(0.99)))
		}
		fmt.Fprintf(w, "- %s over %d persons, p99 < %v: %s — %s%s\n", r.sc.label(), f.persons, r.sc.P99Target, p99, verdict, note)
	}
	for _, r := range results {
		if r.sc.Mixed {
			targets++
			mixedTarget(w, f, r)
		}
	}
	if persons {
		targets++
		memoryTarget(w, f, mem)
	}
	if targets == 0 {
		fmt.Fprintln(w, "- (no scenario with a target was run)")
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func perCommit(s store.Stats) string {
	if s.Batches == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f", float64(s.Ops)/float64(s.Batches))
}
