package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/liaison-exchange/liaison/client"
	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/changefeed"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/nodetest"
	"github.com/liaison-exchange/liaison/server/store"
)

// feedClient watches n's change feed as role.
func feedClient(t *testing.T, n *nodetest.Node, role string) liaisonv1.ChangeFeedServiceClient {
	return liaisonv1.NewChangeFeedServiceClient(n.Conn(t, role))
}

// feedUntilHead watches from cursor until the first heartbeat (the stream
// caught up) and returns the changes before it and the head.
func feedUntilHead(t *testing.T, feed liaisonv1.ChangeFeedServiceClient, req *liaisonv1.WatchRequest) ([]*liaisonv1.Change, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := feed.Watch(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	var out []*liaisonv1.Change
	for range 100000 {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("watch from %d: %v", req.GetCursor(), err)
		}
		if resp.GetChange() == nil {
			return out, resp.GetHead()
		}
		out = append(out, resp.GetChange())
	}
	t.Fatal("no heartbeat after 100000 changes")
	return nil, 0
}

// watchError returns the error that ends a stream from req (which must
// end before sending a change).
func watchError(t *testing.T, feed liaisonv1.ChangeFeedServiceClient, req *liaisonv1.WatchRequest) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := feed.Watch(ctx, req)
	if err != nil {
		return err
	}
	resp, err := stream.Recv()
	if err == nil {
		t.Fatalf("watch from %d: got %v, want an error", req.GetCursor(), resp)
	}
	return err
}

// feedInfo is the ErrorInfo of a stream's end.
func feedInfo(t *testing.T, err error) *errdetails.ErrorInfo {
	t.Helper()
	for _, d := range status.Convert(err).Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok && i.GetDomain() == changefeed.ErrorDomain {
			return i
		}
	}
	t.Fatalf("%v carries no ErrorInfo of %s", err, changefeed.ErrorDomain)
	return nil
}

// createLeads creates n leads from workers goroutines and returns their
// ids and how long it took.
func createLeads(t *testing.T, leads liaisonv1.LeadServiceClient, n, workers int, prefix string) ([]string, time.Duration) {
	t.Helper()
	var (
		mu      sync.Mutex
		created []string
		failed  error
		wg      sync.WaitGroup
	)
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				resp, err := leads.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: newLead(fmt.Sprintf("%s %d", prefix, i))})
				cancel()
				mu.Lock()
				if err != nil {
					failed = err
					mu.Unlock()
					return
				}
				created = append(created, resp.GetLead().GetId())
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if failed != nil {
		t.Fatalf("create leads: %v", failed)
	}
	return created, time.Since(start)
}

