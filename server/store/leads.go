package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/liaison-exchange/liaison/gen/db"
	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/errs"
)

var marshalDet = proto.MarshalOptions{Deterministic: true}

// Etag is the opaque etag of a record version.
func Etag(id string, version int64) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s/%d", id, version))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// CrimeMask is the bit set of crime areas stored for filtering.
func CrimeMask(areas []liaisonv1.CrimeArea) int64 {
	var m int64
	for _, a := range areas {
		if a > 0 && a < 63 {
			m |= 1 << uint(a)
		}
	}
	return m
}

func dateString(d *liaisonv1.Date) string {
	if d == nil {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.GetYear(), d.GetMonth(), d.GetDay())
}

// leadBody is the stored form of a lead about to be written. The etag is
// not stored (it is derived from id and version on every read); the lead
// written gets the etag of its version, so that whoever wrote it can
// return it as it is now stored.
func leadBody(l *liaisonv1.Lead) ([]byte, error) {
	c := proto.Clone(l).(*liaisonv1.Lead)
	c.Etag = ""
	l.Etag = Etag(l.GetId(), l.GetVersion())
	return marshalDet.Marshal(c)
}

// InsertLead stores a new lead (an own lead, or a replica arriving).
func (t *Tx) InsertLead(l *liaisonv1.Lead) error {
	body, err := leadBody(l)
	if err != nil {
		return err
	}
	if err := t.q.InsertLead(t.ctx, db.InsertLeadParams{
		ID: l.GetId(), OriginAgency: l.GetOriginAgency(), Status: int64(l.GetStatus()),
		CrimeMask: CrimeMask(l.GetCrimeAreas()), HandlingCode: int64(l.GetHandling().GetCode()),
		Version: l.GetVersion(), CreateTime: l.GetCreateTime().AsTime().UnixMicro(),
		UpdateTime: l.GetUpdateTime().AsTime().UnixMicro(), ReviewDate: dateString(l.GetReviewDate()), Body: body,
	}); err != nil {
		return err
	}
	if err := t.feed(liaisonv1.ChangeKind_CHANGE_KIND_LEAD, l.GetId(), l.GetVersion(), l.GetOriginAgency(), t.ownOr(l.GetOriginAgency(), "created", "replica")); err != nil {
		return err
	}
	return t.IndexPersons(leadIndex(l))
}

// InsertLeadTombstone stores what remains of a lead whose content is
// gone (or was never received): id, origin, version and time.
func (t *Tx) InsertLeadTombstone(id, origin string, version int64, at time.Time) error {
	if err := t.q.InsertLead(t.ctx, db.InsertLeadParams{
		ID: id, OriginAgency: origin, Status: int64(liaisonv1.LeadStatus_LEAD_STATUS_WITHDRAWN),
		Version: version, CreateTime: at.UnixMicro(), UpdateTime: at.UnixMicro(),
	}); err != nil {
		return err
	}
	return t.feed(liaisonv1.ChangeKind_CHANGE_KIND_LEAD, id, version, origin, "tombstone")
}

// ReplaceLead writes a new version of a lead over prev, the version the
// change was made from, provided that is still the stored version;
// otherwise the change is ABORTED (someone else changed it first).
func (t *Tx) ReplaceLead(l, prev *liaisonv1.Lead) error {
	body, err := leadBody(l)
	if err != nil {
		return err
	}
	return t.replaceLeadRow(l, prev, body)
}

