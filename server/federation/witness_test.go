package federation

import (
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/store"
)

// memTree is an audit tree in memory (audit.TreeCheck), with checkpoints
// signed by a log key.
type memTree struct {
	*audit.TreeCheck
	signer note.Signer
}

func newMemTree(t *testing.T, skey string, leaves ...string) *memTree {
	t.Helper()
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	m := &memTree{audit.NewTreeCheck(), s}
	m.add(t, leaves...)
	return m
}

func (m *memTree) add(t *testing.T, leaves ...string) {
	for _, l := range leaves {
		if err := m.Append([]byte(l)); err != nil {
			t.Fatal(err)
		}
	}
}

func (m *memTree) checkpoint(t *testing.T, size int64) ([]byte, tlog.Hash) {
	t.Helper()
	root, err := m.Root(size)
	if err != nil {
		t.Fatal(err)
	}
	text, err := audit.SignCheckpoint("alpha.liaison.test/audit", size, root, m.signer)
	if err != nil {
		t.Fatal(err)
	}
	return text, root
}

func (m *memTree) proof(t *testing.T, n, old int64) [][]byte {
	t.Helper()
	p, err := tlog.ProveTree(n, old, m)
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]byte, len(p))
	for i := range p {
		out[i] = p[i][:]
	}
	return out
}

// TestCheckAgainstWitnessed: what the witness cosigns, what it sends back
// to be proven from its own size, and what raises a fork alarm.
func TestCheckAgainstWitnessed(t *testing.T) {
	t.Parallel()
	skey, vkey, err := audit.GenerateKey("alpha.liaison.test")
	if err != nil {
		t.Fatal(err)
	}
	otherKey, _, err := audit.GenerateKey("alpha.liaison.test")
	if err != nil {
		t.Fatal(err)
	}
	lg := witnessedLog{origin: "alpha.liaison.test/audit", vkey: vkey}
	log := newMemTree(t, skey, "e1", "e2", "e3", "e4", "e5")
	cp5, root5 := log.checkpoint(t, 5)
	w5 := store.Witnessed{Partner: "alpha", Size: 5, Root: root5, Note: cp5}
	log.add(t, "e6", "e7")
	cp7, _ := log.checkpoint(t, 7)
	cp3, _ := log.checkpoint(t, 3)
	// The insider's: e3 edited, then grown; and the same size as witnessed.
	forged := newMemTree(t, skey, "e1", "e2", "e3 (edited)", "e4", "e5", "e6", "e7")
	forged7, _ := forged.checkpoint(t, 7)
	forged5, _ := forged.checkpoint(t, 5)
	alien := newMemTree(t, otherKey, "e1")
	alien1, _ := alien.checkpoint(t, 1)

	for _, tc := range []struct {
		name  string
		req   *liaisonv1.CosignRequest
		have  bool
		alarm string // "" : none
		retry bool
	}{
		{name: "FirstOnTrust", req: &liaisonv1.CosignRequest{Checkpoint: cp5}},
		{name: "Grown", req: &liaisonv1.CosignRequest{Checkpoint: cp7, OldSize: 5, Proof: log.proof(t, 7, 5)}, have: true},
		{name: "SameAgain", req: &liaisonv1.CosignRequest{Checkpoint: cp5, OldSize: 5}, have: true},
		{name: "ProofFromElsewhere", req: &liaisonv1.CosignRequest{Checkpoint: cp7, OldSize: 3, Proof: log.proof(t, 7, 3)}, have: true, retry: true},
		{name: "Truncated", req: &liaisonv1.CosignRequest{Checkpoint: cp3, OldSize: 5}, have: true, alarm: "fewer than the 5 already witnessed"},
		{name: "SameSizeOtherRoot", req: &liaisonv1.CosignRequest{Checkpoint: forged5, OldSize: 5}, have: true, alarm: "has root"},
		{name: "Rewritten", req: &liaisonv1.CosignRequest{Checkpoint: forged7, OldSize: 5, Proof: forged.proof(t, 7, 5)}, have: true, alarm: "not consistent"},
		{name: "NoProof", req: &liaisonv1.CosignRequest{Checkpoint: cp7, OldSize: 5}, have: true, alarm: "not consistent"},
		{name: "OtherKey", req: &liaisonv1.CosignRequest{Checkpoint: alien1}, alarm: "does not verify"},
		{name: "Garbage", req: &liaisonv1.CosignRequest{Checkpoint: []byte("alpha.liaison.test/audit\n7\n")}, have: true, alarm: "does not verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := store.Witnessed{}
			if tc.have {
				w = w5
			}
			_, reason, retry := checkAgainstWitnessed(tc.req, lg, w, tc.have)
			if retry != tc.retry {
				t.Errorf("retry %v, want %v", retry, tc.retry)
			}
			if tc.alarm == "" && reason != "" || tc.alarm != "" && !strings.Contains(reason, tc.alarm) {
				t.Errorf("alarm %q, want one saying %q", reason, tc.alarm)
			}
		})
	}
}