// TestWatch_ResumeAcross10000Changes: a watcher that hangs up at random
// points, with changes in flight, and resumes from the last cursor it
// received, gets each of 10,000 changes made meanwhile exactly once, in
// cursor order, as the feed table holds them.
func TestWatch_ResumeAcross10000Changes(t *testing.T) {
	t.Parallel()
	n := startAlpha(t)
	leads := liaisonv1.NewLeadServiceClient(n.Conn(t, "analyst"))
	feed := feedClient(t, n, "service")
	const total = 10000

	var ids []string
	written := make(chan struct{})
	go func() {
		defer close(written)
		ids, _ = createLeads(t, leads, total, 8, "feed")
	}()

	seed := uint64(time.Now().UnixNano())
	rnd := rand.New(rand.NewPCG(seed, 0))
	t.Logf("seed %d", seed)
	var got []*liaisonv1.Change
	cursor, sessions := int64(0), 0
	deadline := time.Now().Add(3 * time.Minute)
	for len(got) < total {
		if time.Now().After(deadline) || sessions > 2000 {
			t.Fatalf("after %v and %d sessions, %d changes of %d", 3*time.Minute, sessions, len(got), total)
		}
		sessions++
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		stream, err := feed.Watch(ctx, &liaisonv1.WatchRequest{Cursor: cursor})
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		for take := 1 + rnd.IntN(1500); take > 0 && len(got) < total; take-- {
			resp, err := stream.Recv()
			if err != nil {
				cancel()
				t.Fatalf("session %d, after cursor %d: %v", sessions, cursor, err)
			}
			if c := resp.GetChange(); c != nil {
				got = append(got, c)
				cursor = c.GetCursor()
			} else {
				cursor = resp.GetHead()
			}
		}
		cancel() // hang up, whatever is in flight
	}
	<-written
	t.Logf("%d changes over %d sessions", len(got), sessions)
	if sessions < 5 {
		t.Errorf("only %d sessions: the watcher did not reconnect enough to test resuming", sessions)
	}

	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	if len(want) != total {
		t.Fatalf("%d leads created, want %d", len(want), total)
	}
	for i, c := range got {
		if c.GetCursor() != int64(i+1) {
			t.Fatalf("change %d has cursor %d: a gap or a repeat", i+1, c.GetCursor())
		}
		if !want[c.GetRecordId()] || c.GetAction() != "created" || c.GetVersion() != 1 || c.GetLead().GetId() != c.GetRecordId() {
			t.Fatalf("change %d: %s v%d %s (lead %s): not one of the leads created, or not once", i+1, c.GetRecordId(), c.GetVersion(), c.GetAction(), c.GetLead().GetId())
		}
		delete(want, c.GetRecordId())
	}

	// The same as the feed table holds.
	ctx := context.Background()
	if oldest, newest, err := n.Store.FeedBounds(ctx); err != nil || oldest != 1 || newest != total {
		t.Fatalf("feed holds %d..%d (%v), want 1..%d", oldest, newest, err, total)
	}
	var table []store.FeedEvent
	for after := int64(0); after < total; {
		page, err := n.Store.FeedAfter(ctx, after, 1000)
		if err != nil || len(page) == 0 {
			t.Fatalf("read the feed after %d: %v", after, err)
		}
		table = append(table, page...)
		after = page[len(page)-1].Seq
	}
	for i, ev := range table {
		if c := got[i]; ev.Seq != c.GetCursor() || ev.RecordID != c.GetRecordId() || ev.Version != c.GetVersion() || ev.Action != c.GetAction() {
			t.Fatalf("feed row %d (%s v%d %s) differs from the change received (%v)", ev.Seq, ev.RecordID, ev.Version, ev.Action, c)
		}
	}
}

