package main

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/liaison-exchange/liaison/server/store"
)

// cosignSampler follows, on the log's node, the size of its audit log and
// how far the partner has cosigned it, to time each event from its commit
// to the partner's cosignature of a checkpoint that covers it. Both are
// sampled every 10 ms, so each time is good to about 10 ms.
type cosignSampler struct {
	st      *store.Store
	partner string
	mu      sync.Mutex
	commits []sample // (time first seen, audit log size)
	signs   []sample // (time first seen, size cosigned by the partner)
	err     error
}

type sample struct {
	at   time.Time
	size int64
}

func (c *cosignSampler) run(ctx context.Context) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		size, err := c.st.AuditSize(ctx)
		if err == nil {
			var w store.AuditWitness
			if w, err = c.st.AuditWitness(ctx, c.partner); err == nil {
				c.mu.Lock()
				if n := len(c.commits); n == 0 || c.commits[n-1].size < size {
					c.commits = append(c.commits, sample{now, size})
				}
				if n := len(c.signs); n == 0 || c.signs[n-1].size < w.Size {
					c.signs = append(c.signs, sample{now, w.Size})
				}
				c.mu.Unlock()
				continue
			}
		}
		if ctx.Err() == nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
		}
		return
	}
}

// cosigned says whether the partner has cosigned at least size events.
func (c *cosignSampler) cosigned(size int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.signs) > 0 && c.signs[len(c.signs)-1].size >= size
}

// latencies are, for every event committed while sampling and cosigned
// since, the time from its commit to the cosignature, sorted.
func (c *cosignSampler) latencies() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.commits) < 2 || len(c.signs) == 0 {
		return nil
	}
	var out []time.Duration
	s := 0
	for i := 1; i < len(c.commits); i++ {
		for seq := c.commits[i-1].size + 1; seq <= c.commits[i].size; seq++ {
			for s < len(c.signs) && c.signs[s].size < seq {
				s++
			}
			if s == len(c.signs) {
				slices.Sort(out)
				return out
			}
			out = append(out, c.signs[s].at.Sub(c.commits[i].at))
		}
	}
	slices.Sort(out)
	return out
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}
