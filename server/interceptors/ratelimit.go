package interceptors

import (
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/identity"
)

// limiter is a token bucket per principal of the own agency (and per
// partner node), and one per partner agency shared by all its other
// principals: a partner cannot multiply its rate by issuing certificates.
// A partner's node — the federation channel — has a bucket of its own, so
// the partner's people cannot starve it.
type limiter struct {
	own, partner limit

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type limit struct {
	rate  rate.Limit
	burst int
}

type bucket struct {
	l    *rate.Limiter
	used time.Time
}

func newLimit(perSecond float64, burst int) limit {
	if perSecond <= 0 {
		return limit{rate: rate.Inf, burst: burst}
	}
	return limit{rate: rate.Limit(perSecond), burst: burst}
}

func newLimiter(own, partner limit) *limiter {
	return &limiter{own: own, partner: partner, buckets: map[string]*bucket{}, swept: time.Now()}
}

// allow takes a token from the caller's bucket, or says why it cannot.
func (l *limiter) allow(id identity.Identity) error {
	key, lim, who := "principal "+id.ID, l.own, id.ID+" exceeds"
	if id.Partner && id.Role != identity.Node {
		key, lim, who = "agency "+id.Agency, l.partner, "the principals of partner agency "+id.Agency+" together exceed"
	}
	now := time.Now()
	l.mu.Lock()
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{l: rate.NewLimiter(lim.rate, lim.burst)}
		l.buckets[key] = b
	}
	b.used = now
	if now.Sub(l.swept) > time.Minute {
		for k, v := range l.buckets {
			if now.Sub(v.used) > 10*time.Minute {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	l.mu.Unlock()
	if !b.l.AllowN(now, 1) {
		return errs.New(errs.ResourceExhausted, "%s %v calls/s (burst %d); retry later", who, float64(lim.rate), lim.burst)
	}
	return nil
}
