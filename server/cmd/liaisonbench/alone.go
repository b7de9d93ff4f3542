package main

// The node alone: its memory measured in a process of its own. The
// scenarios run the node in the bench's process, beside the load
// generator, the echo server and the partner node, so the process's RSS
// is only an upper bound of the node's. Here the node binary (-node-bin,
// `liaison serve` as `make run` starts it) serves the scenarios' database
// while the bench drives it over mTLS, and its own /proc/PID/status is
// read.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/config"
)

// aloneScenarios are the calls the node serves before its memory is read
// (as -only names them): reads, writes and both kinds of search over the
// million persons.
const aloneScenarios = "GetLead,CreateLead,SearchName,SearchPhone"

// aloneRun is one scenario's run against the node alone.
type aloneRun struct {
	label string
	res   Result
	err   error
}

// aloneResult is what measureAlone found.
type aloneResult struct {
	runs     []aloneRun
	rss, hwm int64 // bytes; VmHWM is the process's whole life, start-up included
	startup  time.Duration
	err      error
}

// measureAlone starts the node binary bin over the database at dbPath (the
// scenarios' node stopped), drives aloneScenarios for d each after a
// warm-up of -warmup, reads the process's VmRSS and VmHWM, and stops it.
func measureAlone(ctx context.Context, f flags, bin, pkiDir, dir, dbPath string, names, phones []string, d time.Duration) aloneResult {
	var r aloneResult
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		r.err = err
		return r
	}
	addr := lis.Addr().String()
	lis.Close()
	// The partner is unreachable, as in the scenarios without the mixed
	// workload.
	cfg, err := nodeConfig(f, pkiDir, dbPath, ownAgency, partnerAgency, addr, "127.0.0.1:1")
	if err != nil {
		r.err = err
		return r
	}
	cfgPath := filepath.Join(dir, "alone-"+ownAgency+".yaml")
	if err := writeConfig(cfg, cfgPath); err != nil {
		r.err = err
		return r
	}
	logPath := filepath.Join(dir, "alone-"+ownAgency+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		r.err = err
		return r
	}
	defer logFile.Close()
	cmd := exec.Command(bin, "serve", "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	start := time.Now()
	if err := cmd.Start(); err != nil {
		r.err = fmt.Errorf("start %s: %w", bin, err)
		return r
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if err := stopProcess(cmd, exited); err != nil && r.err == nil {
			r.err = err
		}
	}()
	fail := func(err error) aloneResult {
		r.err = fmt.Errorf("%w (the node's log: %s)", err, lastLines(logPath, 5))
		return r
	}

	env := &Env{
		Concurrency: f.concurrency, SeedLeads: f.seed, SearchNames: names, SearchPhones: phones,
		dial:  func(role string) ([]*grpc.ClientConn, error) { return dialAs(pkiDir, addr, role, f.conns) },
		conns: map[string][]*grpc.ClientConn{},
	}
	defer env.Close()
	if err := waitServing(ctx, env, exited, 2*time.Minute); err != nil {
		return fail(err)
	}
	r.startup = time.Since(start)
	scs, err := selected(aloneScenarios)
	if err != nil {
		return fail(err)
	}
	for _, sc := range scs {
		fmt.Fprintf(os.Stderr, "liaisonbench: node alone: %-12s warm-up %v, measuring %v\n", sc.label(), f.warmup, d)
		run := aloneRun{label: sc.label()}
		call, err := sc.Setup(ctx, env)
		if err == nil && f.warmup > 0 {
			// As the scenarios are: the node's caches warm before the
			// calls that are counted.
			Run(ctx, Load{Concurrency: sc.concurrency(f), Duration: f.warmup}, call)
		}
		if err == nil {
			run.res = Run(ctx, Load{Concurrency: sc.concurrency(f), Duration: d}, call)
		}
		run.err = err
		r.runs = append(r.runs, run)
	}
	st, err := os.Open(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	if r.rss, r.hwm, err = parseStatus(st); err != nil {
		return fail(err)
	}
	return r
}

// writeConfig writes cfg as the YAML file `liaison serve --config` reads.
func writeConfig(cfg *config.Config, path string) error {
	y, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	return os.WriteFile(path, y, 0o600)
}

// waitServing waits until the node answers a call (it opens and checks its
// database first), or the process exits, or limit passes.
func waitServing(ctx context.Context, env *Env, exited <-chan error, limit time.Duration) error {
	conns, err := env.Conns("analyst")
	if err != nil {
		return err
	}
	c := liaisonv1.NewLeadServiceClient(conns[0])
	deadline := time.Now().Add(limit)
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := c.ListLeads(cctx, &liaisonv1.ListLeadsRequest{PageSize: 1})
		cancel()
		if err == nil {
			return nil
		}
		select {
		case werr := <-exited:
			return fmt.Errorf("the node exited before serving: %v", werr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the node did not serve within %v: %w", limit, err)
		}
	}
}

// stopProcess stops the node as Ctrl-C does, and kills it if it has not
// exited 30 s later.
func stopProcess(cmd *exec.Cmd, exited <-chan error) error {
	if err := cmd.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-exited:
		return nil
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-exited
		return errors.New("the node did not stop within 30s of SIGINT; killed")
	}
}

// lastLines returns the last n lines of a file, for an error message.
func lastLines(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}

// reportAlone prints the node-alone section and its RSS target line; it
// returns false if the measurement failed or a call failed.
func reportAlone(w io.Writer, f flags, bin string, r aloneResult) bool {
	fmt.Fprintln(w)
	fmt.Fprintf(w, "## The node alone: `%s serve` in its own process over the scenarios' database (%d persons)\n\n", filepath.Base(bin), f.persons)
	ok := r.err == nil
	for _, run := range r.runs {
		switch {
		case run.err != nil:
			fmt.Fprintf(w, "- %s: setup failed: %v\n", run.label, run.err)
			ok = false
		default:
			fmt.Fprintf(w, "- %s: %.0f req/s, p50 %.2f ms, p99 %.2f ms, %d errors\n", run.label, run.res.Throughput(),
				ms(run.res.Percentile(0.50)), ms(run.res.Percentile(0.99)), run.res.Errors)
			ok = ok && run.res.Errors == 0
		}
	}
	if r.err != nil {
		fmt.Fprintf(w, "\nNot measured: %v\n", r.err)
		fmt.Fprintf(w, "- Node RSS at %d indexed persons < %.0f MB (the node alone): unknown — MISS\n", f.persons, mb(rssTarget))
		return false
	}
	fmt.Fprintf(w, "\nServing after %.1f s (opening the database included). After the calls above: VmRSS %.1f MB, VmHWM %.1f MB (the process's whole life).\n",
		r.startup.Seconds(), mb(r.rss), mb(r.hwm))
	verdict := "PASS"
	if r.rss >= rssTarget || r.hwm >= rssTarget {
		verdict = "MISS"
	}
	fmt.Fprintf(w, "- Node RSS at %d indexed persons < %.0f MB (the node alone): %.1f MB, peak %.1f MB — %s\n",
		f.persons, mb(rssTarget), mb(r.rss), mb(r.hwm), verdict)
	return ok
}
