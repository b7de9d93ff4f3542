package nodetest

import (
	"database/sql"
	"net/url"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/store"
)

// RewriteAuditLog plays an insider with write access to a stopped node's
// database file: it reads the audit events, lets edit change, drop or add
// to them, and writes the log back with everything the node stores about
// it recomputed to match — sequence numbers, chain hashes, the head row,
// salts and content hashes, the whole Merkle tree. Only what the insider
// cannot recompute (signatures of keys it does not hold) is left as it
// was; checkpoints, and how far partners cosigned them, are kept unless
// dropCheckpoints.
func RewriteAuditLog(t testing.TB, path string, dropCheckpoints bool, edit func([]audit.Event) []audit.Event) {
	t.Helper()
	d, err := sql.Open("sqlite3", store.FileURI(path, url.Values{"_busy_timeout": {"5000"}}))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rows, err := d.Query(`SELECT seq, time, agency, principal, role, action, resource, outcome, request_id, detail, salt FROM audit_events ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	var events []audit.Event
	salts := map[int64][]byte{} // the insider keeps the salts of events it leaves in place
	for rows.Next() {
		var e audit.Event
		var at int64
		var salt []byte
		if err := rows.Scan(&e.Seq, &at, &e.Agency, &e.Principal, &e.Role, &e.Action, &e.Resource, &e.Outcome, &e.RequestID, &e.Detail, &salt); err != nil {
			t.Fatal(err)
		}
		salts[e.Seq] = salt
		e.Time = time.UnixMicro(at)
		events = append(events, e)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	recs, err := d.Query(`SELECT seq, record_id FROM audit_records ORDER BY seq, record_id`)
	if err != nil {
		t.Fatal(err)
	}
	for recs.Next() {
		var seq int64
		var id string
		if err := recs.Scan(&seq, &id); err != nil {
			t.Fatal(err)
		}
		events[seq-1].Records = append(events[seq-1].Records, id)
	}
	if err := recs.Close(); err != nil {
		t.Fatal(err)
	}
	events = edit(events)

	tx, err := d.Begin()
	if err != nil {
		t.Fatal(err)
	}
	must := func(_ sql.Result, err error) {
		t.Helper()
		if err != nil {
			tx.Rollback()
			t.Fatal(err)
		}
	}
	must(tx.Exec(`DELETE FROM audit_records`))
	must(tx.Exec(`DELETE FROM audit_events`))
	must(tx.Exec(`DELETE FROM audit_tree`))
	if dropCheckpoints {
		// With the checkpoints goes the record of how far partners
		// cosigned them: the log then has nothing left that disagrees.
		must(tx.Exec(`DELETE FROM audit_checkpoints`))
		must(tx.Exec(`DELETE FROM audit_witnesses`))
	}
	tree := audit.NewTreeCheck()
	prev := audit.Genesis
	for i := range events {
		e := &events[i]
		salt, ok := salts[e.Seq]
		if !ok || e.Seq != int64(i+1) {
			salt = audit.NewSalt()
		}
		e.Seq = int64(i + 1)
		e.Hash = audit.ChainHash(prev, e)
		prev = e.Hash
		c := audit.ContentHash(salt, e)
		must(tx.Exec(`INSERT INTO audit_events (seq, time, agency, principal, role, action, resource, outcome, request_id, detail, hash, salt, content_hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.Seq, e.Time.UnixMicro(), e.Agency, e.Principal, e.Role, e.Action, e.Resource, e.Outcome, e.RequestID, e.Detail, e.Hash, salt, c))
		for _, id := range e.Records {
			must(tx.Exec(`INSERT INTO audit_records (record_id, seq) VALUES (?, ?)`, id, e.Seq))
		}
		hs, err := tlog.StoredHashes(int64(i), c, tree)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Append(c); err != nil {
			t.Fatal(err)
		}
		base := tlog.StoredHashIndex(0, int64(i))
		for k, h := range hs {
			must(tx.Exec(`INSERT INTO audit_tree (id, hash) VALUES (?, ?)`, base+int64(k), h[:]))
		}
	}
	must(tx.Exec(`DELETE FROM audit_head`))
	if len(events) > 0 {
		must(tx.Exec(`INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?)`, len(events), prev))
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}
