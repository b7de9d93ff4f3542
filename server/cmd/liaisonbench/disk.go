package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// diskInfo describes where the database lives and what a durable commit
// costs there: the filesystem (from /proc/mounts, where readable) and the
// latency of appending 4 KiB and fsyncing, which bounds the commits per
// second of synchronous=full.
func diskInfo(dir string) string {
	fs := fsType(dir)
	f, err := os.CreateTemp(dir, ".fsync-probe-*")
	if err != nil {
		return fs + ", fsync not measured: " + err.Error()
	}
	defer os.Remove(f.Name())
	defer f.Close()
	const n = 200
	page := make([]byte, 4096)
	lat := make([]time.Duration, 0, n)
	for range n {
		t := time.Now()
		if _, err := f.Write(page); err != nil {
			return fs + ", fsync not measured: " + err.Error()
		}
		if err := f.Sync(); err != nil {
			return fs + ", fsync not measured: " + err.Error()
		}
		lat = append(lat, time.Since(t))
	}
	slices.Sort(lat)
	r := Result{Latencies: lat}
	return fmt.Sprintf("%s, 4 KiB append+fsync p50 %.3f ms / p99 %.3f ms (≈ %.0f fsyncs/s)",
		fs, ms(r.Percentile(0.5)), ms(r.Percentile(0.99)), 1/r.Percentile(0.5).Seconds())
}

// fsType is the filesystem type of the mount holding dir, or "filesystem
// unknown".
func fsType(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "filesystem unknown"
	}
	if p, err := filepath.EvalSymlinks(abs); err == nil {
		abs = p
	}
	file, err := os.Open("/proc/mounts")
	if err != nil {
		return "filesystem unknown"
	}
	defer file.Close()
	best, typ := "", "unknown"
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 {
			continue
		}
		mnt := fields[1]
		under := abs == mnt || strings.HasPrefix(abs, strings.TrimSuffix(mnt, "/")+"/")
		if under && len(mnt) >= len(best) {
			best, typ = mnt, fields[2]
		}
	}
	return "filesystem " + typ
}
