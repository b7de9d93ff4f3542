package store_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/auditsvc"
	"github.com/liaison-exchange/liaison/server/nodetest"
	"github.com/liaison-exchange/liaison/server/store"
)

// treeLog is a store with n audit events and a signed checkpoint after
// each size in cps.
func treeLog(t *testing.T, n int, cps ...int) (path string, o store.VerifyOptions) {
	t.Helper()
	ctx := context.Background()
	path = filepath.Join(t.TempDir(), "alpha.db")
	s, err := store.Open(ctx, path, store.Options{Agency: "alpha"})
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey, err := audit.GenerateKey("alpha.liaison.test")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	origin := audit.Origin("alpha.liaison.test")
	for i := 1; i <= n; i++ {
		if err := s.AppendAudit(ctx, audit.Event{Principal: "p", Action: "a", Resource: fmt.Sprintf("leads/%d", i), Outcome: "OK", Detail: "search \"Chen Wei\""}); err != nil {
			t.Fatal(err)
		}
		for _, c := range cps {
			if c == i {
				if _, _, err := s.MakeCheckpoint(ctx, origin, signer); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path, store.VerifyOptions{Origin: origin, Keys: audit.Keys{Log: vkey}}
}

func verify(t *testing.T, path string, o store.VerifyOptions) audit.Result {
	t.Helper()
	ro, err := store.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	r, err := ro.VerifyAudit(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestAuditTree_CleanLogMatchesItsCheckpoints(t *testing.T) {
	path, o := treeLog(t, 40, 10, 25, 40)
	r := verify(t, path, o)
	if !r.OK || r.Checked != 40 || r.Checkpoints != 3 || r.CheckpointAt != 40 {
		t.Fatalf("clean log: %+v", r)
	}
}

// An insider deletes the last events and recomputes everything the node
// stores: the checkpoint the log signed before still names the first
// missing event.
func TestAuditTree_TruncationNamesTheFirstMissingEvent(t *testing.T) {
	path, o := treeLog(t, 40, 10, 40)
	nodetest.RewriteAuditLog(t, path, false, func(es []audit.Event) []audit.Event { return es[:35] })
	if r := verify(t, path, store.VerifyOptions{}); !r.OK {
		t.Fatalf("the rewritten chain should pass on its own (that is the attack): %+v", r)
	}
	r := verify(t, path, o)
	if r.OK || r.FirstBad != 36 || r.Through != 40 || !strings.Contains(r.Problem, "missing") {
		t.Fatalf("truncated log: %+v; want events 36 to 40 missing", r)
	}
}

// An insider edits one event and recomputes every hash: the first
// checkpoint after it no longer matches, and the last one before it still
// does, which bounds where the edit is.
func TestAuditTree_RewriteIsFoundBetweenCheckpoints(t *testing.T) {
	path, o := treeLog(t, 40, 10, 20, 30, 40)
	nodetest.RewriteAuditLog(t, path, false, func(es []audit.Event) []audit.Event {
		es[14].Detail = "nothing to see"
		return es
	})
	if r := verify(t, path, store.VerifyOptions{}); !r.OK {
		t.Fatalf("the rewritten chain should pass on its own (that is the attack): %+v", r)
	}
	r := verify(t, path, o)
	if r.OK || r.FirstBad != 11 || r.Through != 20 {
		t.Fatalf("rewritten log: %+v; want the edit placed in events 11 to 20", r)
	}
}

// Editing an event without recomputing its content hash names it exactly.
func TestAuditTree_EditedEventNamedExactly(t *testing.T) {
	path, o := treeLog(t, 20, 20)
	db := openRW(t, path)
	if _, err := db.Exec(`UPDATE audit_events SET detail = 'changed' WHERE seq = 7`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if r := verify(t, path, o); r.OK || r.FirstBad != 7 {
		t.Fatalf("edited event: %+v; want event 7 named", r)
	}
}

func openRW(t *testing.T, path string) *sql.DB {
	t.Helper()
	d, err := sql.Open("sqlite3", store.FileURI(path, url.Values{"_busy_timeout": {"5000"}}))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The detail of a search, once erased, is gone from the database file,
// while the log still verifies against its checkpoints and the event's
// evidence still checks.
func TestAuditTree_ErasedContentGoneProofsStay(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "alpha.db")
	now := time.Now()
	clock := func() time.Time { return now }
	s, err := store.Open(ctx, path, store.Options{Agency: "alpha", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	skey, vkey, err := audit.GenerateKey("alpha.liaison.test")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	origin := audit.Origin("alpha.liaison.test")
	const secret = "Somchai Rattanakorn 1987-03-02"
	for i := range 30 {
		e := audit.Event{Principal: "p", Action: "/liaison.v1.LeadService/GetLead", Resource: "leads/x", Outcome: "OK"}
		if i == 12 {
			e.Action, e.Resource, e.Detail = "/liaison.v1.SearchService/SearchPersons", "persons", secret
		}
		if err := s.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.MakeCheckpoint(ctx, origin, signer); err != nil {
		t.Fatal(err)
	}
	contains := func() bool {
		t.Helper()
		for _, f := range []string{path, path + "-wal"} {
			b, err := os.ReadFile(f)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(secret)) {
				return true
			}
		}
		return false
	}
	if !contains() {
		t.Fatal("the search terms are not in the file before erasure: the test would prove nothing")
	}
	if n, err := s.EraseAuditContent(ctx, now.Add(time.Second)); err != nil || n != 1 {
		t.Fatalf("erased %d, %v; want the one search", n, err)
	}
	if contains() {
		t.Error("the search terms are still in the database file after erasure")
	}
	o := store.VerifyOptions{Origin: origin, Keys: audit.Keys{Log: vkey}}
	if r, err := s.VerifyAudit(ctx, o); err != nil || !r.OK || r.CheckpointAt != 30 {
		t.Fatalf("verify after erasure: %+v %v", r, err)
	}
	ev, err := auditsvc.New(s, nil).ProveAuditEvent(ctx, &liaisonv1.ProveAuditEventRequest{Sequence: 13})
	if err != nil {
		t.Fatal(err)
	}
	if !ev.GetEvidence().GetErased() || ev.GetEvidence().GetEvent().GetDetail() != "" {
		t.Fatalf("evidence of the erased event: %v", ev.GetEvidence())
	}
	if _, err := auditsvc.CheckEvidence(ev.GetEvidence(), audit.Keys{Log: vkey}); err != nil {
		t.Fatalf("the erased event's evidence: %v", err)
	}
}
