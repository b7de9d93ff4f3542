package e2e

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/nodetest"
	"github.com/liaison-exchange/liaison/server/store"
)

// ack is a create the node acknowledged.
type ack struct{ id, title string }

// createUntilStopped creates leads from several goroutines until stop is
// closed, and returns the creates the node acknowledged, by request id.
func createUntilStopped(t *testing.T, leads liaisonv1.LeadServiceClient, stop <-chan struct{}) map[string]ack {
	t.Helper()
	var mu sync.Mutex
	acked := map[string]ack{}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 100000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				rid := uuid.Must(uuid.NewV7()).String()
				title := fmt.Sprintf("crash %d/%d", w, i)
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				resp, err := leads.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: newLead(title), RequestId: rid})
				cancel()
				if err != nil {
					continue // the node is gone; unacknowledged creates may or may not exist
				}
				mu.Lock()
				acked[rid] = ack{resp.GetLead().GetId(), title}
				mu.Unlock()
			}
		}(w)
	}
	<-stop
	wg.Wait()
	return acked
}

// TestCrash_SIGKILLLosesNothingAcknowledged kills the node process while
// clients create leads, restarts it, and checks that every acknowledged
// create is there, the database is intact and the audit chain verifies.
func TestCrash_SIGKILLLosesNothingAcknowledged(t *testing.T) {
	pki := nodetest.NewPKI(t, "alpha", "bravo")
	dir := t.TempDir()
	cfg := pki.Config("alpha", dir, "bravo")
	cfg.Listen = nodetest.FreeAddr(t)
	cfg.Database.Synchronous = "full" // the production default
	var stderr bytes.Buffer
	p := nodetest.StartProcess(t, pki, cfg, &stderr)

	conn := nodetest.Dial(t, pki, cfg.Listen, "alpha", "analyst", "alpha")
	leads := liaisonv1.NewLeadServiceClient(conn)
	stop := make(chan struct{})
	var acked map[string]ack
	done := make(chan struct{})
	go func() { acked = createUntilStopped(t, leads, stop); close(done) }()

	time.Sleep(1500 * time.Millisecond)
	p.Kill(t) // SIGKILL in the middle of the writes
	close(stop)
	<-done
	if len(acked) < 50 {
		t.Fatalf("only %d creates acknowledged before the kill; the test needs load to mean anything", len(acked))
	}

	nodetest.StartProcess(t, pki, cfg, &stderr)
	for rid, a := range acked {
		got, err := leads.GetLead(context.Background(), &liaisonv1.GetLeadRequest{Id: a.id})
		if err != nil {
			t.Fatalf("acknowledged lead %s (request %s) lost after SIGKILL: %v", a.id, rid, err)
		}
		if got.GetLead().GetTitle() != a.title {
			t.Fatalf("lead %s read back with title %q, want %q", a.id, got.GetLead().GetTitle(), a.title)
		}
		// A client retrying an acknowledged create gets the same lead back.
		retry, err := leads.CreateLead(context.Background(), &liaisonv1.CreateLeadRequest{Lead: newLead(a.title), RequestId: rid})
		if err != nil || retry.GetLead().GetId() != a.id {
			t.Fatalf("retry of acknowledged request %s: lead %q, err %v; want %s", rid, retry.GetLead().GetId(), err, a.id)
		}
	}
	t.Logf("%d creates acknowledged before SIGKILL, all present after restart", len(acked))

	audited := auditorVerify(t, pki, cfg.Listen)
	if !audited.GetOk() {
		t.Fatalf("audit chain broken after crash: %v", audited)
	}
	checkIntegrity(t, cfg.Database.Path)
}

// TestShutdown_SIGTERMFinishesInFlight stops the node with SIGTERM under
// load: it exits cleanly, and nothing acknowledged is lost.
func TestShutdown_SIGTERMFinishesInFlight(t *testing.T) {
	pki := nodetest.NewPKI(t, "alpha", "bravo")
	cfg := pki.Config("alpha", t.TempDir(), "bravo")
	cfg.Listen = nodetest.FreeAddr(t)
	var stderr bytes.Buffer
	p := nodetest.StartProcess(t, pki, cfg, &stderr)
	leads := liaisonv1.NewLeadServiceClient(nodetest.Dial(t, pki, cfg.Listen, "alpha", "analyst", "alpha"))
	stop := make(chan struct{})
	var acked map[string]ack
	done := make(chan struct{})
	go func() { acked = createUntilStopped(t, leads, stop); close(done) }()
	time.Sleep(time.Second)
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- p.Cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("node exited with %v after SIGTERM; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("node did not exit within 30s of SIGTERM")
	}
	close(stop)
	<-done
	checkIntegrity(t, cfg.Database.Path)

	nodetest.StartProcess(t, pki, cfg, &stderr)
	for _, a := range acked {
		if _, err := leads.GetLead(context.Background(), &liaisonv1.GetLeadRequest{Id: a.id}); err != nil {
			t.Fatalf("acknowledged lead %s lost across a graceful stop: %v", a.id, err)
		}
	}
	if res := auditorVerify(t, pki, cfg.Listen); !res.GetOk() {
		t.Fatalf("audit chain broken after graceful stop: %v", res)
	}
}

func auditorVerify(t *testing.T, pki *nodetest.PKI, addr string) *liaisonv1.VerifyAuditLogResponse {
	t.Helper()
	auditor := liaisonv1.NewAuditServiceClient(nodetest.Dial(t, pki, addr, "alpha", "auditor", "alpha"))
	res, err := auditor.VerifyAuditLog(context.Background(), &liaisonv1.VerifyAuditLogRequest{})
	if err != nil {
		t.Fatalf("verify audit log: %v", err)
	}
	return res
}

// checkIntegrity runs PRAGMA integrity_check on a database file.
func checkIntegrity(t *testing.T, path string) {
	t.Helper()
	r, err := store.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	problems, err := r.IntegrityCheck(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) > 0 {
		t.Fatalf("integrity_check: %s", strings.Join(problems, "; "))
	}
}