// OverwriteLead replaces a lead whatever version is stored: a drift
// repair sets a copy right even when its stored version is wrong.
func (t *Tx) OverwriteLead(l *liaisonv1.Lead) error {
	body, err := leadBody(l)
	if err != nil {
		return err
	}
	n, err := t.q.OverwriteLead(t.ctx, db.OverwriteLeadParams{
		ID: l.GetId(), OriginAgency: l.GetOriginAgency(), Status: int64(l.GetStatus()), CrimeMask: CrimeMask(l.GetCrimeAreas()),
		HandlingCode: int64(l.GetHandling().GetCode()), Version: l.GetVersion(), UpdateTime: l.GetUpdateTime().AsTime().UnixMicro(),
		ReviewDate: dateString(l.GetReviewDate()), Body: body,
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return t.InsertLead(l)
	}
	if err := t.feed(liaisonv1.ChangeKind_CHANGE_KIND_LEAD, l.GetId(), l.GetVersion(), l.GetOriginAgency(), "repaired"); err != nil {
		return err
	}
	return t.IndexPersons(leadIndex(l))
}

// DeleteLeadContent keeps only a tombstone of a lead: id, origin, version
// and time stay, the content is gone.
func (t *Tx) DeleteLeadContent(l *liaisonv1.Lead, prevVersion int64) error {
	l.Etag = Etag(l.GetId(), l.GetVersion())
	return t.replaceLeadRow(l, &liaisonv1.Lead{Version: prevVersion}, nil)
}

func (t *Tx) replaceLeadRow(l, prev *liaisonv1.Lead, body []byte) error {
	n, err := t.q.UpdateLead(t.ctx, db.UpdateLeadParams{
		ID: l.GetId(), PrevVersion: prev.GetVersion(),
		Status: int64(l.GetStatus()), CrimeMask: CrimeMask(l.GetCrimeAreas()), HandlingCode: int64(l.GetHandling().GetCode()),
		Version: l.GetVersion(), UpdateTime: l.GetUpdateTime().AsTime().UnixMicro(), ReviewDate: dateString(l.GetReviewDate()), Body: body,
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return errs.New(errs.Aborted, "lead %s was changed concurrently; read it again and retry", l.GetId())
	}
	if body == nil {
		if err := t.feed(liaisonv1.ChangeKind_CHANGE_KIND_LEAD, l.GetId(), l.GetVersion(), l.GetOriginAgency(), "tombstone"); err != nil {
			return err
		}
		return t.IndexPersons(IndexedRecord{Kind: liaisonv1.RecordKind_RECORD_KIND_LEAD, ID: l.GetId()})
	}
	action := t.ownOr(l.GetOriginAgency(), "updated", "replica")
	if l.GetStatus() == liaisonv1.LeadStatus_LEAD_STATUS_WITHDRAWN {
		action = "withdrawn"
	}
	if err := t.feed(liaisonv1.ChangeKind_CHANGE_KIND_LEAD, l.GetId(), l.GetVersion(), l.GetOriginAgency(), action); err != nil {
		return err
	}
	// A change that leaves the title and subjects as they were (a release,
	// a status change) keeps the person index rows: rewriting them, and
	// their full-text entries, is most of the cost of such a write. The
	// update above matched prev's version, so prev is what was stored.
	after := leadIndex(l)
	if sameIndex(leadIndex(prev), after) {
		return nil
	}
	return t.IndexPersons(after)
}

// Lead reads a lead inside the transaction.
func (t *Tx) Lead(id string) (*liaisonv1.Lead, error) {
	r, err := t.q.GetLead(t.ctx, id)
	return leadFromRow(id, r, err)
}

// Lead reads a lead.
func (s *Store) Lead(ctx context.Context, id string) (*liaisonv1.Lead, error) {
	r, err := s.rq.GetLead(ctx, id)
	return leadFromRow(id, r, err)
}

func leadFromRow(id string, r db.GetLeadRow, err error) (*liaisonv1.Lead, error) {
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.NotFoundf("no lead %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read lead: %w", err)
	}
	return decodeLead(r.ID, r.OriginAgency, r.Status, r.Version, r.CreateTime, r.UpdateTime, r.Body)
}

func decodeLead(id, origin string, status, version, createTime, updateTime int64, body []byte) (*liaisonv1.Lead, error) {
	l := &liaisonv1.Lead{}
	if body == nil {
		// A tombstone: what remains once the content was deleted.
		l = &liaisonv1.Lead{
			Id: id, OriginAgency: origin, Status: liaisonv1.LeadStatus(status), Version: version,
			CreateTime:   timestamppb.New(time.UnixMicro(createTime)),
			UpdateTime:   timestamppb.New(time.UnixMicro(updateTime)),
			WithdrawTime: timestamppb.New(time.UnixMicro(updateTime)),
		}
	} else if err := proto.Unmarshal(body, l); err != nil {
		return nil, fmt.Errorf("decode lead %s: %w", id, err)
	}
	l.Etag = Etag(l.GetId(), l.GetVersion())
	return l, nil
}

// LeadFilter selects leads in ListLeads.
type LeadFilter struct {
	Status       liaisonv1.LeadStatus
	CrimeArea    liaisonv1.CrimeArea
	OriginAgency string
	UpdatedAfter time.Time
}

// ListLeads returns up to limit leads older than beforeID (all when
// empty), newest first. Ordering by the time-ordered id keeps pages stable
// while leads are added: new leads sort before the first page.
func (s *Store) ListLeads(ctx context.Context, f LeadFilter, beforeID string, limit int) ([]*liaisonv1.Lead, error) {
	var after int64
	if !f.UpdatedAfter.IsZero() {
		after = f.UpdatedAfter.UnixMicro()
	} else {
		after = -1 << 62
	}
	rows, err := s.rq.ListLeads(ctx, db.ListLeadsParams{
		Status: int64(f.Status), CrimeMask: CrimeMask([]liaisonv1.CrimeArea{f.CrimeArea}),
		OriginAgency: f.OriginAgency, UpdatedAfter: after, BeforeID: beforeID, PageLimit: int64(limit),
	})
	if err != nil {
		return nil, fmt.Errorf("list leads: %w", err)
	}
	out := make([]*liaisonv1.Lead, 0, len(rows))
	for _, r := range rows {
		l, err := decodeLead(r.ID, r.OriginAgency, r.Status, r.Version, r.CreateTime, r.UpdateTime, r.Body)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

func timestampMicro(us int64) *timestamppb.Timestamp {
	if us == 0 {
		return nil
	}
	return timestamppb.New(time.UnixMicro(us))
}

// RequestHash fingerprints a request payload for idempotency checks.
func RequestHash(m proto.Message) ([]byte, error) {
	b, err := marshalDet.Marshal(m)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	return sum[:], nil
}

// SeenRequest looks up a request_id of a method. It returns the id of the
// resource the first call created, or "" if the id is new; a known id with
// another payload is ALREADY_EXISTS.
func (t *Tx) SeenRequest(method, requestID string, hash []byte) (string, error) {
	r, err := t.q.GetIdempotencyKey(t.ctx, db.GetIdempotencyKeyParams{Method: method, RequestID: requestID})
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read idempotency key: %w", err)
	}
	if string(r.RequestHash) != string(hash) {
		return "", errs.New(errs.AlreadyExists, "request_id %s was already used for a different request", requestID)
	}
	return r.ResourceID, nil
}

// RememberRequest records that requestID created resourceID.
func (t *Tx) RememberRequest(method, requestID string, hash []byte, resourceID string) error {
	return t.q.InsertIdempotencyKey(t.ctx, db.InsertIdempotencyKeyParams{
		Method: method, RequestID: requestID, RequestHash: hash, ResourceID: resourceID, CreateTime: t.now.UnixMicro(),
	})
}
