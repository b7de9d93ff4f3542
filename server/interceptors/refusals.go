package interceptors

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/errs"
)

// DefaultRefusalWindow is how long repeated refusals of one principal and
// method, with one outcome, are counted into one audit event.
const DefaultRefusalWindow = time.Second

// Refusals coalesces repeated refusals in the audit log, so that a caller
// refused again and again costs at most one audit write a second for each
// method and outcome, not one a call.
//
// A refusal of a principal, method and outcome that comes while no window
// is open for them is written at once, before the caller is answered, as
// every call is, and opens a window (one second). Equal refusals while the
// window is open are only counted. When it closes, one event records how
// many there were and when the first and last came ("coalesced: N more
// refusals from … to …"), under the same principal, role, action and
// outcome — and, since the refusals go on, the next window opens at once:
// a sustained flood costs one write a window. A window that counted
// nothing closes without a write, and the next refusal is written at once
// again. Open windows are written when the node shuts down (Close); a
// crash loses at most the counts of the open windows, never a refusal
// that came after a quiet second.
type Refusals struct {
	window time.Duration
	append func(context.Context, audit.Event) error
	log    *slog.Logger
	now    func() time.Time

	mu      sync.Mutex
	open    map[refusalKey]*refusalWindow
	closed  bool
	flushes sync.WaitGroup
}

// RefusalOptions configure NewRefusals.
type RefusalOptions struct {
	// Window is how long after a written refusal the same refusals are
	// counted (default DefaultRefusalWindow).
	Window time.Duration
	// Append writes an aggregate event (the store's AppendAudit).
	Append func(context.Context, audit.Event) error
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// NewRefusals returns a coalescer; Close writes what it still holds.
func NewRefusals(o RefusalOptions) *Refusals {
	if o.Window <= 0 {
		o.Window = DefaultRefusalWindow
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Refusals{window: o.Window, append: o.Append, log: o.Logger, now: o.Now, open: map[refusalKey]*refusalWindow{}}
}

type refusalKey struct {
	principal, action, outcome string
}

// refusalWindow is what is known of the refusals counted in one window.
type refusalWindow struct {
	agency, role string
	timer        *time.Timer
	count        int64
	first, last  time.Time
	// resource is the one resource all counted refusals named; varied
	// says they named more than one.
	resource  string
	varied    bool
	requestID string // of the last counted refusal
}

// Coalesce counts the refusal of call with outcome into an open window and
// returns true, or opens a window and returns false: then the caller must
// write the call's event itself, now. A nil *Refusals coalesces nothing.
func (r *Refusals) Coalesce(call *audit.Call, outcome error) bool {
	if r == nil {
		return false
	}
	e := call.Event(errs.CodeName(outcome))
	key := refusalKey{e.Principal, e.Action, e.Outcome}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	w, ok := r.open[key]
	if !ok {
		r.openWindow(key, e.Agency, e.Role)
		return false
	}
	if w.count == 0 {
		w.first, w.resource = now, e.Resource
	} else if w.resource != e.Resource {
		w.varied = true
	}
	w.count++
	w.last = now
	w.requestID = e.RequestID
	return true
}

// expire closes a window whose time is up, writes its count and, if it
// counted any, opens the next.
func (r *Refusals) expire(key refusalKey, w *refusalWindow) {
	r.mu.Lock()
	if r.open[key] != w {
		r.mu.Unlock() // Close took it
		return
	}
	if w.count == 0 {
		delete(r.open, key)
		r.mu.Unlock()
		return
	}
	r.openWindow(key, w.agency, w.role)
	r.flushes.Add(1)
	r.mu.Unlock()
	defer r.flushes.Done()
	r.write(key, w)
}

// openWindow opens a window for key; r.mu is held.
func (r *Refusals) openWindow(key refusalKey, agency, role string) {
	w := &refusalWindow{agency: agency, role: role}
	r.open[key] = w
	w.timer = time.AfterFunc(r.window, func() { r.expire(key, w) })
}

// Close writes every open window's count and stops coalescing: refusals
// after Close are written one by one. Call it after the server has stopped
// taking calls and before the store closes.
func (r *Refusals) Close() {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.closed = true
	open := r.open
	r.open = map[refusalKey]*refusalWindow{}
	r.mu.Unlock()
	for key, w := range open {
		w.timer.Stop()
		r.write(key, w)
	}
	r.flushes.Wait()
}

// write appends the aggregate event of a closed window, if it counted
// anything. The window is closed, so nothing changes it any more.
func (r *Refusals) write(key refusalKey, w *refusalWindow) {
	if w.count == 0 {
		return
	}
	e := audit.Event{
		Agency: w.agency, Principal: key.principal, Role: w.role, Action: key.action, Outcome: key.outcome,
		Resource: w.resource, RequestID: w.requestID, Detail: w.detail(),
	}
	if w.varied {
		e.Resource = ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.append(ctx, e); err != nil {
		// Nowhere else to keep it: the log has the counts at least.
		r.log.Error("audit event of coalesced refusals not recorded", "principal", e.Principal, "action", e.Action,
			"outcome", e.Outcome, "detail", e.Detail, "err", err)
	}
}

func (w *refusalWindow) detail() string {
	s := "refusal"
	if w.count > 1 {
		s = "refusals"
	}
	d := fmt.Sprintf("coalesced: %d more %s from %s to %s", w.count, s,
		w.first.UTC().Format(time.RFC3339Nano), w.last.UTC().Format(time.RFC3339Nano))
	if w.varied {
		d += " (naming several resources)"
	}
	return d
}
