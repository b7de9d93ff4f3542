package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/liaison-exchange/liaison/certs"
	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/federation"
	"github.com/liaison-exchange/liaison/server/nodetest"
	"github.com/liaison-exchange/liaison/server/store"
)

// fvReleased is what bravo received from alpha in fvPair: leads released
// to it, one of them withdrawn since.
type fvReleased struct {
	config    string // bravo's config file
	db        string // bravo's database file (nodes stopped)
	leads     []string
	withdrawn string
	envelopes int64
}

// fvPair runs alpha and bravo, has alpha release five leads to bravo and
// withdraw one, waits until bravo applied everything and stops both.
func fvPair(t *testing.T) fvReleased {
	t.Helper()
	alpha, bravo := nodetest.Pair(t, nil)
	ctx := context.Background()
	analyst := liaisonv1.NewLeadServiceClient(alpha.Conn(t, "analyst"))
	supervisor := liaisonv1.NewLeadServiceClient(alpha.Conn(t, "supervisor"))
	var r fvReleased
	for i := 0; i < 5; i++ {
		c, err := analyst.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: &liaisonv1.Lead{
			Title: fmt.Sprintf("verify me %d", i), Summary: "s", CrimeAreas: []liaisonv1.CrimeArea{liaisonv1.CrimeArea_CRIME_AREA_MIGRANT_SMUGGLING},
			Evaluation: &liaisonv1.Evaluation{SourceReliability: 1, InformationAccuracy: 1},
			Handling:   &liaisonv1.Handling{Code: liaisonv1.HandlingCode_HANDLING_CODE_H0},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := supervisor.ReleaseLead(ctx, &liaisonv1.ReleaseLeadRequest{Id: c.GetLead().GetId(), Partners: []string{"bravo"}}); err != nil {
			t.Fatal(err)
		}
		r.leads = append(r.leads, c.GetLead().GetId())
	}
	r.withdrawn = r.leads[1]
	if _, err := supervisor.WithdrawLead(ctx, &liaisonv1.WithdrawLeadRequest{Id: r.withdrawn, Reason: "source burned"}); err != nil {
		t.Fatal(err)
	}
	r.envelopes = 6 // five releases and a withdrawal
	admin := liaisonv1.NewFederationAdminServiceClient(alpha.Conn(t, "supervisor"))
	nodetest.Eventually(t, 10*time.Second, func() error {
		s, err := admin.GetFederationStatus(ctx, &liaisonv1.GetFederationStatusRequest{})
		if err != nil {
			return err
		}
		if got := s.GetPartners()[0].GetLastSequenceApplied(); got != uint64(r.envelopes) {
			return fmt.Errorf("bravo applied %d of alpha's envelopes, want %d", got, r.envelopes)
		}
		return nil
	})
	bravo.Stop(t)
	alpha.Stop(t)
	r.db = bravo.Cfg.Database.Path
	r.config = nodetest.WriteConfig(t, t.TempDir(), bravo.Cfg)
	return r
}

// fvRun runs `liaison federation verify` with args after the command.
func fvRun(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), append([]string{"federation", "verify"}, args...), &out)
	return out.String(), err
}

