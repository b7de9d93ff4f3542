package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// A stall of the server shows as the latency of every call scheduled
// during it (latency runs from the scheduled send time), the schedule is
// kept (not flat out), and exactly Rate×Duration calls are made.
func TestRunOpen_LatencyFromSchedule(t *testing.T) {
	const stall = 50 * time.Millisecond
	l := OpenLoad{Rate: 1000, Duration: 200 * time.Millisecond, MaxInFlight: 1}
	if got := l.Calls(); got != 200 {
		t.Fatalf("Calls() = %d, want 200", got)
	}
	r := RunOpen(context.Background(), l, 1, []int{0}, func(_ context.Context, _, i int) error {
		if i == 0 {
			time.Sleep(stall)
		}
		return nil
	})
	if r.Scheduled != 200 || r.Total.OK != 200 || r.Total.Errors != 0 || len(r.Total.Latencies) != 200 {
		t.Fatalf("scheduled %d, ok %d, errors %d, latencies %d; want 200, 200, 0, 200",
			r.Scheduled, r.Total.OK, r.Total.Errors, len(r.Total.Latencies))
	}
	// Calls 1…40, scheduled 1…40 ms in, could not be sent before the
	// stalled call 0 ended at 50 ms: each waited at least 10 ms.
	slow := 0
	for _, d := range r.Total.Latencies {
		if d >= 10*time.Millisecond {
			slow++
		}
	}
	if slow < 41 {
		t.Errorf("%d calls with latency ≥ 10 ms, want ≥ 41 (the stalled one and the 40 queued behind it)", slow)
	}
	if r.MaxLag < 40*time.Millisecond {
		t.Errorf("MaxLag %v, want ≥ 40ms (call 1 was sent after the stall)", r.MaxLag)
	}
	// The last call is scheduled at 199 ms.
	if r.Total.Elapsed < 199*time.Millisecond {
		t.Errorf("elapsed %v, want ≥ 199ms: calls were sent ahead of the schedule", r.Total.Elapsed)
	}
	for i := 1; i < len(r.Total.Latencies); i++ {
		if r.Total.Latencies[i] < r.Total.Latencies[i-1] {
			t.Fatal("latencies not sorted")
		}
	}
	if p := r.Total.Percentile(1); p < stall {
		t.Errorf("max latency %v, want ≥ %v", p, stall)
	}
}

// Calls are split into kinds by the pattern, errors counted per kind.
func TestRunOpen_Kinds(t *testing.T) {
	l := OpenLoad{Rate: 2000, Duration: 100 * time.Millisecond}
	r := RunOpen(context.Background(), l, 2, []int{0, 1, 1, 0}, func(_ context.Context, kind, _ int) error {
		if kind == 1 {
			return errors.New("boom")
		}
		return nil
	})
	if len(r.Kinds) != 2 {
		t.Fatalf("%d kinds, want 2", len(r.Kinds))
	}
	if k := r.Kinds[0]; k.OK != 100 || k.Errors != 0 || len(k.Latencies) != 100 {
		t.Errorf("kind 0: ok %d, errors %d, latencies %d; want 100, 0, 100", k.OK, k.Errors, len(k.Latencies))
	}
	if k := r.Kinds[1]; k.OK != 0 || k.Errors != 100 || len(k.FirstErrors) != 5 || !strings.Contains(k.FirstErrors[0], "boom") {
		t.Errorf("kind 1: ok %d, errors %d, first errors %q; want 0, 100, 5 of boom", k.OK, k.Errors, k.FirstErrors)
	}
	if r.Total.OK != 100 || r.Total.Errors != 100 {
		t.Errorf("total: ok %d, errors %d; want 100, 100", r.Total.OK, r.Total.Errors)
	}
}

// An interrupted run stops sending and counts nothing it cut short as an
// error.
func TestRunOpen_Interrupted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	r := RunOpen(ctx, OpenLoad{Rate: 100, Duration: time.Hour}, 1, []int{0}, func(ctx context.Context, _, _ int) error {
		<-ctx.Done()
		return ctx.Err()
	})
	if time.Since(start) > 10*time.Second {
		t.Fatalf("took %v after the context ended", time.Since(start))
	}
	if !r.Total.Interrupted || r.Total.Errors != 0 || r.Total.OK != 0 {
		t.Errorf("interrupted %v, errors %d, ok %d; want true, 0, 0", r.Total.Interrupted, r.Total.Errors, r.Total.OK)
	}
}

func TestMixPattern(t *testing.T) {
	weights := []int{28, 3, 3, 4, 2}
	p := mixPattern(weights)
	if len(p) != 40 {
		t.Fatalf("len %d, want 40", len(p))
	}
	count := func(s []int) []int {
		c := make([]int, len(weights))
		for _, k := range s {
			c[k]++
		}
		return c
	}
	for k, n := range count(p) {
		if n != weights[k] {
			t.Errorf("kind %d: %d times, want %d", k, n, weights[k])
		}
	}
	// Interleaved: each half of the pattern holds half of each kind
	// (rounded either way), not the kinds one after another.
	for h, half := range [][]int{p[:20], p[20:]} {
		for k, n := range count(half) {
			if n < weights[k]/2 || n > (weights[k]+1)/2 {
				t.Errorf("half %d: kind %d %d times, want %d or %d", h, k, n, weights[k]/2, (weights[k]+1)/2)
			}
		}
	}
	if p := mixPattern([]int{0, 1}); len(p) != 1 || p[0] != 1 {
		t.Errorf("mixPattern(0, 1) = %v, want [1]", p)
	}
}
