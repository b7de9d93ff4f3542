package e2e

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/config"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// The federation fault tests run alpha and bravo as child processes so
// that either can be SIGKILLed in the middle of a burst of releases. They
// are CPU heavy and deliberately not parallel.

// fltBurst is the number of leads released in one burst.
const fltBurst = 10000

// fltWorkers is the number of concurrent clients creating and releasing.
const fltWorkers = 8

// fltLog collects the children's stderr, safe for concurrent use.
type fltLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *fltLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *fltLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// fltPair is alpha and bravo, each in its own process, each the other's
// partner, on fixed loopback addresses.
type fltPair struct {
	pki          *nodetest.PKI
	alpha, bravo *config.Config
	procA, procB *nodetest.Process
	stderr       *fltLog
}

func fltStartPair(t *testing.T) *fltPair {
	t.Helper()
	pki := nodetest.NewPKI(t, "alpha", "bravo")
	dir := t.TempDir()
	ca, cb := pki.Config("alpha", dir, "bravo"), pki.Config("bravo", dir, "alpha")
	ca.Listen, cb.Listen = nodetest.FreeAddr(t), nodetest.FreeAddr(t)
	ca.Partners[0].Address, cb.Partners[0].Address = cb.Listen, ca.Listen
	p := &fltPair{pki: pki, alpha: ca, bravo: cb, stderr: &fltLog{}}
	p.procB = nodetest.StartProcess(t, pki, cb, p.stderr)
	p.procA = nodetest.StartProcess(t, pki, ca, p.stderr)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("node processes' stderr:\n%s", fltTail(p.stderr.String(), 8000))
		}
	})
	return p
}

func fltTail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// leads dials a fresh LeadService client of alpha as role.
func (p *fltPair) leads(t *testing.T, role string) liaisonv1.LeadServiceClient {
	return liaisonv1.NewLeadServiceClient(nodetest.Dial(t, p.pki, p.alpha.Listen, "alpha", role, "alpha"))
}

// fltCreate creates n leads on alpha from several workers and returns their
// ids. Every create carries a request id, so a retry is safe.
func fltCreate(t *testing.T, leads liaisonv1.LeadServiceClient, n int) []string {
	t.Helper()
	ids := make([]string, n)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for w := 0; w < fltWorkers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += fltWorkers {
				rid := uuid.Must(uuid.NewV7()).String()
				var err error
				for try := 0; try < 3; try++ {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					var r *liaisonv1.CreateLeadResponse
					r, err = leads.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: newLead(fmt.Sprintf("burst %d", i)), RequestId: rid})
					cancel()
					if err == nil {
						ids[i] = r.GetLead().GetId()
						break
					}
				}
				if err != nil {
					if failed.Add(1) == 1 {
						t.Errorf("create lead %d: %v", i, err)
					}
				}
			}
		}(w)
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d creates failed", failed.Load())
	}
	return ids
}