// fvCopy copies a stopped node's database (and any WAL left) to a new
// file, so each case tampers with its own copy.
func fvCopy(t *testing.T, db string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(db + suffix)
		if errors.Is(err, os.ErrNotExist) && suffix != "" {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func fvOpen(t *testing.T, db string) *sql.DB {
	t.Helper()
	d, err := sql.Open("sqlite3", "file:"+db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// fvExec runs a statement that must change exactly one row.
func fvExec(t *testing.T, d *sql.DB, stmt string, args ...any) {
	t.Helper()
	res, err := d.Exec(stmt, args...)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("%s changed %d rows, want 1", stmt, n)
	}
}

// fvInboxRow is a row of bravo's inbox.
type fvInboxRow struct {
	seq        int64
	envelopeID string
	batchID    int64
	envelope   []byte
}

func fvInbox(t *testing.T, d *sql.DB) []fvInboxRow {
	t.Helper()
	rows, err := d.Query("SELECT seq, envelope_id, batch_id, envelope FROM inbox WHERE sender = 'alpha' ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []fvInboxRow
	for rows.Next() {
		var r fvInboxRow
		if err := rows.Scan(&r.seq, &r.envelopeID, &r.batchID, &r.envelope); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

var fvNotVerified = regexp.MustCompile(`NOT VERIFIED: envelope (\S+), sequence (\d+) from alpha: (.*)`)

// fvFailures runs verify on db, expects exit status 2 and returns the
// envelopes named as not verified, with their problems.
func fvFailures(t *testing.T, config, db string) map[string]string {
	t.Helper()
	out, err := fvRun(t, "--config", config, "--db", db)
	var code exitError
	if !errors.As(err, &code) || code != 2 {
		t.Fatalf("verify of a tampered inbox: err %v, want exit status 2; output:\n%s", err, out)
	}
	t.Logf("verify output:\n%s", out)
	got := map[string]string{}
	for _, m := range fvNotVerified.FindAllStringSubmatch(out, -1) {
		got[m[1]] = m[3]
	}
	if !strings.Contains(out, fmt.Sprintf("%d do NOT verify", len(got))) {
		t.Errorf("summary does not count the %d failures:\n%s", len(got), out)
	}
	return got
}

func TestFederationVerify(t *testing.T) {
	r := fvPair(t)

	t.Run("untouched inbox verifies", func(t *testing.T) {
		out, err := fvRun(t, "--config", r.config)
		if err != nil {
			t.Fatalf("verify: %v\n%s", err, out)
		}
		want := fmt.Sprintf("%d envelopes checked: %d in full, 1 by leaf hash only (content withdrawn)", r.envelopes, r.envelopes-1)
		t.Logf("verify output: %s", out)
		if !strings.Contains(out, want) || strings.Contains(out, "NOT VERIFIED") {
			t.Fatalf("verify output %q, want %q", out, want)
		}
		// The withdrawn lead's release is the one kept by hash only.
		d := fvOpen(t, r.db)
		var n int64
		if err := d.QueryRow("SELECT count(*) FROM inbox WHERE record_id = ? AND kind = 1 AND envelope IS NULL", r.withdrawn).Scan(&n); err != nil || n != 1 {
			t.Fatalf("withdrawn lead's release kept with content: %d %v", n, err)
		}
	})

	t.Run("envelope bytes changed", func(t *testing.T) {
		db := fvCopy(t, r.db)
		d := fvOpen(t, db)
		var target fvInboxRow
		for _, row := range fvInbox(t, d) {
			if row.envelope != nil && row.seq > 1 {
				target = row
				break
			}
		}
		changed := append([]byte(nil), target.envelope...)
		changed[len(changed)/2] ^= 0x01
		fvExec(t, d, "UPDATE inbox SET envelope = ? WHERE sender = 'alpha' AND seq = ?", changed, target.seq)
		got := fvFailures(t, r.config, db)
		if len(got) != 1 || !strings.Contains(got[target.envelopeID], "changed after receipt") {
			t.Fatalf("failures %v, want only envelope %s (seq %d), changed after receipt", got, target.envelopeID, target.seq)
		}
	})

	t.Run("envelope and leaf hash changed together", func(t *testing.T) {
		db := fvCopy(t, r.db)
		d := fvOpen(t, db)
		target := fvInbox(t, d)[0]
		changed := append([]byte(nil), target.envelope...)
		changed[len(changed)-1] ^= 0x01
		fvExec(t, d, "UPDATE inbox SET envelope = ?, leaf_hash = ? WHERE sender = 'alpha' AND seq = ?", changed, federation.LeafHash(changed), target.seq)
		got := fvFailures(t, r.config, db)
		if len(got) != 1 || !strings.Contains(got[target.envelopeID], "Merkle proof") {
			t.Fatalf("failures %v, want only envelope %s, whose proof no longer leads to the root", got, target.envelopeID)
		}
	})

	t.Run("leaf hash of withdrawn content changed", func(t *testing.T) {
		db := fvCopy(t, r.db)
		d := fvOpen(t, db)
		var target fvInboxRow
		for _, row := range fvInbox(t, d) {
			if row.envelope == nil {
				target = row
			}
		}
		fvExec(t, d, "UPDATE inbox SET leaf_hash = zeroblob(32) WHERE sender = 'alpha' AND seq = ?", target.seq)
		got := fvFailures(t, r.config, db)
		if len(got) != 1 || got[target.envelopeID] == "" {
			t.Fatalf("failures %v, want only the withdrawn envelope %s", got, target.envelopeID)
		}
	})

	t.Run("batch signature changed", func(t *testing.T) {
		db := fvCopy(t, r.db)
		d := fvOpen(t, db)
		rows := fvInbox(t, d)
		batch := rows[len(rows)/2].batchID
		var sig []byte
		if err := d.QueryRow("SELECT signature FROM inbox_batches WHERE id = ?", batch).Scan(&sig); err != nil {
			t.Fatal(err)
		}
		sig[len(sig)-1] ^= 0x01
		fvExec(t, d, "UPDATE inbox_batches SET signature = ? WHERE id = ?", sig, batch)
		want := map[string]bool{}
		for _, row := range rows {
			if row.batchID == batch {
				want[row.envelopeID] = true
			}
		}
		got := fvFailures(t, r.config, db)
		if len(got) != len(want) {
			t.Fatalf("%d envelopes fail, want the %d of batch %d: %v", len(got), len(want), batch, got)
		}
		for id, problem := range got {
			if !want[id] || !strings.Contains(problem, "batch signature") {
				t.Errorf("envelope %s: %q; want only batch %d's envelopes, failing on the batch signature", id, problem, batch)
			}
		}
	})

	t.Run("batch re-signed by an impostor CA", func(t *testing.T) {
		// Someone with write access to the file re-signs a batch with a
		// key of their own, under a certificate naming alpha's node: the
		// CA comes from the configuration, so it does not verify.
		db := fvCopy(t, r.db)
		d := fvOpen(t, db)
		rows := fvInbox(t, d)
		batch := rows[0].batchID
		var root []byte
		if err := d.QueryRow("SELECT merkle_root FROM inbox_batches WHERE id = ?", batch).Scan(&root); err != nil {
			t.Fatal(err)
		}
		ca, err := certs.NewCA("alpha")
		if err != nil {
			t.Fatal(err)
		}
		node, err := ca.IssueNode("alpha")
		if err != nil {
			t.Fatal(err)
		}
		sig, err := federation.SignRoot(node.Key, "alpha", "bravo", root)
		if err != nil {
			t.Fatal(err)
		}
		fvExec(t, d, "UPDATE inbox_batches SET signature = ?, signer_chain = ? WHERE id = ?", sig, store.JoinDER([][]byte{node.Cert.Raw, ca.Cert.Raw}), batch)
		got := fvFailures(t, r.config, db)
		if !strings.Contains(got[rows[0].envelopeID], "does not chain") {
			t.Fatalf("failures %v, want envelope %s failing: does not chain to alpha's CA", got, rows[0].envelopeID)
		}
	})

	t.Run("Merkle root of a batch changed", func(t *testing.T) {
		db := fvCopy(t, r.db)
		d := fvOpen(t, db)
		rows := fvInbox(t, d)
		fvExec(t, d, "UPDATE inbox_batches SET merkle_root = zeroblob(32) WHERE id = ?", rows[0].batchID)
		if got := fvFailures(t, r.config, db); got[rows[0].envelopeID] == "" {
			t.Fatalf("failures %v, want envelope %s", got, rows[0].envelopeID)
		}
	})

	t.Run("config without the sender as partner", func(t *testing.T) {
		b, err := os.ReadFile(r.config)
		if err != nil {
			t.Fatal(err)
		}
		cfg := strings.Replace(string(b), "agency: alpha", "agency: delta", 1)
		path := filepath.Join(t.TempDir(), "no-alpha.yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		got := fvFailures(t, path, r.db)
		if int64(len(got)) != r.envelopes {
			t.Fatalf("%d envelopes fail, want all %d: their sender is no partner in the config", len(got), r.envelopes)
		}
	})

	t.Run("usage errors are not verification failures", func(t *testing.T) {
		for _, args := range [][]string{
			{},
			{"--config", filepath.Join(t.TempDir(), "missing.yaml")},
			{"--config", r.config, "--db", filepath.Join(t.TempDir(), "missing.db")},
		} {
			out, err := fvRun(t, args...)
			var code exitError
			if err == nil || errors.As(err, &code) {
				t.Errorf("verify %q: err %v (output %q), want an error other than exit status 2", args, err, out)
			}
		}
	})
}

// TestFederationVerify_FindsEditedRows changes what an inbox row says
// about its envelope, or deletes a row, keeping every stored hash and
// signature intact: the inbox no longer says what was received, and
// verification must say so.
func TestFederationVerify_FindsEditedRows(t *testing.T) {
	r := fvPair(t)
	t.Run("record id of a row changed", func(t *testing.T) {
		db := fvCopy(t, r.db)
		d := fvOpen(t, db)
		rows := fvInbox(t, d)
		fvExec(t, d, "UPDATE inbox SET record_id = ? WHERE sender = 'alpha' AND seq = ?", r.leads[4], rows[0].seq)
		out, err := fvRun(t, "--config", r.config, "--db", db)
		if err == nil {
			t.Errorf("inbox row %d now names lead %s, but its signed envelope carries another: verify passed:\n%s", rows[0].seq, r.leads[4], out)
		}
	})
	t.Run("two rows' envelopes swapped", func(t *testing.T) {
		db := fvCopy(t, r.db)
		d := fvOpen(t, db)
		rows := fvInbox(t, d)
		a, b := rows[2], rows[3]
		swap := "UPDATE inbox SET envelope = (SELECT envelope FROM inbox WHERE sender = 'alpha' AND seq = ?), leaf_hash = (SELECT leaf_hash FROM inbox WHERE sender = 'alpha' AND seq = ?), proof = (SELECT proof FROM inbox WHERE sender = 'alpha' AND seq = ?), batch_id = ? WHERE sender = 'alpha' AND seq = ?"
		tx, err := d.Begin()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec("CREATE TEMP TABLE keep AS SELECT * FROM inbox WHERE sender = 'alpha' AND seq IN (?, ?)", a.seq, b.seq); err != nil {
			t.Fatal(err)
		}
		swapFrom := strings.ReplaceAll(swap, "FROM inbox WHERE", "FROM keep WHERE")
		if _, err := tx.Exec(swapFrom, b.seq, b.seq, b.seq, b.batchID, a.seq); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(swapFrom, a.seq, a.seq, a.seq, a.batchID, b.seq); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		out, err := fvRun(t, "--config", r.config, "--db", db)
		if err == nil {
			t.Errorf("inbox rows %d and %d hold each other's envelopes, yet verify passed:\n%s", a.seq, b.seq, out)
		}
	})
	t.Run("a row deleted", func(t *testing.T) {
		db := fvCopy(t, r.db)
		d := fvOpen(t, db)
		fvExec(t, d, "DELETE FROM inbox WHERE sender = 'alpha' AND seq = 3")
		out, err := fvRun(t, "--config", r.config, "--db", db)
		if err == nil {
			t.Errorf("sequence 3 of the channel from alpha was deleted from the inbox, yet verify passed:\n%s", out)
		}
	})
}
