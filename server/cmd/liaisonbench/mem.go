package main

// The node's memory at the populated persons (-persons): the node runs in
// this process, so what is reported is the whole bench process — node,
// load generator, echo server (and the mixed workload's partner node) —
// an upper bound of the node's own.

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// rssTarget is the resident memory the node must stay under, in bytes.
const rssTarget = 300_000_000

// memory is the process's memory at one moment.
type memory struct {
	rss, hwm int64 // VmRSS and VmHWM, bytes; -1 unknown
	// peakReset says VmHWM was reset once the node had started, so that
	// it is the peak since then (not of the populating before).
	peakReset bool
	heap, sys uint64 // Go heap in use, and all the Go runtime holds
	err       error
}

// resetPeak resets the process's VmHWM to its current RSS (Linux ≥ 4.0).
func resetPeak() error {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// readMemory reads VmRSS and VmHWM from /proc/self/status and the Go
// runtime's own figures.
func readMemory(peakReset bool) memory {
	m := memory{rss: -1, hwm: -1, peakReset: peakReset}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.heap, m.sys = ms.HeapInuse, ms.Sys
	f, err := os.Open("/proc/self/status")
	if err != nil {
		m.err = err
		return m
	}
	defer f.Close()
	m.rss, m.hwm, m.err = parseStatus(f)
	return m
}

// parseStatus finds VmRSS and VmHWM (in kB) in a /proc/PID/status.
func parseStatus(r io.Reader) (rss, hwm int64, err error) {
	rss, hwm = -1, -1
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		fields := strings.Fields(val)
		if len(fields) != 2 || fields[1] != "kB" {
			return -1, -1, fmt.Errorf("/proc/self/status: unexpected %s line %q", key, sc.Text())
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return -1, -1, fmt.Errorf("/proc/self/status: %s: %w", key, err)
		}
		if key == "VmRSS" {
			rss = kb * 1024
		} else {
			hwm = kb * 1024
		}
	}
	if err := sc.Err(); err != nil {
		return -1, -1, err
	}
	if rss < 0 || hwm < 0 {
		return -1, -1, fmt.Errorf("/proc/self/status: no VmRSS or VmHWM")
	}
	return rss, hwm, nil
}

func mb(b int64) float64 { return float64(b) / 1e6 }

// reportMemory prints the memory after the scenarios; partner says the
// mixed workload's partner node was in the process too.
func reportMemory(w io.Writer, f flags, m memory, partner bool) {
	fmt.Fprintln(w)
	who := "node + load generator + echo server"
	if partner {
		who += " + the mixed workload's partner node"
	}
	if m.err != nil {
		fmt.Fprintf(w, "Memory after the scenarios: unknown (%v).\n", m.err)
		return
	}
	peak := "peak of the whole process, the untimed populating included"
	if m.peakReset {
		peak = "peak since the node started; the untimed populating before is not in it"
	}
	fmt.Fprintf(w, "Memory after the scenarios, %d persons indexed (bench process = %s, so an upper bound of the node's): VmRSS %.1f MB, VmHWM %.1f MB (%s); Go heap in use %.1f MB, all the Go runtime holds %.1f MB (the rest of the RSS is mostly SQLite's caches).\n",
		f.persons, who, mb(m.rss), mb(m.hwm), peak, float64(m.heap)/1e6, float64(m.sys)/1e6)
}

// memoryTarget prints the RSS target line: the current RSS and, when it
// covers only the node's life, the peak must be under the target.
func memoryTarget(w io.Writer, f flags, m memory) {
	if f.nodeBin != "" {
		// The node's own figure is measured in its own process
		// (alone.go); the bench process's is an upper bound only.
		fmt.Fprintf(w, "- Node RSS at %d indexed persons < %.0f MB: see \"The node alone\" below (this process, node and load generator together: %.1f MB)\n",
			f.persons, mb(rssTarget), mb(m.rss))
		return
	}
	if m.err != nil {
		fmt.Fprintf(w, "- Node RSS at %d indexed persons < %.0f MB: unknown — MISS (%v)\n", f.persons, mb(rssTarget), m.err)
		return
	}
	verdict := "PASS"
	if m.rss >= rssTarget || (m.peakReset && m.hwm >= rssTarget) {
		verdict = "MISS"
	}
	peak := fmt.Sprintf(", peak %.1f MB", mb(m.hwm))
	if !m.peakReset {
		peak = " (peak unknown: it includes the populating)"
	}
	fmt.Fprintf(w, "- Node RSS at %d indexed persons < %.0f MB (bench process, an upper bound): %.1f MB%s — %s\n",
		f.persons, mb(rssTarget), mb(m.rss), peak, verdict)
}