// fltRelease releases each lead to bravo from several workers and returns
// the ids whose release the node acknowledged. A failed call is not
// retried here: the caller re-issues it.
func fltRelease(leads liaisonv1.LeadServiceClient, ids []string, acked *atomic.Int64) (ok map[string]bool, failures []error) {
	var mu sync.Mutex
	ok = map[string]bool{}
	var wg sync.WaitGroup
	for w := 0; w < fltWorkers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(ids); i += fltWorkers {
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				_, err := leads.ReleaseLead(ctx, &liaisonv1.ReleaseLeadRequest{Id: ids[i], Partners: []string{"bravo"}})
				cancel()
				mu.Lock()
				if err == nil {
					ok[ids[i]] = true
					acked.Add(1)
				} else {
					failures = append(failures, err)
				}
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	return ok, failures
}

// fltApplied is the highest sequence bravo applied from alpha, read from
// bravo's database file (the node may be running: WAL allows the reader).
func fltApplied(t *testing.T, bravoDB string) int64 {
	t.Helper()
	var n int64
	err := openDB(t, bravoDB).QueryRow("SELECT coalesce(max(last_applied), 0) FROM in_channels WHERE sender = 'alpha'").Scan(&n)
	if err != nil && !strings.Contains(err.Error(), "no such table") {
		t.Fatal(err)
	}
	return n
}

// fltWaitApplied waits until bravo applied at least n of alpha's envelopes.
func fltWaitApplied(t *testing.T, bravoDB string, n int64, within time.Duration) int64 {
	t.Helper()
	d := openDB(t, bravoDB)
	deadline := time.Now().Add(within)
	for {
		var got int64
		if err := d.QueryRow("SELECT coalesce(max(last_applied), 0) FROM in_channels WHERE sender = 'alpha'").Scan(&got); err != nil && !strings.Contains(err.Error(), "no such table") {
			t.Fatal(err)
		}
		if got >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("bravo applied %d of alpha's envelopes after %v, want %d", got, within, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fltWaitKillPoint waits until bravo has applied some of alpha's envelopes
// and either 2000 of them or alpha acknowledged 6000 releases (bravo
// lagging far behind): the releases are then still in flight.
func fltWaitKillPoint(t *testing.T, bravoDB string, acked *atomic.Int64, within time.Duration) int64 {
	t.Helper()
	d := openDB(t, bravoDB)
	deadline := time.Now().Add(within)
	for {
		var got int64
		if err := d.QueryRow("SELECT coalesce(max(last_applied), 0) FROM in_channels WHERE sender = 'alpha'").Scan(&got); err != nil && !strings.Contains(err.Error(), "no such table") {
			t.Fatal(err)
		}
		if got >= 2000 || got > 0 && acked.Load() >= 6000 {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("bravo applied %d of alpha's envelopes after %v, alpha acknowledged %d releases", got, within, acked.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fltProgress samples, every 100ms, how far bravo has applied, so that a
// slow catch-up can be told apart from a stalled one. stop ends sampling
// and returns the samples in words.
func fltProgress(t *testing.T, bravoDB string, since time.Time) (stop func() string) {
	t.Helper()
	d := openDB(t, bravoDB)
	done := make(chan struct{})
	var mu sync.Mutex
	var samples []string
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		last := int64(-1)
		for {
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
			var n int64
			if err := d.QueryRow("SELECT coalesce(max(last_applied), 0) FROM in_channels WHERE sender = 'alpha'").Scan(&n); err != nil {
				continue
			}
			if n != last {
				mu.Lock()
				samples = append(samples, fmt.Sprintf("%v:%d", time.Since(since).Round(10*time.Millisecond), n))
				mu.Unlock()
				last = n
			}
		}
	}()
	return func() string {
		close(done)
		<-finished
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(samples, " ")
	}
}

// fltWaitReceipted waits until alpha holds bravo's receipt for all n
// envelopes, as its status reports them.
func fltWaitReceipted(t *testing.T, p *fltPair, n uint64, within time.Duration) {
	t.Helper()
	admin := liaisonv1.NewFederationAdminServiceClient(nodetest.Dial(t, p.pki, p.alpha.Listen, "alpha", "supervisor", "alpha"))
	nodetest.Eventually(t, within, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s, err := admin.GetFederationStatus(ctx, &liaisonv1.GetFederationStatusRequest{})
		if err != nil {
			return err
		}
		st := s.GetPartners()[0]
		if st.GetLastSequenceAssigned() != n || st.GetLastSequenceAcknowledged() != n || st.GetLastSequenceApplied() != n || st.GetEnvelopesWaiting() != 0 {
			return fmt.Errorf("alpha's channel to bravo: %v", st)
		}
		return nil
	})
}

// fltAssertExactlyOnce checks, in both database files, that every lead of
// ids was sent to bravo exactly once, applied exactly once and in order,
// and receipted: alpha's outbox and bravo's inbox both hold sequences
// 1..n, the same envelope at each sequence, all applied; bravo holds one
// replica per lead; alpha holds an APPLIED receipt for each envelope.
func fltAssertExactlyOnce(t *testing.T, p *fltPair, ids []string) {
	t.Helper()
	n := len(ids)
	type row struct {
		seq           int64
		envID, record string
		status, kind  int64
		recordVersion int64
	}
	read := func(path, query string) []row {
		t.Helper()
		rows, err := openDB(t, path).Query(query)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.seq, &r.envID, &r.record, &r.status, &r.kind, &r.recordVersion); err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	out := read(p.alpha.Database.Path, "SELECT seq, envelope_id, record_id, receipt_status, kind, record_version FROM outbox WHERE partner = 'bravo' ORDER BY seq")
	in := read(p.bravo.Database.Path, "SELECT seq, envelope_id, record_id, status, kind, record_version FROM inbox WHERE sender = 'alpha' ORDER BY seq")
	if len(out) != n {
		t.Fatalf("alpha's outbox to bravo holds %d envelopes, want %d (one per released lead)", len(out), n)
	}
	if len(in) != n {
		t.Fatalf("bravo's inbox from alpha holds %d envelopes, want %d", len(in), n)
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	seen := map[string]int64{}
	for i := range out {
		o, r := out[i], in[i]
		if o.seq != int64(i+1) || r.seq != int64(i+1) {
			t.Fatalf("position %d: outbox seq %d, inbox seq %d; want %d in both (gap or duplicate)", i, o.seq, r.seq, i+1)
		}
		if o.envID != r.envID || o.record != r.record || o.recordVersion != r.recordVersion || o.kind != r.kind {
			t.Fatalf("sequence %d: alpha sent envelope %s (lead %s v%d), bravo holds %s (lead %s v%d)", o.seq, o.envID, o.record, o.recordVersion, r.envID, r.record, r.recordVersion)
		}
		if r.status != int64(liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED) {
			t.Fatalf("sequence %d (%s) has status %s on bravo, want APPLIED", r.seq, r.envID, liaisonv1.ReceiptStatus(r.status))
		}
		if o.status != int64(liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED) {
			t.Fatalf("sequence %d (%s) has receipt status %s on alpha, want APPLIED", o.seq, o.envID, liaisonv1.ReceiptStatus(o.status))
		}
		if o.kind != int64(liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD) {
			t.Fatalf("sequence %d is a %s envelope, want a lead", o.seq, liaisonv1.EnvelopeKind(o.kind))
		}
		if prev, dup := seen[r.record]; dup {
			t.Fatalf("lead %s arrived twice, at sequences %d and %d", r.record, prev, r.seq)
		}
		seen[r.record] = r.seq
		if !want[r.record] {
			t.Fatalf("sequence %d carries lead %s, which the test never created", r.seq, r.record)
		}
	}
	if len(seen) != n {
		t.Fatalf("%d distinct leads arrived, want %d", len(seen), n)
	}
	if got := countRows(t, p.bravo.Database.Path, "SELECT last_applied FROM in_channels WHERE sender = 'alpha'"); got != int64(n) {
		t.Errorf("bravo's channel from alpha: last applied %d, want %d", got, n)
	}
	if got := countRows(t, p.bravo.Database.Path, "SELECT count(*) FROM leads WHERE origin_agency = 'alpha'"); got != int64(n) {
		t.Errorf("bravo holds %d replicas of alpha's leads, want %d", got, n)
	}
	if got := countRows(t, p.bravo.Database.Path, "SELECT count(*) FROM leads WHERE origin_agency = 'alpha' AND version = 2"); got != int64(n) {
		t.Errorf("bravo holds %d replicas at the released version 2, want %d", got, n)
	}
	if got := countRows(t, p.alpha.Database.Path, "SELECT count(*) FROM outbox WHERE partner = 'bravo' AND receipt_status = 1 AND receipt_time > 0"); got != int64(n) {
		t.Errorf("alpha holds %d APPLIED receipts from bravo, want %d", got, n)
	}
	// Applied exactly once: bravo's audit log records one application per
	// envelope (a resent one is audited as a duplicate, never applied again).
	if got := countRows(t, p.bravo.Database.Path, "SELECT count(*) FROM audit_events WHERE action = 'federation.envelope.applied'"); got != int64(n) {
		t.Errorf("bravo's audit log records %d envelopes applied, want %d", got, n)
	}
	if got := countRows(t, p.alpha.Database.Path, "SELECT count(*) FROM audit_events WHERE action = 'federation.envelope.receipted'"); got != int64(n) {
		t.Errorf("alpha's audit log records %d first receipts, want %d", got, n)
	}
}

// fltVerifyAudit verifies a node's audit chain through its auditor.
func fltVerifyAudit(t *testing.T, p *fltPair, cfg *config.Config) {
	t.Helper()
	auditor := liaisonv1.NewAuditServiceClient(nodetest.Dial(t, p.pki, cfg.Listen, cfg.Agency, "auditor", cfg.Agency))
	res, err := auditor.VerifyAuditLog(context.Background(), &liaisonv1.VerifyAuditLogRequest{})
	if err != nil {
		t.Fatalf("verify %s's audit log: %v", cfg.Agency, err)
	}
	if !res.GetOk() {
		t.Fatalf("%s's audit chain broken after the kill: %v", cfg.Agency, res)
	}
}

// TestFederationFaults_SIGKILLReceiverMidBurst kills bravo while it applies
// a burst of 10,000 releases from alpha, restarts it, and checks that every
// envelope was applied exactly once and in order.
func TestFederationFaults_SIGKILLReceiverMidBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000-lead burst with a process kill")
	}
	p := fltStartPair(t)
	start := time.Now()
	ids := fltCreate(t, p.leads(t, "analyst"), fltBurst)
	t.Logf("%d leads created on alpha in %v", len(ids), time.Since(start).Round(time.Millisecond))

	var acked atomic.Int64
	type result struct {
		ok       map[string]bool
		failures []error
	}
	released := make(chan result, 1)
	relStart := time.Now()
	progress := fltProgress(t, p.bravo.Database.Path, relStart)
	go func() {
		ok, failures := fltRelease(p.leads(t, "supervisor"), ids, &acked)
		released <- result{ok, failures}
	}()

	appliedAtKill := fltWaitApplied(t, p.bravo.Database.Path, 2000, 60*time.Second)
	p.procB.Kill(t) // SIGKILL while bravo applies
	killed := time.Now()
	ackedAtKill := acked.Load()
	t.Logf("SIGKILL bravo after %v of releasing: %d releases acknowledged by alpha, %d applied by bravo", killed.Sub(relStart).Round(time.Millisecond), ackedAtKill, appliedAtKill)
	if appliedAtKill >= fltBurst {
		t.Fatalf("bravo had applied all %d envelopes before the kill; the kill proves nothing", fltBurst)
	}

	p.procB = nodetest.StartProcess(t, p.pki, p.bravo, p.stderr)
	t.Logf("bravo restarted %v after the kill, holding %d applied", time.Since(killed).Round(time.Millisecond), fltApplied(t, p.bravo.Database.Path))

	r := <-released
	if len(r.failures) > 0 {
		t.Fatalf("alpha stayed up, yet %d of %d releases failed; first: %v", len(r.failures), fltBurst, r.failures[0])
	}
	t.Logf("all %d releases acknowledged %v after the first", fltBurst, time.Since(relStart).Round(time.Millisecond))

	fltWaitApplied(t, p.bravo.Database.Path, fltBurst, 60*time.Second)
	fltWaitReceipted(t, p, fltBurst, 30*time.Second)
	t.Logf("bravo caught up %v after the kill (%v after the first release)", time.Since(killed).Round(time.Millisecond), time.Since(relStart).Round(time.Millisecond))
	if samples := progress(); time.Since(relStart) > 15*time.Second {
		t.Logf("slow catch-up; bravo's applied sequence over time (since the first release): %s", samples)
	}

	fltAssertExactlyOnce(t, p, ids)
	fltVerifyAudit(t, p, p.bravo)
	checkIntegrity(t, p.bravo.Database.Path)
	checkIntegrity(t, p.alpha.Database.Path)
}

// TestFederationFaults_SIGKILLSenderMidBurst kills alpha while clients
// release 10,000 leads and bravo applies them, restarts it, re-issues every
// release alpha did not acknowledge, and checks that every lead reaches
// bravo exactly once and in order.
func TestFederationFaults_SIGKILLSenderMidBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000-lead burst with a process kill")
	}
	p := fltStartPair(t)
	start := time.Now()
	ids := fltCreate(t, p.leads(t, "analyst"), fltBurst)
	t.Logf("%d leads created on alpha in %v", len(ids), time.Since(start).Round(time.Millisecond))

	var acked atomic.Int64
	type result struct {
		ok       map[string]bool
		failures []error
	}
	released := make(chan result, 1)
	relStart := time.Now()
	progress := fltProgress(t, p.bravo.Database.Path, relStart)
	go func() {
		ok, failures := fltRelease(p.leads(t, "supervisor"), ids, &acked)
		released <- result{ok, failures}
	}()

	// Kill once bravo applies and before the releases are done: when bravo
	// has applied 2000, or earlier if it lags far behind the releases.
	appliedAtKill := fltWaitKillPoint(t, p.bravo.Database.Path, &acked, 60*time.Second)
	p.procA.Kill(t) // SIGKILL while releases are in flight and bravo applies
	killed := time.Now()
	ackedAtKill := acked.Load()
	t.Logf("SIGKILL alpha after %v of releasing: %d releases acknowledged, %d applied by bravo", killed.Sub(relStart).Round(time.Millisecond), ackedAtKill, appliedAtKill)
	if ackedAtKill >= fltBurst {
		t.Fatalf("all %d releases were acknowledged before the kill; the kill proves nothing", fltBurst)
	}

	var r struct {
		ok       map[string]bool
		failures []error
	}
	select {
	case res := <-released:
		r.ok, r.failures = res.ok, res.failures
	case <-time.After(60 * time.Second):
		t.Fatal("release clients did not return within 60s of alpha's death")
	}
	if len(r.failures) == 0 {
		t.Fatal("no release failed although alpha was killed while they were in flight")
	}
	t.Logf("%d releases acknowledged, %d failed (first: %v)", len(r.ok), len(r.failures), r.failures[0])

	p.procA = nodetest.StartProcess(t, p.pki, p.alpha, p.stderr)
	t.Logf("alpha restarted %v after the kill", time.Since(killed).Round(time.Millisecond))

	// Nothing acknowledged was lost: every acknowledged release is there.
	leads := p.leads(t, "supervisor")
	for id := range r.ok {
		got, err := leads.GetLead(context.Background(), &liaisonv1.GetLeadRequest{Id: id})
		if err != nil {
			t.Fatalf("lead %s: %v", id, err)
		}
		if got.GetLead().GetStatus() != liaisonv1.LeadStatus_LEAD_STATUS_RELEASED || len(got.GetLead().GetReleasedTo()) != 1 {
			t.Fatalf("acknowledged release of %s lost after SIGKILL: %v", id, got.GetLead())
		}
	}
	// Re-issue every release that was not acknowledged (releasing again is
	// idempotent: a release that did commit changes nothing).
	var retry []string
	for _, id := range ids {
		if !r.ok[id] {
			retry = append(retry, id)
		}
	}
	var reacked atomic.Int64
	reStart := time.Now()
	ok, failures := fltRelease(leads, retry, &reacked)
	if len(failures) > 0 {
		t.Fatalf("%d of %d re-issued releases failed; first: %v", len(failures), len(retry), failures[0])
	}
	t.Logf("%d releases re-issued after the restart, in %v", len(ok), time.Since(reStart).Round(time.Millisecond))

	fltWaitApplied(t, p.bravo.Database.Path, fltBurst, 60*time.Second)
	fltWaitReceipted(t, p, fltBurst, 30*time.Second)
	t.Logf("bravo caught up %v after the kill (%v after the first release)", time.Since(killed).Round(time.Millisecond), time.Since(relStart).Round(time.Millisecond))
	if samples := progress(); time.Since(relStart) > 15*time.Second {
		t.Logf("slow catch-up; bravo's applied sequence over time (since the first release): %s", samples)
	}

	fltAssertExactlyOnce(t, p, ids)
	fltVerifyAudit(t, p, p.alpha)
	checkIntegrity(t, p.alpha.Database.Path)
	checkIntegrity(t, p.bravo.Database.Path)
}

var _ io.Writer = (*fltLog)(nil)
