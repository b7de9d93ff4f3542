package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/config"
	"github.com/liaison-exchange/liaison/server/nodetest"
	"github.com/liaison-exchange/liaison/server/store"
)

// Cross-witnessing (issue 12): each node cosigns its partner's audit-log
// checkpoints after checking them consistent with the last one it
// cosigned. An insider who rewrites alpha's database — however carefully
// every stored hash is recomputed — is caught by bravo, which raises a fork
// alarm and keeps the checkpoint that convicts the log.

// witnessPair starts alpha and bravo checkpointing (and so witnessing) every
// second, with metrics on.
func witnessPair(t *testing.T, stopOnFork bool) (*fedNode, *fedNode) {
	a, b := nodetest.Pair(t, func(c *config.Config) {
		c.Audit.CheckpointInterval.Duration = time.Second
		c.Federation.StopOnFork = stopOnFork
		c.Metrics.Listen = "127.0.0.1:0"
	})
	return clients(t, a), clients(t, b)
}

// witnessOf is n's witness status of (and for) partner.
func (n *fedNode) witnessOf(t *testing.T, partner string) *liaisonv1.WitnessStatus {
	t.Helper()
	return n.partnerStatus(t, partner).GetWitness()
}

// waitWitnessed waits until n has cosigned partner's log at size ≥ min
// and returns the size.
func (n *fedNode) waitWitnessed(t *testing.T, partner string, min int64) int64 {
	t.Helper()
	var got int64
	nodetest.Eventually(t, 10*time.Second, func() error {
		w := n.witnessOf(t, partner)
		if w.GetForkAlarm() {
			t.Fatalf("%s raised a fork alarm on %s's clean log: %s", n.Agency, partner, w.GetForkAlarmReason())
		}
		if got = w.GetWitnessedSize(); got < min {
			return fmt.Errorf("%s witnessed %s's log at %d, want ≥ %d", n.Agency, partner, got, min)
		}
		return nil
	})
	return got
}

// waitForkAlarm waits until n raises a fork alarm on partner's log and
// returns its status and how long it took from since.
func (n *fedNode) waitForkAlarm(t *testing.T, partner string, since time.Time) (*liaisonv1.WitnessStatus, time.Duration) {
	t.Helper()
	var w *liaisonv1.WitnessStatus
	nodetest.Eventually(t, 10*time.Second, func() error {
		if w = n.witnessOf(t, partner); !w.GetForkAlarm() {
			return fmt.Errorf("%s raised no fork alarm on %s (witnessed %d)", n.Agency, partner, w.GetWitnessedSize())
		}
		return nil
	})
	return w, time.Since(since)
}

// auditLen is the number of events in a stopped node's audit log.
func auditLen(t *testing.T, path string) int64 {
	t.Helper()
	var n int64
	nodetest.RewriteAuditLog(t, path, false, func(es []audit.Event) []audit.Event {
		n = int64(len(es))
		return es
	})
	return n
}

