package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
)

// With -ghz, the same scenarios run once more with ghz
// (github.com/bojand/ghz) as the load generator: a separate process, the
// same endpoints and certificates, the same concurrency, connections and
// duration. It is a second, independent view of the same node next to the
// in-process generator, whose cost per call is much lower than ghz's, and so
// whose ceiling is much higher.

// ghzReport is the part of ghz's JSON output used here.
type ghzReport struct {
	Count   int64   `json:"count"`
	RPS     float64 `json:"rps"`
	Latency []struct {
		Percentage int   `json:"percentage"`
		Latency    int64 `json:"latency"` // ns
	} `json:"latencyDistribution"`
	Status map[string]int64 `json:"statusCodeDistribution"`
	Errors map[string]int64 `json:"errorDistribution"`
}

func (r ghzReport) percentile(p int) time.Duration {
	for _, l := range r.Latency {
		if l.Percentage == p {
			return time.Duration(l.Latency)
		}
	}
	return 0
}

func (r ghzReport) errors() int64 {
	var n int64
	for code, c := range r.Status {
		if code != "OK" {
			n += c
		}
	}
	return n
}

// ghzRun is one scenario measured with ghz.
type ghzRun struct {
	sc     Scenario
	report ghzReport
	err    error
}

// ghzCall says what ghz calls for a scenario, and with what data.
func (b *bench) ghzCall(ctx context.Context, sc Scenario, dir string) (addr, method string, args []string, err error) {
	node := b.node.Addr()
	switch sc.Name {
	case "Echo":
		return b.echoAddr, "grpc.health.v1.Health/Check", []string{"-d", "{}"}, nil
	case "GetLead":
		ids, err := b.env.LeadIDs(ctx)
		if err != nil {
			return "", "", nil, err
		}
		data := make([]map[string]string, len(ids))
		for i, id := range ids {
			data[i] = map[string]string{"id": id}
		}
		b, _ := json.Marshal(data)
		file := filepath.Join(dir, "get.json")
		if err := os.WriteFile(file, b, 0o600); err != nil {
			return "", "", nil, err
		}
		return node, "liaison.v1.LeadService/GetLead", []string{"-D", file}, nil
	case "CreateLead":
		lead, err := protojson.Marshal(benchLead("ghz"))
		if err != nil {
			return "", "", nil, err
		}
		// A fresh request_id per call, from ghz's template functions.
		return node, "liaison.v1.LeadService/CreateLead",
			[]string{"-d", `{"request_id":"{{newUUID}}","lead":` + string(lead) + `}`}, nil
	case "ListLeads":
		return node, "liaison.v1.LeadService/ListLeads", []string{"-d", `{"page_size":50}`}, nil
	}
	return "", "", nil, fmt.Errorf("no ghz form of scenario %s", sc.Name)
}

func (b *bench) runGhz(ctx context.Context, f flags, sc Scenario, d time.Duration, dir string) (ghzReport, error) {
	addr, method, data, err := b.ghzCall(ctx, sc, dir)
	if err != nil {
		return ghzReport{}, err
	}
	args := append([]string{
		"--cacert", b.path(ownAgency, "ca.crt"), "--cert", b.path(ownAgency, "analyst.crt"), "--key", b.path(ownAgency, "analyst.key"),
		"--call", method, "-c", strconv.Itoa(f.concurrency), "--connections", strconv.Itoa(f.conns),
		// Calls in flight when the duration ends are waited for, not
		// counted as errors.
		"-z", d.String(), "--duration-stop", "wait", "-O", "json",
	}, data...)
	args = append(args, addr)
	cmd := exec.CommandContext(ctx, f.ghz, args...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return ghzReport{}, fmt.Errorf("ghz: %v: %s", err, stderr.String())
	}
	var r ghzReport
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return ghzReport{}, fmt.Errorf("ghz output: %v", err)
	}
	return r, nil
}

// measureGhz runs every scenario with ghz: a warm-up, then the measured run.
func (b *bench) measureGhz(ctx context.Context, f flags, scs []Scenario, dir string) []ghzRun {
	var runs []ghzRun
	for _, sc := range scs {
		if ctx.Err() != nil {
			break
		}
		if _, _, _, err := b.ghzCall(ctx, sc, dir); err != nil {
			continue // a scenario with no ghz form
		}
		fmt.Fprintf(os.Stderr, "liaisonbench: ghz %-12s warm-up %v, measuring %v\n", sc.label(), f.warmup, f.duration)
		if f.warmup > 0 {
			if _, err := b.runGhz(ctx, f, sc, f.warmup, dir); err != nil {
				runs = append(runs, ghzRun{sc: sc, err: err})
				continue
			}
		}
		r, err := b.runGhz(ctx, f, sc, f.duration, dir)
		runs = append(runs, ghzRun{sc: sc, report: r, err: err})
	}
	return runs
}

// reportGhz prints the ghz table; it returns false if a run failed or had
// errors.
func reportGhz(w io.Writer, f flags, runs []ghzRun) bool {
	ok := true
	var sum float64
	var n int
	for _, r := range runs {
		if r.sc.Echo && r.err == nil && r.report.RPS > 0 {
			sum += r.report.RPS
			n++
		}
	}
	ceiling := 0.0
	if n > 0 {
		ceiling = sum / float64(n)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "## The same scenarios with ghz as the load generator (%s, a separate process; concurrency %d, conns %d, %v each)\n\n",
		filepath.Base(f.ghz), f.concurrency, f.conns, f.duration)
	fmt.Fprintln(w, "| scenario | requests/s | p50 ms | p99 ms | errors | % of echo ceiling |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
	var targets []string
	for _, r := range runs {
		if r.err != nil {
			ok = false
			fmt.Fprintf(w, "| %s | – | – | – | **failed: %v** | – |\n", r.sc.label(), r.err)
			continue
		}
		share := "–"
		if ceiling > 0 {
			share = fmt.Sprintf("%.1f%%", 100*r.report.RPS/ceiling)
		}
		errs := r.report.errors()
		errCol := fmt.Sprint(errs)
		if errs > 0 {
			ok = false
			errCol = fmt.Sprintf("**%d ERRORS** %v", errs, r.report.Errors)
		}
		fmt.Fprintf(w, "| %s | %.0f | %.2f | %.2f | %s | %s |\n", r.sc.label(), r.report.RPS,
			ms(r.report.percentile(50)), ms(r.report.percentile(99)), errCol, share)
		if r.sc.GhzTarget > 0 && ceiling > 0 {
			got := r.report.RPS / ceiling
			verdict := "PASS"
			if got < r.sc.GhzTarget || errs > 0 {
				verdict = "MISS"
			}
			targets = append(targets, fmt.Sprintf("- %s ≥ %.0f%% of echo: %.1f%% — %s", r.sc.Name, 100*r.sc.GhzTarget, 100*got, verdict))
		}
	}
	fmt.Fprintln(w)
	if n > 0 {
		fmt.Fprintf(w, "Ceiling (mean of %d ghz echo runs): %.0f req/s.\n\nTargets with ghz:\n\n", n, ceiling)
		for _, t := range targets {
			fmt.Fprintln(w, t)
		}
	}
	return ok
}
