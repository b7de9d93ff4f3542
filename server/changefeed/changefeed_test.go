package changefeed

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/ids"
	"github.com/liaison-exchange/liaison/server/store"
)

// ---- fixtures ---------------------------------------------------------------

// clock is a settable clock for the store.
type clock struct{ us atomic.Int64 }

func (c *clock) now() time.Time          { return time.UnixMicro(c.us.Load()) }
func (c *clock) set(t time.Time)         { c.us.Store(t.UnixMicro()) }
func (c *clock) advance(d time.Duration) { c.us.Add(d.Microseconds()) }
func newClock(t time.Time) *clock        { c := &clock{}; c.set(t); return c }
func openStore(t *testing.T, now func() time.Time) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "alpha.db"), store.Options{Synchronous: "normal", Agency: "alpha", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// addLeads stores n new own leads in one transaction (n feed changes) and
// returns them.
func addLeads(t *testing.T, st *store.Store, n int) []*liaisonv1.Lead {
	t.Helper()
	out := make([]*liaisonv1.Lead, 0, n)
	err := st.Write(context.Background(), func(tx *store.Tx) error {
		for i := range n {
			now := timestamppb.New(tx.Now())
			l := &liaisonv1.Lead{Id: ids.New(), OriginAgency: "alpha", Version: 1, CreateTime: now, UpdateTime: now,
				Title: fmt.Sprintf("lead %d", i), Status: liaisonv1.LeadStatus_LEAD_STATUS_DRAFT}
			if err := tx.InsertLead(l); err != nil {
				return err
			}
			out = append(out, l)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func newest(t *testing.T, st *store.Store) int64 {
	t.Helper()
	_, n, err := st.FeedBounds(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func trim(t *testing.T, st *store.Store, upTo int64) {
	t.Helper()
	if err := st.Write(context.Background(), func(tx *store.Tx) error {
		_, err := tx.TrimFeed(upTo)
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// fakeStream is the seam between Watch and gRPC: Send is the test's.
type fakeStream struct {
	grpc.ServerStream // nil: Watch uses only Context and Send
	ctx               context.Context
	send              func(*liaisonv1.WatchResponse) error
}

func (f *fakeStream) Context() context.Context              { return f.ctx }
func (f *fakeStream) Send(m *liaisonv1.WatchResponse) error { return f.send(m) }

// recorder keeps what a stream sent.
type recorder struct {
	mu   sync.Mutex
	msgs []*liaisonv1.WatchResponse
}

func (r *recorder) send(m *liaisonv1.WatchResponse) error {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	return nil
}

func (r *recorder) all() []*liaisonv1.WatchResponse {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*liaisonv1.WatchResponse(nil), r.msgs...)
}

// changes are the cursors of the changes received, in order.
func (r *recorder) changes() []int64 {
	var out []int64
	for _, m := range r.all() {
		if m.GetChange() != nil {
			out = append(out, m.GetChange().GetCursor())
		}
	}
	return out
}

// last is the cursor a client resumes from: of the last change or head.
func last(msgs []*liaisonv1.WatchResponse) int64 {
	if len(msgs) == 0 {
		return -1
	}
	m := msgs[len(msgs)-1]
	if m.GetChange() != nil {
		return m.GetChange().GetCursor()
	}
	return m.GetHead()
}

// waitFor polls cond until it holds, for at most 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// watch runs Watch as gRPC would: the stream's context ends when the
// handler returns (which is what unblocks a Send stuck on flow control).
// stop ends the stream from the client side.
func watch(srv *Server, req *liaisonv1.WatchRequest, send func(*liaisonv1.WatchResponse) error) (done <-chan error, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	go func() {
		err := srv.Watch(req, &fakeStream{ctx: ctx, send: send})
		cancel()
		ch <- err
	}()
	return ch, cancel
}

func waitEnd(t *testing.T, done <-chan error, within time.Duration) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(within):
		t.Fatalf("Watch did not end within %v", within)
		return nil
	}
}

// wantStatus checks the code, reason and resume cursor of the error that
// ended a stream, and returns its message.
func wantStatus(t *testing.T, err error, code codes.Code, reason string, resume int64) string {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != code {
		t.Fatalf("got %v, want %v", err, code)
	}
	var info *errdetails.ErrorInfo
	for _, d := range st.Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok {
			info = i
		}
	}
	if info == nil || info.GetReason() != reason || info.GetDomain() != ErrorDomain {
		t.Fatalf("ErrorInfo %v, want reason %s in domain %s", info, reason, ErrorDomain)
	}
	if got := info.GetMetadata()[ResumeCursorKey]; got != strconv.FormatInt(resume, 10) {
		t.Errorf("resume cursor %q, want %d", got, resume)
	}
	if !strings.Contains(st.Message(), fmt.Sprintf("cursor %d", resume)) {
		t.Errorf("message does not name the cursor to resume from (%d): %s", resume, st.Message())
	}
	return st.Message()
}

func contiguous(t *testing.T, got []int64, from, to int64) {
	t.Helper()
	if int64(len(got)) != to-from+1 {
		t.Fatalf("got %d changes, want cursors %d..%d", len(got), from, to)
	}
	for i, c := range got {
		if c != from+int64(i) {
			t.Fatalf("change %d has cursor %d, want %d (no gap, no repeat)", i, c, from+int64(i))
		}
	}
}

// ---- Watch --------------------------------------------------------------------

func TestWatch_StreamsInOrderThenFollows(t *testing.T) {
	t.Parallel()
	st := openStore(t, nil)
	leads := addLeads(t, st, 250)
	srv := New(st, Options{PageSize: 100, Heartbeat: time.Hour})

	var r recorder
	done, stop := watch(srv, &liaisonv1.WatchRequest{}, r.send)
	waitFor(t, "the backlog and a heartbeat", func() bool { return len(r.all()) == 251 })
	msgs := r.all()
	contiguous(t, r.changes(), 1, 250)
	if hb := msgs[250]; hb.GetChange() != nil || hb.GetHead() != 250 {
		t.Errorf("after the backlog: %v, want a heartbeat with head 250", hb)
	}
	for i, m := range msgs[:250] {
		c := m.GetChange()
		l := c.GetLead()
		if c.GetKind() != liaisonv1.ChangeKind_CHANGE_KIND_LEAD || c.GetAction() != "created" || c.GetOriginAgency() != "alpha" ||
			c.GetVersion() != 1 || c.GetRecordId() != leads[i].GetId() || c.GetTime() == nil {
			t.Fatalf("change %d: %v", i, c)
		}
		if l.GetId() != leads[i].GetId() || l.GetTitle() != leads[i].GetTitle() || l.GetEtag() != store.Etag(l.GetId(), 1) {
			t.Fatalf("change %d carries lead %v, want %s with its etag", i, l, leads[i].GetId())
		}
	}
	if got := srv.Consumers(); got != 1 {
		t.Errorf("Consumers() = %d while one stream is open", got)
	}

	// New changes follow as they commit.
	addLeads(t, st, 30)
	waitFor(t, "the live changes", func() bool { return len(r.changes()) == 280 })
	contiguous(t, r.changes(), 1, 280)
	stop()
	if err := waitEnd(t, done, 5*time.Second); !errors.Is(err, context.Canceled) {
		t.Errorf("a stream the client ended: %v, want its context's error", err)
	}
	waitFor(t, "no consumers", func() bool { return srv.Consumers() == 0 })

	// Resuming from a cursor gives exactly the changes after it.
	var r2 recorder
	done, stop = watch(srv, &liaisonv1.WatchRequest{Cursor: 260}, r2.send)
	defer stop()
	waitFor(t, "the changes after 260", func() bool { return len(r2.all()) == 21 })
	contiguous(t, r2.changes(), 261, 280)
	if hb := r2.all()[20]; hb.GetHead() != 280 {
		t.Errorf("heartbeat %v, want head 280", hb)
	}
	_ = done
}

func TestWatch_RecordAsItIsNow(t *testing.T) {
	t.Parallel()
	st := openStore(t, nil)
	l := addLeads(t, st, 1)[0]
	ctx := context.Background()
	if err := st.Write(ctx, func(tx *store.Tx) error {
		v2 := &liaisonv1.Lead{Id: l.GetId(), OriginAgency: "alpha", Version: 2, CreateTime: l.GetCreateTime(), UpdateTime: timestamppb.New(tx.Now()),
			Title: "renamed", Status: liaisonv1.LeadStatus_LEAD_STATUS_DRAFT}
		if err := tx.ReplaceLead(v2, l); err != nil {
			return err
		}
		return tx.InsertLeadTombstone(ids.New(), "bravo", 3, tx.Now())
	}); err != nil {
		t.Fatal(err)
	}
	var r recorder
	_, stop := watch(New(st, Options{}), &liaisonv1.WatchRequest{}, r.send)
	defer stop()
	waitFor(t, "three changes and a heartbeat", func() bool { return len(r.all()) == 4 })
	msgs := r.all()
	for i, want := range []struct {
		action  string
		version int64
	}{{"created", 1}, {"updated", 2}, {"tombstone", 3}} {
		c := msgs[i].GetChange()
		if c.GetAction() != want.action || c.GetVersion() != want.version {
			t.Errorf("change %d: %s v%d, want %s v%d", i+1, c.GetAction(), c.GetVersion(), want.action, want.version)
		}
	}
	// The record is read with the change: the lead as it is now, version 2
	// even on the change that created version 1; a tombstone has none.
	for i := range 2 {
		if l := msgs[i].GetChange().GetLead(); l.GetVersion() != 2 || l.GetTitle() != "renamed" {
			t.Errorf("change %d carries %v, want the lead as it is now", i+1, l)
		}
	}
	if c := msgs[2].GetChange(); c.GetRecord() != nil || c.GetOriginAgency() != "bravo" {
		t.Errorf("tombstone change %v, want bravo's and no record", c)
	}
}

func TestWatch_KindFilterStillAdvancesCursor(t *testing.T) {
	t.Parallel()
	st := openStore(t, nil)
	addLeads(t, st, 50)
	srv := New(st, Options{PageSize: 20, Heartbeat: 50 * time.Millisecond})
	var r recorder
	_, stop := watch(srv, &liaisonv1.WatchRequest{Kinds: []liaisonv1.ChangeKind{liaisonv1.ChangeKind_CHANGE_KIND_CASE}}, r.send)
	defer stop()
	waitFor(t, "a heartbeat at 50", func() bool { return last(r.all()) == 50 })
	addLeads(t, st, 10)
	waitFor(t, "a heartbeat at 60", func() bool { return last(r.all()) == 60 })
	if got := r.changes(); len(got) != 0 {
		t.Errorf("a watcher of cases got lead changes %v", got)
	}
}

func TestWatch_IdleHeartbeat(t *testing.T) {
	t.Parallel()
	st := openStore(t, nil)
	addLeads(t, st, 3)
	var r recorder
	_, stop := watch(New(st, Options{Heartbeat: 30 * time.Millisecond}), &liaisonv1.WatchRequest{Cursor: 3}, r.send)
	defer stop()
	waitFor(t, "three heartbeats", func() bool { return len(r.all()) >= 3 })
	for _, m := range r.all() {
		if m.GetChange() != nil || m.GetHead() != 3 {
			t.Errorf("idle stream sent %v, want heartbeats with head 3", m)
		}
	}
}

func TestWatch_Cursor(t *testing.T) {
	t.Parallel()
	st := openStore(t, nil)
	addLeads(t, st, 50)
	trim(t, st, 30) // the oldest kept is 31
	srv := New(st, Options{Retention: 72 * time.Hour})

	for _, tc := range []struct {
		name   string
		cursor int64
		code   codes.Code
		reason string
		first  int64
	}{
		{"Zero/FromOldestKept", 0, codes.OK, "", 31},
		{"JustBeforeOldest", 30, codes.OK, "", 31},
		{"Newest", 50, codes.OK, "", 0},
		{"Expired", 29, codes.OutOfRange, ReasonCursorExpired, 0},
		{"LongExpired", 1, codes.OutOfRange, ReasonCursorExpired, 0},
		{"Ahead", 51, codes.OutOfRange, ReasonCursorAhead, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var r recorder
			done, stop := watch(srv, &liaisonv1.WatchRequest{Cursor: tc.cursor}, r.send)
			defer stop()
			if tc.code != codes.OK {
				msg := wantStatus(t, waitEnd(t, done, 5*time.Second), tc.code, tc.reason, 50)
				for _, want := range []string{fmt.Sprintf("cursor %d", tc.cursor), "Resync", "watch from cursor 50"} {
					if !strings.Contains(msg, want) {
						t.Errorf("message does not say %q: %s", want, msg)
					}
				}
				if tc.reason == ReasonCursorExpired && !strings.Contains(msg, "oldest change kept is 31") {
					t.Errorf("message does not name the oldest change kept: %s", msg)
				}
				return
			}
			waitFor(t, "a heartbeat at 50", func() bool { return last(r.all()) == 50 })
			if tc.first > 0 {
				contiguous(t, r.changes(), tc.first, 50)
			} else if len(r.changes()) != 0 {
				t.Errorf("from the newest cursor: changes %v", r.changes())
			}
		})
	}
}

func TestWatch_TrimmedUnderTheConsumer(t *testing.T) {
	t.Parallel()
	st := openStore(t, nil)
	addLeads(t, st, 50)
	srv := New(st, Options{PageSize: 10})
	var r recorder
	paused, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	done, stop := watch(srv, &liaisonv1.WatchRequest{Cursor: 0}, func(m *liaisonv1.WatchResponse) error {
		once.Do(func() { // the consumer pauses on its first change
			close(paused)
			<-release
		})
		return r.send(m)
	})
	defer stop()
	// Meanwhile the changes after its first page are trimmed.
	<-paused
	trim(t, st, 30)
	close(release)
	msg := wantStatus(t, waitEnd(t, done, 5*time.Second), codes.OutOfRange, ReasonCursorExpired, 50)
	contiguous(t, r.changes(), 1, 10)
	if !strings.Contains(msg, "cursor 10 is older") {
		t.Errorf("message does not name the consumer's cursor: %s", msg)
	}
}

func TestWatch_LaggingConsumerIsCutOff(t *testing.T) {
	t.Parallel()
	st := openStore(t, nil)
	srv := New(st, Options{MaxLag: 100, PageSize: 50, Heartbeat: time.Hour})
	var r recorder
	done, stop := watch(srv, &liaisonv1.WatchRequest{}, func(m *liaisonv1.WatchResponse) error {
		time.Sleep(time.Millisecond) // a consumer slower than the writers
		return r.send(m)
	})
	defer stop()
	waitFor(t, "the first heartbeat", func() bool { return len(r.all()) == 1 })

	var err error
	writes := 0
	for deadline := time.Now().Add(20 * time.Second); err == nil; {
		if time.Now().After(deadline) || writes > 200 {
			t.Fatalf("not cut off after %d batches of 100 changes", writes)
		}
		select {
		case err = <-done:
		default:
			addLeads(t, st, 100)
			writes++
		}
	}
	msg := wantStatus(t, err, codes.Unavailable, ReasonLagging, last(r.all()))
	if !strings.Contains(msg, "changes behind") {
		t.Errorf("message does not say how far behind: %s", msg)
	}
	got := r.changes()
	contiguous(t, got, 1, int64(len(got)))
}

func TestWatch_StalledConsumerIsCutOff(t *testing.T) {
	t.Parallel()
	st := openStore(t, nil)
	addLeads(t, st, 20)
	srv := New(st, Options{SendTimeout: 100 * time.Millisecond})
	var r recorder
	var blocked, unblocked atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		err := srv.Watch(&liaisonv1.WatchRequest{}, &fakeStream{ctx: ctx, send: func(m *liaisonv1.WatchResponse) error {
			if len(r.all()) == 5 {
				// The consumer's window is full: Send blocks, as gRPC's
				// does, until the call ends.
				blocked.Store(true)
				<-ctx.Done()
				unblocked.Store(true)
				return ctx.Err()
			}
			return r.send(m)
		}})
		cancel()
		done <- err
	}()
	waitFor(t, "the stall", blocked.Load)
	start := time.Now()

	// Writers do not wait for it.
	w := time.Now()
	addLeads(t, st, 100)
	if d := time.Since(w); d > 2*time.Second {
		t.Errorf("100 changes took %v with a stalled consumer", d)
	}
	err := waitEnd(t, done, 5*time.Second)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cut off after %v, want about the send timeout (100ms)", d)
	}
	msg := wantStatus(t, err, codes.Unavailable, ReasonStalled, 5)
	if !strings.Contains(msg, "no message for 100ms") {
		t.Errorf("message does not say why: %s", msg)
	}
	contiguous(t, r.changes(), 1, 5)
	// The blocked Send returned once the call ended, and the sender with it.
	waitFor(t, "the blocked Send to return", unblocked.Load)
	if got := srv.Consumers(); got != 0 {
		t.Errorf("Consumers() = %d after the cut-off", got)
	}
}

func TestWatch_ClientGoneEndsTheStream(t *testing.T) {
	t.Parallel()
	st := openStore(t, nil)
	addLeads(t, st, 5)
	srv := New(st, Options{})
	done, _ := watch(srv, &liaisonv1.WatchRequest{}, func(*liaisonv1.WatchResponse) error {
		return status.Error(codes.Canceled, "client gone")
	})
	if err := waitEnd(t, done, 5*time.Second); status.Code(err) != codes.Canceled {
		t.Errorf("got %v, want the Send error", err)
	}
}

// ---- trimming and stopping ----------------------------------------------------

func TestFeedTrim_ByAgeKeepsNewestAndAudits(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := newClock(t0)
	st := openStore(t, clk.now)
	srv := New(st, Options{Retention: time.Hour})
	ctx := context.Background()

	addLeads(t, st, 10) // cursors 1..10 at t0
	clk.advance(2 * time.Hour)
	addLeads(t, st, 5) // 11..15 at t0+2h
	clk.advance(time.Minute)
	n, err := srv.Trim(ctx)
	if err != nil || n != 10 {
		t.Fatalf("Trim: %d, %v; want the 10 changes older than an hour", n, err)
	}
	if o, nw, _ := st.FeedBounds(ctx); o != 11 || nw != 15 {
		t.Errorf("feed holds %d..%d, want 11..15", o, nw)
	}

	// When every change is old, the newest stays.
	clk.advance(3 * time.Hour)
	if n, err := srv.Trim(ctx); err != nil || n != 4 {
		t.Fatalf("Trim: %d, %v; want 4 (the newest kept)", n, err)
	}
	if o, nw, _ := st.FeedBounds(ctx); o != 15 || nw != 15 {
		t.Errorf("feed holds %d..%d, want only 15", o, nw)
	}
	if n, err := srv.Trim(ctx); err != nil || n != 0 {
		t.Fatalf("Trim of nothing: %d, %v", n, err)
	}

	events, err := st.ListAuditEvents(ctx, store.AuditFilter{Action: "feed.trim"}, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 {
		t.Fatalf("%d feed.trim audit events, want one per trim that deleted: %v", len(events), events)
	}
	for i, want := range []string{"deleted 4 changes, cursors 11 to 14", "deleted 10 changes, cursors 1 to 10"} {
		e := events[i]
		if !strings.Contains(e.Detail, want) || e.Principal != "node" || e.Role != "node" || e.Agency != "alpha" || e.Outcome != "OK" {
			t.Errorf("audit event %+v, want detail %q by the node", e, want)
		}
	}
	if res, err := st.VerifyAudit(ctx, store.VerifyOptions{}); err != nil || !res.OK {
		t.Errorf("audit chain: %+v %v", res, err)
	}
}

func TestFeedTrim_LargeBacklogInChunks(t *testing.T) {
	t.Parallel()
	clk := newClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	st := openStore(t, clk.now)
	srv := New(st, Options{Retention: time.Hour})
	for range 3 {
		addLeads(t, st, 8000)
	}
	clk.advance(2 * time.Hour)
	n, err := srv.Trim(context.Background())
	if err != nil || n != 23999 {
		t.Fatalf("Trim: %d, %v; want all but the newest of 24000", n, err)
	}
	events, err := st.ListAuditEvents(context.Background(), store.AuditFilter{Action: "feed.trim"}, 0, 10)
	if err != nil || len(events) != 3 {
		t.Fatalf("%d audit events (%v), want one per chunk of %d", len(events), err, trimChunk)
	}
}

func TestFeedRunTrim_EndEndsEveryWatch(t *testing.T) {
	t.Parallel()
	st := openStore(t, nil)
	addLeads(t, st, 3)
	srv := New(st, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() {
		srv.RunTrim(ctx)
		close(ran)
	}()
	var r recorder
	done, stop := watch(srv, &liaisonv1.WatchRequest{}, r.send)
	defer stop()
	waitFor(t, "the backlog", func() bool { return len(r.all()) == 4 })

	cancel() // the node stops
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("RunTrim did not return")
	}
	wantStatus(t, waitEnd(t, done, 5*time.Second), codes.Unavailable, ReasonStopping, 3)

	// A stream opened while the node stops ends at once.
	done, stop2 := watch(srv, &liaisonv1.WatchRequest{Cursor: 2}, r.send)
	defer stop2()
	wantStatus(t, waitEnd(t, done, 5*time.Second), codes.Unavailable, ReasonStopping, 2)
}
