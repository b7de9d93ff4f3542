package interceptors

import (
	"context"
	"reflect"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/errs"
)

// events is a fake Append that keeps what it is given.
type events struct {
	mu  sync.Mutex
	got []audit.Event
}

func (e *events) append(_ context.Context, ev audit.Event) error {
	e.mu.Lock()
	e.got = append(e.got, ev)
	e.mu.Unlock()
	return nil
}

func (e *events) list() []audit.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]audit.Event(nil), e.got...)
}

func refusedCall(principal, action, resource, requestID string) *audit.Call {
	c := &audit.Call{Agency: "bravo", Principal: principal, Role: "analyst", Action: action, RequestID: requestID}
	c.SetResource(resource)
	return c
}

var (
	denied    = errs.New(errs.PermissionDenied, "no")
	exhausted = errs.New(errs.ResourceExhausted, "slow down")
)

var coalescedCount = regexp.MustCompile(`^coalesced: (\d+) more refusals? from (\S+) to (\S+)`)

// counted is how many refusals an event stands for.
func counted(t *testing.T, e audit.Event) int {
	t.Helper()
	m := coalescedCount.FindStringSubmatch(e.Detail)
	if m == nil {
		t.Fatalf("event detail %q does not say how many refusals it coalesced", e.Detail)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func waitFor(t *testing.T, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v", within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAuditRefusals_Coalesce(t *testing.T) {
	t.Parallel()

	t.Run("FirstWrittenRestCountedIntoOneEvent", func(t *testing.T) {
		t.Parallel()
		var ev events
		r := NewRefusals(RefusalOptions{Window: time.Hour, Append: ev.append})
		const p, m = "spiffe://bravo.liaison.test/analyst/bob", "/liaison.v1.LeadService/GetLead"
		if r.Coalesce(refusedCall(p, m, "leads/1", "r0"), denied) {
			t.Fatal("the first refusal was coalesced; it must be written at once")
		}
		for i := range 5 {
			if !r.Coalesce(refusedCall(p, m, "leads/1", "r"+strconv.Itoa(i+1)), denied) {
				t.Fatalf("refusal %d in the window was not coalesced", i+2)
			}
		}
		if got := ev.list(); len(got) != 0 {
			t.Fatalf("events written while the window is open: %v", got)
		}
		r.Close()
		got := ev.list()
		if len(got) != 1 {
			t.Fatalf("%d events after Close, want 1: %v", len(got), got)
		}
		e := got[0]
		if counted(t, e) != 5 {
			t.Errorf("detail %q, want 5 more refusals", e.Detail)
		}
		want := audit.Event{Agency: "bravo", Principal: p, Role: "analyst", Action: m, Resource: "leads/1", Outcome: "PERMISSION_DENIED", RequestID: "r5", Detail: e.Detail}
		if !reflect.DeepEqual(e, want) {
			t.Errorf("event %+v, want %+v", e, want)
		}
	})

	t.Run("PrincipalMethodAndOutcomeApart", func(t *testing.T) {
		t.Parallel()
		var ev events
		r := NewRefusals(RefusalOptions{Window: time.Hour, Append: ev.append})
		defer r.Close()
		for _, c := range []struct {
			p, m string
			err  error
		}{
			{"a", "/s/M", denied}, {"b", "/s/M", denied}, {"a", "/s/N", denied}, {"a", "/s/M", exhausted},
		} {
			if r.Coalesce(refusedCall(c.p, c.m, "", ""), c.err) {
				t.Errorf("%s %s %v: coalesced with a refusal of another principal, method or outcome", c.p, c.m, c.err)
			}
		}
	})

	t.Run("SeveralResources", func(t *testing.T) {
		t.Parallel()
		var ev events
		r := NewRefusals(RefusalOptions{Window: time.Hour, Append: ev.append})
		r.Coalesce(refusedCall("a", "/s/M", "leads/1", ""), denied)
		r.Coalesce(refusedCall("a", "/s/M", "leads/2", ""), denied)
		r.Coalesce(refusedCall("a", "/s/M", "leads/3", ""), denied)
		r.Close()
		got := ev.list()
		if len(got) != 1 || got[0].Resource != "" || counted(t, got[0]) != 2 {
			t.Fatalf("events %+v, want one counting 2 refusals, naming no single resource", got)
		}
	})

	t.Run("QuietWindowClosesWithoutWrite", func(t *testing.T) {
		t.Parallel()
		var ev events
		r := NewRefusals(RefusalOptions{Window: 20 * time.Millisecond, Append: ev.append})
		defer r.Close()
		if r.Coalesce(refusedCall("a", "/s/M", "", ""), denied) {
			t.Fatal("first refusal coalesced")
		}
		waitFor(t, 2*time.Second, func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			return len(r.open) == 0
		})
		if got := ev.list(); len(got) != 0 {
			t.Errorf("a window that counted nothing wrote %v", got)
		}
		if r.Coalesce(refusedCall("a", "/s/M", "", ""), denied) {
			t.Error("the first refusal after a quiet window was coalesced; it must be written at once")
		}
	})

	t.Run("SustainedRefusalsOneWriteAWindow", func(t *testing.T) {
		t.Parallel()
		var ev events
		const window = 30 * time.Millisecond
		r := NewRefusals(RefusalOptions{Window: window, Append: ev.append})
		written := 0
		start := time.Now()
		n := 0
		for time.Since(start) < 10*window {
			if !r.Coalesce(refusedCall("a", "/s/M", "", ""), exhausted) {
				written++
			}
			n++
			time.Sleep(time.Millisecond)
		}
		r.Close()
		got := ev.list()
		total := written
		for _, e := range got {
			total += counted(t, e)
			if e.Outcome != "RESOURCE_EXHAUSTED" {
				t.Errorf("outcome %q, want RESOURCE_EXHAUSTED", e.Outcome)
			}
		}
		if total != n {
			t.Errorf("%d refusals written at once and %d counted in %d events, want %d in all", written, total-written, len(got), n)
		}
		// A sustained run: one write at its start, then one a window (the
		// machine may stall a window now and then).
		if written > 3 || len(got) > 12 {
			t.Errorf("%d written at once and %d coalesced events for %d refusals over 10 windows, want 1 and about 10", written, len(got), n)
		}
	})

	t.Run("CloseWritesOpenWindowsThenStops", func(t *testing.T) {
		t.Parallel()
		var ev events
		r := NewRefusals(RefusalOptions{Window: 50 * time.Millisecond, Append: ev.append})
		r.Coalesce(refusedCall("a", "/s/M", "", ""), denied)
		r.Coalesce(refusedCall("a", "/s/M", "", ""), denied)
		r.Coalesce(refusedCall("b", "/s/M", "", ""), denied) // first: nothing to write at Close
		r.Close()
		if got := ev.list(); len(got) != 1 || counted(t, got[0]) != 1 || got[0].Principal != "a" {
			t.Fatalf("events after Close: %+v, want one counting 1 refusal of a", got)
		}
		if r.Coalesce(refusedCall("a", "/s/M", "", ""), denied) {
			t.Error("a refusal after Close was coalesced; nothing would write it")
		}
		time.Sleep(100 * time.Millisecond) // past the stopped windows' time
		if got := ev.list(); len(got) != 1 {
			t.Errorf("events written after Close: %+v", got[1:])
		}
	})

	t.Run("ConcurrentNothingLost", func(t *testing.T) {
		t.Parallel()
		var ev events
		r := NewRefusals(RefusalOptions{Window: 3 * time.Millisecond, Append: ev.append})
		const workers, each = 8, 2000
		var wg sync.WaitGroup
		var mu sync.Mutex
		written := 0
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				mine := 0
				for i := range each {
					err := error(denied)
					if (w+i)%3 == 0 {
						err = exhausted
					}
					if !r.Coalesce(refusedCall("p"+strconv.Itoa(w%2), "/s/M", "", ""), err) {
						mine++
					}
				}
				mu.Lock()
				written += mine
				mu.Unlock()
			}()
		}
		wg.Wait()
		r.Close()
		total := written
		for _, e := range ev.list() {
			total += counted(t, e)
		}
		if total != workers*each {
			t.Errorf("%d refusals accounted for, want %d", total, workers*each)
		}
	})

	t.Run("Nil", func(t *testing.T) {
		t.Parallel()
		var r *Refusals
		if r.Coalesce(refusedCall("a", "/s/M", "", ""), denied) {
			t.Error("a nil Refusals coalesced")
		}
		r.Close()
	})
}
