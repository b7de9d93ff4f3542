package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/liaison-exchange/liaison/gen/db"
	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// ExpiredLead is an own lead past its review date whose content is still
// held.
type ExpiredLead struct {
	Lead *liaisonv1.Lead
	// ReviewDate is the review date as stored (YYYY-MM-DD).
	ReviewDate string
}

// ExpiredCursor is where a listing of expired leads resumes.
type ExpiredCursor struct{ ReviewDate, ID string }

// ExpiredLeads lists up to limit leads of origin whose review date is
// before the day before (YYYY-MM-DD) and whose content is still held,
// oldest review date first, after the cursor (zero: from the start).
func (s *Store) ExpiredLeads(ctx context.Context, origin, before string, after ExpiredCursor, limit int) ([]ExpiredLead, error) {
	rows, err := s.rq.ExpiredLeads(ctx, db.ExpiredLeadsParams{
		OriginAgency: origin, Before: before, AfterDate: after.ReviewDate, AfterID: after.ID, PageLimit: int64(limit),
	})
	if err != nil {
		return nil, fmt.Errorf("list expired leads: %w", err)
	}
	out := make([]ExpiredLead, len(rows))
	for i, r := range rows {
		l := &liaisonv1.Lead{}
		if err := proto.Unmarshal(r.Body, l); err != nil {
			return nil, fmt.Errorf("decode lead %s: %w", r.ID, err)
		}
		l.Etag = Etag(l.GetId(), l.GetVersion())
		out[i] = ExpiredLead{Lead: l, ReviewDate: r.ReviewDate}
	}
	return out, nil
}

// CasesLinkingLead lists the cases that keep a lead from being purged
// (see Tx.CasesLinkingLead).
func (s *Store) CasesLinkingLead(ctx context.Context, leadID string) ([]CaseLink, error) {
	return casesLinkingLead(ctx, s.rq, leadID, s.opts.Agency)
}

// ExpiredLead reads, inside the transaction, a lead that is still an own
// lead of origin past its review date with its content held; nil if it no
// longer is (purged meanwhile, review date moved, or gone).
func (t *Tx) ExpiredLead(id, origin, before string) (*ExpiredLead, error) {
	r, err := t.q.GetExpiredLead(t.ctx, db.GetExpiredLeadParams{ID: id, OriginAgency: origin, Before: before})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read lead %s: %w", id, err)
	}
	l, err := decodeLead(r.ID, r.OriginAgency, r.Status, r.Version, r.CreateTime, r.UpdateTime, r.Body)
	if err != nil {
		return nil, err
	}
	return &ExpiredLead{Lead: l, ReviewDate: r.ReviewDate}, nil
}

// BlankDelivered removes the payload from the stored outbox envelopes of
// kind about a record that partners have receipted, keeping every other
// field (sequence, ids, version, receipt) for delivery history and drift
// checks. It returns how many it blanked and how many envelopes of that
// kind about the record are still without a receipt.
//
// Only receipted envelopes are touched: an envelope in flight may be sent
// again after a reconnect, and the receiver compares a resent envelope
// byte for byte with what it received (a difference is refused as a reused
// sequence). A receipted envelope is never sent again, because a relay
// resumes after the highest receipted sequence.
func (t *Tx) BlankDelivered(recordID string, kind liaisonv1.EnvelopeKind) (blanked, waiting int64, err error) {
	rows, err := t.q.DeliveredEnvelopesOfRecord(t.ctx, db.DeliveredEnvelopesOfRecordParams{RecordID: recordID, Kind: int64(kind)})
	if err != nil {
		return 0, 0, fmt.Errorf("read outbox of %s: %w", recordID, err)
	}
	for _, r := range rows {
		env := &liaisonv1.Envelope{}
		if err := proto.Unmarshal(r.Envelope, env); err != nil {
			return 0, 0, fmt.Errorf("decode outbox envelope %s/%d: %w", r.Partner, r.Seq, err)
		}
		if len(env.GetPayload()) == 0 {
			continue
		}
		env.Payload = nil
		b, err := marshalDet.Marshal(env)
		if err != nil {
			return 0, 0, err
		}
		if err := t.q.SetOutboxEnvelope(t.ctx, db.SetOutboxEnvelopeParams{Envelope: b, Partner: r.Partner, Seq: r.Seq}); err != nil {
			return 0, 0, fmt.Errorf("blank outbox envelope %s/%d: %w", r.Partner, r.Seq, err)
		}
		blanked++
	}
	waiting, err = t.q.UndeliveredEnvelopesOfRecord(t.ctx, db.UndeliveredEnvelopesOfRecordParams{RecordID: recordID, Kind: int64(kind)})
	if err != nil {
		return 0, 0, fmt.Errorf("count outbox of %s: %w", recordID, err)
	}
	return blanked, waiting, nil
}

// blankPendingPrefix keys, in the meta table, the purged records whose
// outbox envelopes were still in flight when they were purged: their
// payloads are blanked once receipted.
const blankPendingPrefix = "retention.blank_pending/"

// SetBlankPending records (or, with pending false, forgets) that a purged
// record still has envelopes in flight whose payload is to be blanked.
func (t *Tx) SetBlankPending(recordID string, pending bool) error {
	if !pending {
		return t.q.DeleteMeta(t.ctx, blankPendingPrefix+recordID)
	}
	return t.q.SetMeta(t.ctx, db.SetMetaParams{Key: blankPendingPrefix + recordID, Value: t.now.UTC().Format("2006-01-02T15:04:05Z")})
}

// BlankPending lists up to limit purged records with envelopes still to
// blank, in id order after afterID ("" from the start).
func (s *Store) BlankPending(ctx context.Context, afterID string, limit int) ([]string, error) {
	// '0' sorts right after '/': the keys starting with the prefix.
	end := blankPendingPrefix[:len(blankPendingPrefix)-1] + "0"
	keys, err := s.rq.ListMetaKeys(ctx, db.ListMetaKeysParams{After: blankPendingPrefix + afterID, Before: end, PageLimit: int64(limit)})
	if err != nil {
		return nil, fmt.Errorf("list pending blanks: %w", err)
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k[len(blankPendingPrefix):]
	}
	return out, nil
}
