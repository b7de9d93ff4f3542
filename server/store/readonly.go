package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"

	"github.com/liaison-exchange/liaison/gen/db"
	"github.com/liaison-exchange/liaison/server/audit"
)

// ReadOnly is a node's database file opened for offline inspection: `liaison
// audit verify`, `federation verify`, `federation receipt-proof`, the check
// of a backup, the bench's verification of what a node stored. It never
// migrates or writes the file, so it also reads a file of an older schema
// (an old backup), and works beside a running node (WAL: it reads the last
// commit). Its verbs are the reads those tools need; it hands out no
// queries.
type ReadOnly struct {
	path string
	d    *sql.DB
	q    *db.Queries
}

// OpenReadOnly opens the database file at path for offline inspection. A
// file that does not exist is an error (SQLite would create an empty one).
func OpenReadOnly(path string) (*ReadOnly, error) { return openReadOnly(path, connOffline) }

func openReadOnly(path string, mode connMode) (*ReadOnly, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open %w", err)
	}
	d, err := openDB(path, mode, "")
	if err != nil {
		return nil, err
	}
	if err := d.Ping(); err != nil {
		d.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &ReadOnly{path: path, d: d, q: db.New(d)}, nil
}

// Close closes the file.
func (r *ReadOnly) Close() error { return r.d.Close() }

// Path is the database file.
func (r *ReadOnly) Path() string { return r.path }

// VerifyAudit verifies the file's audit log (see Store.VerifyAudit and
// VerifyOptions).
func (r *ReadOnly) VerifyAudit(ctx context.Context, o VerifyOptions) (audit.Result, error) {
	return verifyAudit(ctx, r.q, o)
}

// SchemaVersion is the highest migration applied to the file (PRAGMA
// user_version); compare SchemaVersion(), this binary's.
func (r *ReadOnly) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := r.d.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// IntegrityCheck runs SQLite's PRAGMA integrity_check on the file and
// returns the problems it reports (at most 100), none if the file is sound.
func (r *ReadOnly) IntegrityCheck(ctx context.Context) ([]string, error) {
	rows, err := r.d.QueryContext(ctx, "PRAGMA integrity_check(100)")
	if err != nil {
		return nil, fmt.Errorf("integrity check: %w", err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("integrity check: %w", err)
		}
		lines = append(lines, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("integrity check: %w", err)
	}
	if len(lines) == 1 && lines[0] == "ok" {
		return nil, nil
	}
	if len(lines) == 0 {
		lines = []string{"integrity_check returned nothing"}
	}
	return lines, nil
}

// InChannel reads a partner's channel to the node (zero if it never sent
// anything).
func (r *ReadOnly) InChannel(ctx context.Context, sender string) (InChannel, error) {
	return inChannel(ctx, r.q, sender)
}

// InboxPage reads up to limit stored inbound envelopes after (sender, seq),
// in (sender, seq) order: start with ("", 0) and go on from the last one
// read.
func (r *ReadOnly) InboxPage(ctx context.Context, afterSender string, afterSeq int64, limit int) ([]StoredEnvelope, error) {
	return inboxPage(ctx, r.q, afterSender, afterSeq, limit)
}

// ReceiptProofs lists the envelopes sent to partner about a record, in
// order, with the partner's signed receipts.
func (r *ReadOnly) ReceiptProofs(ctx context.Context, partner, recordID string) ([]ReceiptProof, error) {
	return receiptProofs(ctx, r.q, partner, recordID)
}