// TestWatch_StaleCursor: a cursor whose next changes were trimmed is
// OUT_OF_RANGE, telling the client to resync and from which cursor to
// watch then; that cursor works.
func TestWatch_StaleCursor(t *testing.T) {
	t.Parallel()
	n := startAlpha(t)
	createLeads(t, liaisonv1.NewLeadServiceClient(n.Conn(t, "analyst")), 20, 1, "stale")
	if err := n.Store.Write(context.Background(), func(tx *store.Tx) error {
		_, err := tx.TrimFeed(15)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	feed := feedClient(t, n, "analyst")

	err := watchError(t, feed, &liaisonv1.WatchRequest{Cursor: 5})
	if status.Code(err) != codes.OutOfRange {
		t.Fatalf("watch from a trimmed cursor: %v, want OUT_OF_RANGE", err)
	}
	msg := status.Convert(err).Message()
	for _, want := range []string{"cursor 5 is older than the change feed keeps", "the oldest change kept is 16", "kept for 30d", "Resync", "then watch from cursor 20"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message does not say %q: %s", want, msg)
		}
	}
	info := feedInfo(t, err)
	if info.GetReason() != changefeed.ReasonCursorExpired || info.GetMetadata()[changefeed.ResumeCursorKey] != "20" || info.GetMetadata()["oldest_cursor"] != "16" {
		t.Errorf("ErrorInfo %v, want %s resuming from 20", info, changefeed.ReasonCursorExpired)
	}

	// As told: after the resync, from 20.
	if cs, head := feedUntilHead(t, feed, &liaisonv1.WatchRequest{Cursor: 20}); len(cs) != 0 || head != 20 {
		t.Errorf("from the cursor named: %d changes, head %d; want none, head 20", len(cs), head)
	}
	// The cursor just before the oldest kept still resumes.
	if cs, _ := feedUntilHead(t, feed, &liaisonv1.WatchRequest{Cursor: 15}); len(cs) != 5 || cs[0].GetCursor() != 16 {
		t.Errorf("from 15: %d changes, want 16..20", len(cs))
	}
	// A cursor this node never issued.
	err = watchError(t, feed, &liaisonv1.WatchRequest{Cursor: 21})
	if status.Code(err) != codes.OutOfRange || feedInfo(t, err).GetReason() != changefeed.ReasonCursorAhead {
		t.Errorf("watch from a cursor ahead: %v, want OUT_OF_RANGE %s", err, changefeed.ReasonCursorAhead)
	}

	// The refusal is audited with its outcome and what was sent.
	auditor := liaisonv1.NewAuditServiceClient(n.Conn(t, "auditor"))
	resp, err := auditor.ListAuditEvents(context.Background(), &liaisonv1.ListAuditEventsRequest{
		Action: liaisonv1.ChangeFeedService_Watch_FullMethodName, Outcome: "OUT_OF_RANGE", PageSize: 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	var details []string
	for _, e := range resp.GetEvents() {
		details = append(details, e.GetDetail())
	}
	if !strings.Contains(strings.Join(details, "\n"), "sent 0 changes from cursor 5 to 5") {
		t.Errorf("audit details of refused watches %q, want one for cursor 5", details)
	}
}

// TestWatch_StalledConsumer: a consumer that opens a stream and never
// reads is cut off with UNAVAILABLE within its send timeout, and writers
// are no slower while one hangs on. Throughput is measured in rounds, each
// a run of creates with no consumer and one with a stalled consumer
// attached, so that load elsewhere on the machine weighs on both alike;
// and the test is not parallel, so the package's other tests wait.
func TestWatch_StalledConsumer(t *testing.T) {
	pki := nodetest.NewPKI(t, "alpha", "bravo")
	cfg := pki.Config("alpha", t.TempDir(), "bravo")
	const sendTimeout = 5 * time.Second // longer than a round
	cfg.Feed.SendTimeout.Duration = sendTimeout
	cfg.Feed.MaxLag = 10_000_000 // so that only the stall cuts it off
	n := nodetest.Start(t, pki, cfg, nil)
	leads := liaisonv1.NewLeadServiceClient(n.Conn(t, "analyst"))
	const rounds, perRun, workers = 6, 500, 8

	// Consumers dial with small flow-control windows (no dynamic growth),
	// so that what they leave unread fills them within a run, as a stalled
	// client's would.
	conn, err := client.Dial(client.Options{
		Addr: n.Addr(), CA: pki.Path("alpha", "ca.crt"), Cert: pki.Path("alpha", "service.crt"), Key: pki.Path("alpha", "service.key"),
	}, grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	feed := liaisonv1.NewChangeFeedServiceClient(conn)
	// stall opens a stream that nobody reads, from a backlog larger than
	// its windows hold, and lets it fill them: from then on the node's
	// Send to it blocks.
	const backlog = 1000
	settle := func() { time.Sleep(300 * time.Millisecond) }
	stall := func() (liaisonv1.ChangeFeedService_WatchClient, int64, context.CancelFunc) {
		_, newest, err := n.Store.FeedBounds(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		s, err := feed.Watch(ctx, &liaisonv1.WatchRequest{Cursor: newest - backlog})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Header(); err != nil { // the node serves it
			t.Fatal(err)
		}
		settle() // a few ms fill the windows
		return s, newest - backlog, cancel
	}

	createLeads(t, leads, backlog, workers, "warm-up")
	// Rounds alternate which condition runs first, and each run follows
	// the same pause (a run right after an idle moment is measurably
	// slower here, consumer or not).
	var base, withStall time.Duration
	var ratios []float64
	var stalled liaisonv1.ChangeFeedService_WatchClient
	var from int64
	var stalledAt time.Time
	for r := range rounds {
		var b, w time.Duration
		baseline := func() {
			settle()
			_, b = createLeads(t, leads, perRun, workers, "baseline")
		}
		if r%2 == 1 {
			baseline()
		}
		s, cursor, cancel := stall() // settles too
		start := time.Now()
		_, w = createLeads(t, leads, perRun, workers, "stalled")
		if r == rounds-1 {
			// The last one stays until the node cuts it off.
			defer cancel()
			stalled, from, stalledAt = s, cursor, start
		} else {
			cancel() // the client hangs up
		}
		if r%2 == 0 {
			baseline()
		}
		base, withStall = base+b, withStall+w
		ratios = append(ratios, b.Seconds()/w.Seconds())
	}
	rate := func(d time.Duration) float64 { return float64(rounds*perRun) / d.Seconds() }
	slices.Sort(ratios)
	median := (ratios[rounds/2-1] + ratios[rounds/2]) / 2
	t.Logf("creates/s: %.0f without a consumer, %.0f with a stalled one attached (%.0f%%; median of %d rounds %.0f%%), %d creates each",
		rate(base), rate(withStall), 100*rate(withStall)/rate(base), rounds, 100*median, rounds*perRun)
	// The median of the rounds: one round slowed by the machine's other
	// work cannot decide it.
	if median < 0.7 {
		t.Errorf("writes with a stalled consumer attached: median %.0f%% of the rate without (rounds %.2f), below 70%%", 100*median, ratios)
	}

	// The node cuts the last one off, and records when in the audit log.
	auditor := liaisonv1.NewAuditServiceClient(n.Conn(t, "auditor"))
	var cutAt time.Time
	nodetest.Eventually(t, sendTimeout+15*time.Second, func() error {
		resp, err := auditor.ListAuditEvents(context.Background(), &liaisonv1.ListAuditEventsRequest{
			Action: liaisonv1.ChangeFeedService_Watch_FullMethodName, Outcome: "UNAVAILABLE", PageSize: 5,
		})
		if err != nil {
			return err
		}
		if len(resp.GetEvents()) == 0 {
			return fmt.Errorf("the stalled consumer is still attached")
		}
		cutAt = resp.GetEvents()[0].GetTime().AsTime()
		return nil
	})
	cutAfter := cutAt.Sub(stalledAt)
	t.Logf("cut off %v after its run began (send timeout %v)", cutAfter.Round(time.Millisecond), sendTimeout)
	if cutAfter > sendTimeout+5*time.Second {
		t.Errorf("cut off %v after it stalled, want within the send timeout (%v) and a run", cutAfter, sendTimeout)
	}

	// When it reads at last, it gets what it was sent, then the cut-off,
	// naming the last cursor it received.
	last, received := from, 0
	for {
		resp, err := stalled.Recv()
		if err != nil {
			if status.Code(err) != codes.Unavailable {
				t.Fatalf("stalled consumer's stream ended with %v, want UNAVAILABLE", err)
			}
			info := feedInfo(t, err)
			if info.GetReason() != changefeed.ReasonStalled || info.GetMetadata()[changefeed.ResumeCursorKey] != strconv.FormatInt(last, 10) {
				t.Errorf("ErrorInfo %v, want %s resuming from %d, the last cursor received", info, changefeed.ReasonStalled, last)
			}
			if !strings.Contains(status.Convert(err).Message(), fmt.Sprintf("reconnect with cursor %d", last)) {
				t.Errorf("message does not name cursor %d: %v", last, err)
			}
			break
		}
		if received++; received > backlog+rounds*perRun {
			t.Fatal("the stalled consumer was never cut off")
		}
		if c := resp.GetChange(); c != nil {
			last = c.GetCursor()
		} else {
			last = resp.GetHead()
		}
	}
	t.Logf("the stalled consumer had %d messages in flight when it was cut off", received)
	if received == 0 || received >= backlog {
		t.Errorf("it received %d messages: want some of the %d changes of its backlog, not all (it was cut off)", received, backlog)
	}
}

// TestWatch_FilterByKind: a watcher of some kinds gets only those, and its
// heartbeat still passes the changes it does not want.
func TestWatch_FilterByKind(t *testing.T) {
	t.Parallel()
	n := startAlpha(t)
	ctx := context.Background()
	leads := liaisonv1.NewLeadServiceClient(n.Conn(t, "analyst"))
	cases := liaisonv1.NewCaseServiceClient(n.Conn(t, "analyst"))
	manifests := liaisonv1.NewManifestServiceClient(n.Conn(t, "analyst"))
	createLeads(t, leads, 1, 1, "before")
	c, err := cases.CreateCase(ctx, &liaisonv1.CreateCaseRequest{Case: newCase("Operation Gecko")})
	if err != nil {
		t.Fatal(err)
	}
	e, err := cases.AddCaseEntry(ctx, &liaisonv1.AddCaseEntryRequest{CaseId: c.GetCase().GetId(), Entry: note("boat seen leaving Kupang")})
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifests.CreateManifest(ctx, &liaisonv1.CreateManifestRequest{Manifest: &liaisonv1.Manifest{
		ReceivingAgency: "bravo", LegalBasis: "Readmission agreement alpha-bravo, art. 5",
	}})
	if err != nil {
		t.Fatal(err)
	}
	createLeads(t, leads, 1, 1, "after")
	_, newest, _ := n.Store.FeedBounds(ctx)
	feed := feedClient(t, n, "service")

	all, head := feedUntilHead(t, feed, &liaisonv1.WatchRequest{})
	if head != newest || len(all) != int(newest) {
		t.Fatalf("unfiltered: %d changes, head %d; want all %d", len(all), head, newest)
	}
	kinds := map[liaisonv1.ChangeKind]int{}
	for _, ch := range all {
		kinds[ch.GetKind()]++
	}
	if len(kinds) != 4 {
		t.Errorf("kinds seen %v, want all four", kinds)
	}

	got, head := feedUntilHead(t, feed, &liaisonv1.WatchRequest{Kinds: []liaisonv1.ChangeKind{liaisonv1.ChangeKind_CHANGE_KIND_CASE, liaisonv1.ChangeKind_CHANGE_KIND_CASE_ENTRY}})
	if head != newest {
		t.Errorf("head %d, want %d: the cursor passes what the filter leaves out", head, newest)
	}
	var sawCase, sawEntry bool
	for _, ch := range got {
		switch ch.GetKind() {
		case liaisonv1.ChangeKind_CHANGE_KIND_CASE:
			sawCase = sawCase || ch.GetCase().GetId() == c.GetCase().GetId()
		case liaisonv1.ChangeKind_CHANGE_KIND_CASE_ENTRY:
			sawEntry = sawEntry || (ch.GetCaseEntry().GetId() == e.GetEntry().GetId() && ch.GetCaseEntry().GetCaseId() == c.GetCase().GetId())
		default:
			t.Errorf("a watcher of cases and entries got %v", ch)
		}
	}
	if !sawCase || !sawEntry {
		t.Errorf("case seen %v, entry seen %v; want both", sawCase, sawEntry)
	}

	got, _ = feedUntilHead(t, feed, &liaisonv1.WatchRequest{Kinds: []liaisonv1.ChangeKind{liaisonv1.ChangeKind_CHANGE_KIND_MANIFEST}})
	if len(got) != 1 || got[0].GetManifest().GetId() != m.GetManifest().GetId() || got[0].GetAction() != "draft" {
		t.Errorf("a watcher of manifests got %v, want the draft", got)
	}

	// Each stream's close is audited with what it sent.
	auditor := liaisonv1.NewAuditServiceClient(n.Conn(t, "auditor"))
	nodetest.Eventually(t, 10*time.Second, func() error {
		resp, err := auditor.ListAuditEvents(ctx, &liaisonv1.ListAuditEventsRequest{Action: liaisonv1.ChangeFeedService_Watch_FullMethodName, PageSize: 20})
		if err != nil {
			return err
		}
		var details []string
		for _, ev := range resp.GetEvents() {
			details = append(details, ev.GetDetail())
		}
		all := strings.Join(details, "\n")
		for _, w := range []string{
			fmt.Sprintf("sent %d changes from cursor 0 to %d\n", newest, newest),
			fmt.Sprintf("to %d (kinds case,case_entry)", newest),
			fmt.Sprintf("sent 1 changes from cursor 0 to %d (kinds manifest)", newest),
		} {
			if !strings.Contains(all+"\n", w) {
				return fmt.Errorf("no audit detail %q in %q", w, details)
			}
		}
		return nil
	})
}

// TestWatch_ReplicaThenTombstone: on the partner's node, a released lead
// arrives as a replica change and its withdrawal as a tombstone.
func TestWatch_ReplicaThenTombstone(t *testing.T) {
	t.Parallel()
	alpha, bravo := pair(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stream, err := feedClient(t, bravo.Node, "service").Watch(ctx, &liaisonv1.WatchRequest{})
	if err != nil {
		t.Fatal(err)
	}
	next := func(id string) *liaisonv1.Change {
		t.Helper()
		for range 1000 {
			resp, err := stream.Recv()
			if err != nil {
				t.Fatal(err)
			}
			if c := resp.GetChange(); c.GetRecordId() == id {
				return c
			}
		}
		t.Fatalf("no change to %s", id)
		return nil
	}
	l := alpha.createReleased(t, newLead("Kupang boats"), "bravo")

	replica := next(l.GetId())
	if replica.GetAction() != "replica" || replica.GetOriginAgency() != "alpha" || replica.GetVersion() != l.GetVersion() ||
		replica.GetLead().GetTitle() != "Kupang boats" {
		t.Errorf("bravo's first change to the lead: %v, want alpha's replica v%d with its content", replica, l.GetVersion())
	}

	if _, err := alpha.supervisor.WithdrawLead(ctx, &liaisonv1.WithdrawLeadRequest{Id: l.GetId(), Reason: "source burnt"}); err != nil {
		t.Fatal(err)
	}
	tomb := next(l.GetId())
	if tomb.GetAction() != "tombstone" || tomb.GetOriginAgency() != "alpha" || tomb.GetVersion() <= replica.GetVersion() || tomb.GetRecord() != nil {
		t.Errorf("bravo's change on the withdrawal: %v, want a tombstone of a later version, without content", tomb)
	}
	if tomb.GetCursor() <= replica.GetCursor() {
		t.Errorf("tombstone at cursor %d, replica at %d: out of order", tomb.GetCursor(), replica.GetCursor())
	}
}

// TestWatch_Authorization: analysts (and supervisors, who may do all an
// analyst may) and the agency's systems may watch; auditors, the node's own
// identity and every principal of a partner agency may not.
func TestWatch_Authorization(t *testing.T) {
	t.Parallel()
	pki := nodetest.NewPKI(t, "alpha", "bravo")
	n := nodetest.Start(t, pki, pki.Config("alpha", t.TempDir(), "bravo"), nil)
	auditor := liaisonv1.NewAuditServiceClient(n.Conn(t, "auditor"))
	deniedOutcome := errs.CodeName(status.Error(codes.PermissionDenied, ""))
	for _, p := range authzPrincipals() {
		t.Run(p.String(), func(t *testing.T) {
			feed := liaisonv1.NewChangeFeedServiceClient(n.ConnAs(t, p.agency, string(p.role)))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			stream, err := feed.Watch(ctx, &liaisonv1.WatchRequest{})
			if err == nil {
				_, err = stream.Recv() // the heartbeat of an empty feed, or the refusal
			}
			allowed := !p.isPartner() && (p.role == "analyst" || p.role == "supervisor" || p.role == "service")
			switch {
			case allowed && err != nil:
				t.Errorf("%s may watch, got %v", p, err)
			case !allowed && status.Code(err) != codes.PermissionDenied:
				t.Errorf("%s may not watch: got %v, want PERMISSION_DENIED", p, err)
			case !allowed:
				// The refusal is in the audit log, under the caller.
				resp, err := auditor.ListAuditEvents(context.Background(), &liaisonv1.ListAuditEventsRequest{
					Principal: p.id(), Action: liaisonv1.ChangeFeedService_Watch_FullMethodName, PageSize: 10,
				})
				if err != nil {
					t.Fatal(err)
				}
				if ev := resp.GetEvents(); len(ev) != 1 || ev[0].GetOutcome() != deniedOutcome || ev[0].GetAgency() != p.agency || ev[0].GetRole() != string(p.role) {
					t.Errorf("audit events of %s watching: %v, want one %s event", p, ev, deniedOutcome)
				}
			}
		})
	}
}