// verifyWithWitness runs what `liaison audit verify --config alpha.yaml
// --checkpoint FILE` runs on n's database file, FILE being the checkpoint
// of n's log the partner witnessed.
func verifyWithWitness(t *testing.T, n *fedNode, partner string, witnessed []byte) audit.Result {
	t.Helper()
	pki := n.PKI
	logKey, err := os.ReadFile(pki.Path(n.Agency, "log.vkey"))
	if err != nil {
		t.Fatal(err)
	}
	witnessKey, err := os.ReadFile(pki.Path(partner, "log.vkey"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := store.OpenReadOnly(n.Cfg.Database.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res, err := r.VerifyAudit(context.Background(), store.VerifyOptions{
		Origin:      audit.Origin(n.Cfg.TrustDomain),
		Keys:        audit.Keys{Log: strings.TrimSpace(string(logKey)), Witnesses: []string{strings.TrimSpace(string(witnessKey))}},
		Checkpoints: [][]byte{witnessed},
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// witnessedFromPartner asks the partner, through n's node, for the latest
// checkpoint of n's log the partner cosigned (liaisonctl federation
// witnessed).
func (n *fedNode) witnessedFromPartner(t *testing.T, partner string) *liaisonv1.FetchWitnessedCheckpointResponse {
	t.Helper()
	r, err := n.admin.FetchWitnessedCheckpoint(context.Background(), &liaisonv1.FetchWitnessedCheckpointRequest{Partner: partner})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.GetCheckpoint()) == 0 {
		t.Fatalf("%s holds no checkpoint of %s's log", partner, n.Agency)
	}
	return r
}

// metricValue is the value of a sample of n with the given labels (ok false
// if absent).
func metricValue(t *testing.T, n *fedNode, name string, labels map[string]string) (float64, bool) {
	t.Helper()
next:
	for _, s := range scrape(t, n.Node) {
		if s.name != name {
			continue
		}
		for k, v := range labels {
			if s.labels[k] != v {
				continue next
			}
		}
		return s.value, true
	}
	return 0, false
}

// checkAlarmSurfaces checks that bravo's alarm on alpha is everywhere an
// operator looks: the status, the metric and the audit log.
func checkAlarmSurfaces(t *testing.T, bravo *fedNode, w *liaisonv1.WitnessStatus, want string) {
	t.Helper()
	if !strings.Contains(w.GetForkAlarmReason(), want) {
		t.Errorf("fork alarm reason %q does not say %q", w.GetForkAlarmReason(), want)
	}
	if w.GetForkAlarmTime() == nil {
		t.Error("fork alarm has no time")
	}
	if v, ok := metricValue(t, bravo, "liaison_audit_fork_alarms_total", map[string]string{"partner": "alpha"}); !ok || v != 1 {
		t.Errorf("liaison_audit_fork_alarms_total{partner=alpha} = %v (present %v), want 1", v, ok)
	}
	r, err := bravo.auditor.ListAuditEvents(context.Background(), &liaisonv1.ListAuditEventsRequest{Action: "audit.fork_alarm"})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.GetEvents()) != 1 || !strings.Contains(r.GetEvents()[0].GetDetail(), want) {
		t.Errorf("bravo's fork-alarm audit events: %v", r.GetEvents())
	}
}

// TestWitness_TruncatedLogRaisesForkAlarm: alpha's insider deletes the
// last K audit events, witnessed ones among them, and resets the head, the
// tree and the checkpoints to match. Bravo raises the fork alarm at alpha's
// next cosignature request; the channel keeps exchanging records
// (federation.stop_on_fork is off); and verifying alpha's file against
// bravo's witnessed checkpoint names the first missing event.
func TestWitness_TruncatedLogRaisesForkAlarm(t *testing.T) {
	t.Parallel()
	alpha, bravo := witnessPair(t, false)
	alpha.createReleased(t, newLead("before the insider"), "bravo")
	w0 := bravo.waitWitnessed(t, "alpha", 5)
	alpha.Stop(t)
	path := alpha.Cfg.Database.Path
	n := auditLen(t, path)
	witnessed, ok, err := bravo.Store.WitnessedCheckpoint(context.Background(), "alpha")
	if err != nil || !ok || witnessed.Size < w0 {
		t.Fatalf("bravo's witnessed checkpoint of alpha: %+v %v %v", witnessed, ok, err)
	}
	keep := witnessed.Size - 3
	nodetest.RewriteAuditLog(t, path, true, func(es []audit.Event) []audit.Event { return es[:keep] })
	t.Logf("alpha's insider deleted events %d to %d (K=%d); bravo had witnessed %d", keep+1, n, n-keep, witnessed.Size)

	// Offline, before alpha runs again: the first missing event is named.
	res := verifyWithWitness(t, alpha, "bravo", witnessed.Note)
	if res.OK || res.FirstBad != keep+1 {
		t.Fatalf("verify against bravo's checkpoint: OK %v, first bad %d (%s); want event %d named", res.OK, res.FirstBad, res.Problem, keep+1)
	}

	restart := time.Now()
	alpha.Restart(t)
	w, took := bravo.waitForkAlarm(t, "alpha", restart)
	t.Logf("fork alarm on bravo %v after alpha's restart: %s", took.Round(time.Millisecond), w.GetForkAlarmReason())
	checkAlarmSurfaces(t, bravo, w, "the log was")
	if w.GetWitnessedSize() != witnessed.Size {
		t.Errorf("bravo's witnessed size moved from %d to %d after the alarm", witnessed.Size, w.GetWitnessedSize())
	}

	// Online, what the partner returns convicts the log just as well.
	got := alpha.witnessedFromPartner(t, "bravo")
	if got.GetSize() != witnessed.Size {
		t.Errorf("partner returned checkpoint %d, want %d", got.GetSize(), witnessed.Size)
	}
	if res := verifyWithWitness(t, alpha, "bravo", got.GetCheckpoint()); res.OK || res.FirstBad == 0 || res.FirstBad > keep+1 && res.Through != witnessed.Size {
		t.Errorf("verify after restart: OK %v, first bad %d through %d (%s)", res.OK, res.FirstBad, res.Through, res.Problem)
	}

	// The alarm is for people: records still flow.
	l := alpha.createReleased(t, newLead("after the alarm"), "bravo")
	bravo.waitVersion(t, l.GetId(), l.GetVersion())
	// And alpha sees that bravo refuses to cosign.
	nodetest.Eventually(t, 5*time.Second, func() error {
		if e := alpha.witnessOf(t, "bravo").GetCosignError(); !strings.Contains(e, "fork alarm") {
			return fmt.Errorf("alpha's cosign error: %q", e)
		}
		return nil
	})
}

// TestWitness_EditedEventRaisesForkAlarm: the insider edits one witnessed
// event and recomputes everything alpha stores. With
// federation.stop_on_fork, bravo also refuses alpha's channel, naming the
// alarm.
func TestWitness_EditedEventRaisesForkAlarm(t *testing.T) {
	t.Parallel()
	alpha, bravo := witnessPair(t, true)
	bravo.waitWitnessed(t, "alpha", 5)
	alpha.Stop(t)
	path := alpha.Cfg.Database.Path
	witnessed, _, err := bravo.Store.WitnessedCheckpoint(context.Background(), "alpha")
	if err != nil {
		t.Fatal(err)
	}
	edited := witnessed.Size - 2
	nodetest.RewriteAuditLog(t, path, true, func(es []audit.Event) []audit.Event {
		es[edited-1].Detail += " (nothing to see here)"
		return es
	})
	res := verifyWithWitness(t, alpha, "bravo", witnessed.Note)
	if res.OK || res.FirstBad > edited || res.Through < edited {
		t.Fatalf("verify against bravo's checkpoint: OK %v, events %d to %d (%s); want a range holding %d", res.OK, res.FirstBad, res.Through, res.Problem, edited)
	}

	restart := time.Now()
	alpha.Restart(t)
	w, took := bravo.waitForkAlarm(t, "alpha", restart)
	t.Logf("fork alarm on bravo %v after alpha's restart: %s", took.Round(time.Millisecond), w.GetForkAlarmReason())
	checkAlarmSurfaces(t, bravo, w, "not consistent")

	// federation.stop_on_fork: bravo takes nothing more from alpha.
	l := alpha.createReleased(t, newLead("after the alarm"), "bravo")
	nodetest.Eventually(t, 10*time.Second, func() error {
		if e := alpha.partnerStatus(t, "bravo").GetLastError(); !strings.Contains(e, "FailedPrecondition") || !strings.Contains(e, "fork alarm") {
			return fmt.Errorf("alpha's channel error: %q", e)
		}
		return nil
	})
	if _, err := bravo.analyst.GetLead(context.Background(), &liaisonv1.GetLeadRequest{Id: l.GetId()}); status.Code(err) != codes.NotFound {
		t.Errorf("bravo got alpha's lead released after the alarm: %v", err)
	}
}

// TestWitness_RestoredBackupRaisesForkAlarm: alpha's database is put back
// to an older copy and alpha goes on with other events — a fork of the log
// bravo witnessed.
func TestWitness_RestoredBackupRaisesForkAlarm(t *testing.T) {
	t.Parallel()
	alpha, bravo := witnessPair(t, false)
	bravo.waitWitnessed(t, "alpha", 3)
	path := alpha.Cfg.Database.Path
	backup := filepath.Join(t.TempDir(), "alpha-backup.db")
	alpha.Stop(t)
	copyFile(t, path, backup)
	backupSize := auditLen(t, backup)
	alpha.Restart(t)
	for i := range 5 {
		alpha.createLead(t, fmt.Sprintf("after the backup %d", i))
	}
	w := bravo.waitWitnessed(t, "alpha", backupSize+5)
	alpha.Stop(t)
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	copyFile(t, backup, path)
	t.Logf("alpha restored to a backup of %d events; bravo had witnessed %d", backupSize, w)

	restart := time.Now()
	alpha.Restart(t)
	for i := range 5 {
		alpha.createLead(t, fmt.Sprintf("another history %d", i))
	}
	ws, took := bravo.waitForkAlarm(t, "alpha", restart)
	t.Logf("fork alarm on bravo %v after alpha's restart: %s", took.Round(time.Millisecond), ws.GetForkAlarmReason())
	checkAlarmSurfaces(t, bravo, ws, "")
	got := alpha.witnessedFromPartner(t, "bravo")
	if res := verifyWithWitness(t, alpha, "bravo", got.GetCheckpoint()); res.OK {
		t.Errorf("alpha's forked log verifies against bravo's checkpoint %d", got.GetSize())
	}
}

// TestWitness_CleanLogUnderLoad: while alpha appends steadily, bravo keeps
// cosigning (its witnessed size follows the log), nobody raises an alarm,
// and alpha's log verifies against bravo's checkpoint.
func TestWitness_CleanLogUnderLoad(t *testing.T) {
	t.Parallel()
	alpha, bravo := witnessPair(t, false)
	ctx := context.Background()
	sizes := map[int64]bool{}
	end := time.Now().Add(4 * time.Second)
	// Paced (at most about 200 a second): the suite runs tests that time
	// latencies in parallel with this one.
	for i := 0; time.Now().Before(end); i++ {
		alpha.createLead(t, fmt.Sprintf("load %d", i))
		time.Sleep(5 * time.Millisecond)
		if i%10 == 0 {
			sizes[bravo.witnessOf(t, "alpha").GetWitnessedSize()] = true
		}
	}
	if len(sizes) < 3 {
		t.Errorf("bravo's witnessed size took only %d values during 4 s of load: %v", len(sizes), sizes)
	}
	var size int64
	if err := alpha.Store.Write(ctx, func(tx *store.Tx) error { size = tx.TreeSize(); return nil }); err != nil {
		t.Fatal(err)
	}
	bravo.waitWitnessed(t, "alpha", size)
	alpha.waitWitnessed(t, "bravo", 1)
	for _, pair := range [][2]*fedNode{{alpha, bravo}, {bravo, alpha}} {
		log, witness := pair[0], pair[1]
		if w := log.witnessOf(t, witness.Agency); w.GetCosignedSize() == 0 || w.GetCosignError() != "" {
			t.Errorf("%s's log as %s cosigned it: %v", log.Agency, witness.Agency, w)
		}
		if v, ok := metricValue(t, witness, "liaison_audit_fork_alarms_total", map[string]string{"partner": log.Agency}); !ok || v != 0 {
			t.Errorf("%s: liaison_audit_fork_alarms_total{partner=%s} = %v (present %v), want 0", witness.Agency, log.Agency, v, ok)
		}
	}
	got := alpha.witnessedFromPartner(t, "bravo")
	// Verified offline, as `liaison audit verify` does, on a still file.
	alpha.Stop(t)
	res := verifyWithWitness(t, alpha, "bravo", got.GetCheckpoint())
	if !res.OK || res.WitnessedAt < size {
		t.Errorf("alpha's clean log against bravo's checkpoint %d: OK %v, witnessed at %d (%s)", got.GetSize(), res.OK, res.WitnessedAt, res.Problem)
	}
}

func (n *fedNode) createLead(t *testing.T, title string) *liaisonv1.Lead {
	t.Helper()
	r, err := n.analyst.CreateLead(context.Background(), &liaisonv1.CreateLeadRequest{Lead: newLead(title)})
	if err != nil {
		t.Fatal(err)
	}
	return r.GetLead()
}

// TestWitness_ThreeAgenciesCosignTheSameCheckpoint: with two partners,
// both cosignatures end up on alpha's stored checkpoint, merged.
func TestWitness_ThreeAgenciesCosignTheSameCheckpoint(t *testing.T) {
	t.Parallel()
	alpha, _, _ := nodetest.Trio(t, func(c *config.Config) { c.Audit.CheckpointInterval.Duration = time.Second })
	keys := audit.Keys{Log: alpha.AuditLog.VerifierKey()}
	for _, p := range []string{"bravo", "charlie"} {
		b, err := os.ReadFile(alpha.PKI.Path(p, "log.vkey"))
		if err != nil {
			t.Fatal(err)
		}
		keys.Witnesses = append(keys.Witnesses, strings.TrimSpace(string(b)))
	}
	nodetest.Eventually(t, 10*time.Second, func() error {
		var cp store.StoredCheckpoint
		if err := alpha.Store.Write(context.Background(), func(tx *store.Tx) error {
			var err error
			cp, _, err = tx.LatestCheckpoint()
			return err
		}); err != nil {
			return err
		}
		// Until both partners answered for the latest checkpoint, it
		// carries fewer cosignatures: poll.
		for _, p := range []string{"bravo", "charlie"} {
			w, err := alpha.Store.AuditWitness(context.Background(), p)
			if err != nil {
				return err
			}
			if w.Size == 0 {
				return fmt.Errorf("%s has not cosigned yet", p)
			}
		}
		c, err := audit.OpenCheckpoint(cp.Note, alpha.AuditLog.Origin(), keys)
		if err != nil {
			return err
		}
		if len(c.Cosigners) != 2 {
			return fmt.Errorf("checkpoint %d cosigned by %v, want bravo and charlie", c.Size, c.Cosigners)
		}
		return nil
	})
}

// TestWitness_IdlePairStaysQuiet: two idle nodes do not keep each other's
// logs growing by asking for cosignatures of the events their requests
// append.
func TestWitness_IdlePairStaysQuiet(t *testing.T) {
	t.Parallel()
	alpha, bravo := witnessPair(t, false)
	bravo.waitWitnessed(t, "alpha", 1)
	alpha.waitWitnessed(t, "bravo", 1)
	time.Sleep(1500 * time.Millisecond) // the last requests answered
	size := func(n *fedNode) int64 {
		var s int64
		if err := n.Store.Write(context.Background(), func(tx *store.Tx) error { s = tx.TreeSize(); return nil }); err != nil {
			t.Fatal(err)
		}
		return s
	}
	a0, b0 := size(alpha), size(bravo)
	time.Sleep(4 * time.Second)
	if a, b := size(alpha), size(bravo); a-a0 > 1 || b-b0 > 1 {
		t.Errorf("idle for 4 s with checkpoints every second, alpha's log grew by %d events and bravo's by %d", a-a0, b-b0)
	}
}
