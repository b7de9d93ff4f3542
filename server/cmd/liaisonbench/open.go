package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// OpenLoad is a fixed offered rate (open loop): calls are sent on a
// schedule, whatever the server does, and each call's latency is measured
// from the time it was scheduled to be sent, not from when it was sent.
// A stall of the server (or of the load generator) therefore shows as the
// latency of every call scheduled during it, not as one slow call and a
// pause in sending (coordinated omission).
type OpenLoad struct {
	// Rate is the offered calls per second.
	Rate float64
	// Duration is the span the calls are scheduled over: exactly
	// Calls() calls, the i-th at i/Rate. Calls in flight when it ends are
	// waited for (at most Timeout) and counted.
	Duration time.Duration
	// MaxInFlight bounds the calls outstanding at once (default 1,024).
	// When it is reached, the next call waits for one to finish; its
	// latency still runs from its scheduled time.
	MaxInFlight int
	// Timeout is each call's deadline (default 10 s); a call that
	// exceeds it is an error.
	Timeout time.Duration
	// MaxErrors is how many error messages are kept per kind (default 5).
	MaxErrors int
}

// Calls is the number of calls the load schedules.
func (l OpenLoad) Calls() int {
	if l.Rate <= 0 || l.Duration <= 0 {
		return 0
	}
	return int(l.Rate * l.Duration.Seconds())
}

// at is the scheduled send time of call i relative to the start.
func (l OpenLoad) at(i int) time.Duration {
	return time.Duration(float64(i) * float64(time.Second) / l.Rate)
}

// OpenResult is what one RunOpen measured.
type OpenResult struct {
	// Kinds are the results per call kind (Latencies from the scheduled
	// send time, sorted); Total is all kinds together.
	Kinds []Result
	Total Result
	// Scheduled is the number of calls the schedule held; the calls
	// made are fewer only if ctx ended.
	Scheduled int
	// MaxLag is the longest a call was sent after its scheduled time
	// (the load generator or MaxInFlight holding it back); Late counts
	// the calls sent more than a millisecond late.
	MaxLag time.Duration
	Late   int
}

// call outcomes, per scheduled call.
const (
	notSent = iota
	succeeded
	failed
	interrupted
)

// RunOpen sends l.Calls() calls at l.Rate; call i is of kind
// pattern[i mod len(pattern)] (0 ≤ kind < kinds) and made by
// call(ctx, kind, i).
func RunOpen(ctx context.Context, l OpenLoad, kinds int, pattern []int, call func(ctx context.Context, kind, i int) error) OpenResult {
	if l.MaxInFlight < 1 {
		l.MaxInFlight = 1024
	}
	if l.Timeout <= 0 {
		l.Timeout = 10 * time.Second
	}
	if l.MaxErrors == 0 {
		l.MaxErrors = 5
	}
	n := l.Calls()
	lat := make([]time.Duration, n)
	status := make([]uint8, n)
	errs := make([]error, n)
	sem := make(chan struct{}, l.MaxInFlight)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var wg sync.WaitGroup
	res := OpenResult{Scheduled: n}

	start := time.Now()
send:
	for i := range n {
		at := start.Add(l.at(i))
		if d := time.Until(at); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				timer.Stop()
				break send
			}
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break send
		}
		lag := time.Since(at)
		res.MaxLag = max(res.MaxLag, lag)
		if lag > time.Millisecond {
			res.Late++
		}
		kind := pattern[i%len(pattern)]
		wg.Go(func() {
			defer func() { <-sem }()
			cctx, cancel := context.WithTimeout(ctx, l.Timeout)
			err := call(cctx, kind, i)
			cancel()
			lat[i] = time.Since(at)
			switch {
			case err == nil:
				status[i] = succeeded
			case ctx.Err() != nil:
				status[i] = interrupted // not a failure of the server
			default:
				status[i], errs[i] = failed, err
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	res.Kinds = make([]Result, kinds)
	for i := range n {
		k := &res.Kinds[pattern[i%len(pattern)]]
		switch status[i] {
		case succeeded:
			k.OK++
			k.Latencies = append(k.Latencies, lat[i])
		case failed:
			k.Errors++
			if len(k.FirstErrors) < l.MaxErrors {
				k.FirstErrors = append(k.FirstErrors, fmt.Sprintf("call %d: %v", i, errs[i]))
			}
		}
	}
	for i := range res.Kinds {
		k := &res.Kinds[i]
		k.Elapsed, k.Interrupted = elapsed, ctx.Err() != nil
		slices.Sort(k.Latencies)
		res.Total.OK += k.OK
		res.Total.Errors += k.Errors
		res.Total.Latencies = append(res.Total.Latencies, k.Latencies...)
	}
	res.Total.Elapsed, res.Total.Interrupted = elapsed, ctx.Err() != nil
	slices.Sort(res.Total.Latencies)
	return res
}

// mixPattern is a sequence of len sum(weights) in which kind k occurs
// weights[k] times, the kinds interleaved as evenly as they can be
// (smooth weighted round robin): the mix holds over any stretch of the
// schedule, not only over the whole run.
func mixPattern(weights []int) []int {
	total := 0
	for _, w := range weights {
		total += w
	}
	cur := make([]int, len(weights))
	out := make([]int, 0, total)
	for range total {
		best := -1
		for k, w := range weights {
			cur[k] += w
			if w > 0 && (best < 0 || cur[k] > cur[best]) {
				best = k
			}
		}
		cur[best] -= total
		out = append(out, best)
	}
	return out
}
