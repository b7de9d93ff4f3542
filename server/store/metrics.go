package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// Counts are what the metrics endpoint reads from the database at scrape
// time, all from one read snapshot.
type Counts struct {
	// Records counts leads, cases and manifests by kind ("lead", "case",
	// "manifest") and origin agency.
	Records map[RecordKey]int64
	// Leads counts leads by origin and status; LeadTombstones those whose
	// content is deleted, by origin.
	Leads          map[LeadKey]int64
	LeadTombstones map[string]int64
	// Outbox counts envelopes to each partner by receipt status
	// (RECEIPT_STATUS_UNSPECIFIED: no receipt yet); Inbox those from each
	// partner by what became of them.
	Outbox map[EnvelopeKey]int64
	Inbox  map[EnvelopeKey]int64
	// AuditChainLength is the sequence of the last audit event.
	AuditChainLength int64
}

// RecordKey is a kind of record and its origin agency.
type RecordKey struct{ Kind, Origin string }

// LeadKey is an origin agency and a lead status.
type LeadKey struct {
	Origin string
	Status liaisonv1.LeadStatus
}

// EnvelopeKey is a partner and a receipt status.
type EnvelopeKey struct {
	Partner string
	Status  liaisonv1.ReceiptStatus
}

// Counts reads the counts in one read transaction, so they agree with each
// other. Each is a GROUP BY over an index or a small table.
func (s *Store) Counts(ctx context.Context) (c Counts, err error) {
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return c, fmt.Errorf("count records: %w", err)
	}
	defer tx.Rollback()
	q := s.rq.WithTx(tx)
	c = Counts{
		Records: map[RecordKey]int64{}, Leads: map[LeadKey]int64{}, LeadTombstones: map[string]int64{},
		Outbox: map[EnvelopeKey]int64{}, Inbox: map[EnvelopeKey]int64{},
	}
	leads, err := q.CountLeads(ctx)
	if err != nil {
		return c, fmt.Errorf("count leads: %w", err)
	}
	for _, r := range leads {
		c.Records[RecordKey{"lead", r.OriginAgency}] += r.N
		c.Leads[LeadKey{r.OriginAgency, liaisonv1.LeadStatus(r.Status)}] += r.N
		if r.Tombstone != 0 {
			c.LeadTombstones[r.OriginAgency] += r.N
		}
	}
	cases, err := q.CountCases(ctx)
	if err != nil {
		return c, fmt.Errorf("count cases: %w", err)
	}
	for _, r := range cases {
		c.Records[RecordKey{"case", r.OriginAgency}] += r.N
	}
	manifests, err := q.CountManifests(ctx)
	if err != nil {
		return c, fmt.Errorf("count manifests: %w", err)
	}
	for _, r := range manifests {
		c.Records[RecordKey{"manifest", r.OriginAgency}] += r.N
	}
	out, err := q.CountOutbox(ctx)
	if err != nil {
		return c, fmt.Errorf("count outbox: %w", err)
	}
	for _, r := range out {
		c.Outbox[EnvelopeKey{r.Partner, liaisonv1.ReceiptStatus(r.ReceiptStatus)}] += r.N
	}
	in, err := q.CountInbox(ctx)
	if err != nil {
		return c, fmt.Errorf("count inbox: %w", err)
	}
	for _, r := range in {
		c.Inbox[EnvelopeKey{r.Sender, liaisonv1.ReceiptStatus(r.Status)}] += r.N
	}
	head, err := q.GetAuditHead(ctx)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return c, fmt.Errorf("read audit head: %w", err)
	default:
		c.AuditChainLength = head.Seq
	}
	return c, nil
}

// Size is the size in bytes of the database file and of its write-ahead
// log (0 when there is none, e.g. right after a checkpoint on close).
func (s *Store) Size() (file, wal int64, err error) {
	fi, err := os.Stat(s.path)
	if err != nil {
		return 0, 0, fmt.Errorf("database size: %w", err)
	}
	wi, err := os.Stat(s.path + "-wal")
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fi.Size(), 0, nil
	case err != nil:
		return 0, 0, fmt.Errorf("database size: %w", err)
	}
	return fi.Size(), wi.Size(), nil
}
