package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Call is one request of a scenario, made by the given worker (0 ≤ worker <
// concurrency). It returns the call's error; any error counts as one.
type Call func(ctx context.Context, worker int) error

// Load is how hard and how long Run drives a Call.
type Load struct {
	// Concurrency is the number of workers, each making one call at a time.
	Concurrency int
	// Duration is how long workers start new calls; calls in flight when
	// it ends are waited for and counted.
	Duration time.Duration
	// ExpectedRate (calls/s), if known (e.g. from the warm-up), sizes the
	// latency buffers up front so that they do not grow while measuring.
	ExpectedRate float64
	// MaxErrors is how many error messages are kept (default 5).
	MaxErrors int
}

// Result is what one Run measured.
type Result struct {
	// OK and Errors count the calls that succeeded and failed.
	OK, Errors int64
	// FirstErrors are the first few error messages.
	FirstErrors []string
	// Elapsed is from the start of the workers until the last call ended.
	Elapsed time.Duration
	// Latencies of the successful calls, sorted.
	Latencies []time.Duration
	// Interrupted is set when ctx ended before the duration.
	Interrupted bool
}

// Throughput is successful calls per second.
func (r Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// Percentile is the exact p-quantile (0 < p ≤ 1, nearest rank) of the
// successful calls' latencies; 0 when there were none.
func (r Result) Percentile(p float64) time.Duration {
	n := len(r.Latencies)
	if n == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(n))) - 1
	return r.Latencies[max(0, min(i, n-1))]
}

// Run drives call with l.Concurrency workers for l.Duration. Each worker
// records its latencies in its own preallocated slice; they are merged and
// sorted at the end, so percentiles are exact.
func Run(ctx context.Context, l Load, call Call) Result {
	if l.Concurrency < 1 {
		l.Concurrency = 1
	}
	if l.MaxErrors == 0 {
		l.MaxErrors = 5
	}
	perWorker := 1024
	if l.ExpectedRate > 0 {
		perWorker = max(perWorker, int(1.5*l.ExpectedRate*l.Duration.Seconds()/float64(l.Concurrency)))
	}

	var (
		errCount atomic.Int64
		errMu    sync.Mutex
		firstErr []string
		wg       sync.WaitGroup
		lat      = make([][]time.Duration, l.Concurrency)
		start    = make(chan struct{})
	)
	for w := range l.Concurrency {
		lat[w] = make([]time.Duration, 0, perWorker)
	}
	var end time.Time
	for w := range l.Concurrency {
		wg.Go(func() {
			<-start
			mine := lat[w]
			for {
				t0 := time.Now()
				if !t0.Before(end) || ctx.Err() != nil {
					break
				}
				err := call(ctx, w)
				d := time.Since(t0)
				if err != nil {
					if ctx.Err() != nil {
						break // interrupted, not a failure of the server
					}
					if errCount.Add(1) <= int64(l.MaxErrors) {
						errMu.Lock()
						firstErr = append(firstErr, fmt.Sprintf("worker %d: %v", w, err))
						errMu.Unlock()
					}
					continue
				}
				mine = append(mine, d)
			}
			lat[w] = mine
		})
	}
	t0 := time.Now()
	end = t0.Add(l.Duration)
	close(start)
	wg.Wait()
	elapsed := time.Since(t0)

	n := 0
	for _, s := range lat {
		n += len(s)
	}
	all := make([]time.Duration, 0, n)
	for _, s := range lat {
		all = append(all, s...)
	}
	slices.Sort(all)
	return Result{
		OK: int64(n), Errors: errCount.Load(), FirstErrors: firstErr,
		Elapsed: elapsed, Latencies: all, Interrupted: ctx.Err() != nil,
	}
}

// Do runs fn(ctx, i) for i in [0, n) on concurrency workers and returns the
// first error (the remaining items are skipped once one failed).
func Do(ctx context.Context, n, concurrency int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(1, min(concurrency, n)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(fmt.Errorf("item %d: %w", i, err))
					return
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx) // nil unless an item failed or ctx ended
}
