package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/liaison-exchange/liaison/gen/db"
	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/errs"
)

func manifestBody(m *liaisonv1.Manifest) ([]byte, error) {
	c := proto.Clone(m).(*liaisonv1.Manifest)
	c.Etag = ""
	m.Etag = Etag(m.GetId(), m.GetVersion()) // the etag of the version written (not stored)
	return marshalDet.Marshal(c)
}

// feedManifest records a manifest's change in the feed and, on its home
// node, in the person index.
func (t *Tx) feedManifest(m *liaisonv1.Manifest) error {
	if m.GetOriginAgency() == t.s.opts.Agency {
		if err := t.IndexPersons(manifestIndex(m)); err != nil {
			return err
		}
	}
	return t.feed(liaisonv1.ChangeKind_CHANGE_KIND_MANIFEST, m.GetId(), m.GetVersion(), m.GetOriginAgency(),
		strings.ToLower(strings.TrimPrefix(m.GetState().String(), "MANIFEST_STATE_")))
}

// InsertManifest stores a new manifest (own draft, or a replica arriving).
func (t *Tx) InsertManifest(m *liaisonv1.Manifest) error {
	body, err := manifestBody(m)
	if err != nil {
		return err
	}
	if err := t.q.InsertManifest(t.ctx, db.InsertManifestParams{
		ID: m.GetId(), OriginAgency: m.GetOriginAgency(), ReceivingAgency: m.GetReceivingAgency(), State: int64(m.GetState()),
		Version: m.GetVersion(), CreateTime: m.GetCreateTime().AsTime().UnixMicro(), UpdateTime: m.GetUpdateTime().AsTime().UnixMicro(), Body: body,
	}); err != nil {
		return err
	}
	return t.feedManifest(m)
}

// ReplaceManifest writes a new version if the stored one is still
// prevVersion (else ABORTED).
func (t *Tx) ReplaceManifest(m *liaisonv1.Manifest, prevVersion int64) error {
	body, err := manifestBody(m)
	if err != nil {
		return err
	}
	n, err := t.q.UpdateManifest(t.ctx, db.UpdateManifestParams{
		ID: m.GetId(), PrevVersion: prevVersion, State: int64(m.GetState()), Version: m.GetVersion(),
		UpdateTime: m.GetUpdateTime().AsTime().UnixMicro(), Body: body,
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return errs.New(errs.Aborted, "manifest %s was changed concurrently; read it again and retry", m.GetId())
	}
	return t.feedManifest(m)
}

// OverwriteManifest replaces a manifest whatever version is stored (drift
// repair), inserting it if absent.
func (t *Tx) OverwriteManifest(m *liaisonv1.Manifest) error {
	body, err := manifestBody(m)
	if err != nil {
		return err
	}
	n, err := t.q.OverwriteManifest(t.ctx, db.OverwriteManifestParams{
		ID: m.GetId(), OriginAgency: m.GetOriginAgency(), ReceivingAgency: m.GetReceivingAgency(), State: int64(m.GetState()),
		Version: m.GetVersion(), UpdateTime: m.GetUpdateTime().AsTime().UnixMicro(), Body: body,
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return t.InsertManifest(m)
	}
	return t.feedManifest(m)
}

func decodeManifest(id string, b []byte, err error) (*liaisonv1.Manifest, error) {
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.NotFoundf("no manifest %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	m := &liaisonv1.Manifest{}
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("decode manifest %s: %w", id, err)
	}
	m.Etag = Etag(m.GetId(), m.GetVersion())
	return m, nil
}

// Manifest reads a manifest inside the transaction.
func (t *Tx) Manifest(id string) (*liaisonv1.Manifest, error) {
	b, err := t.q.GetManifest(t.ctx, id)
	return decodeManifest(id, b, err)
}

// Manifest reads a manifest.
func (s *Store) Manifest(ctx context.Context, id string) (*liaisonv1.Manifest, error) {
	b, err := s.rq.GetManifest(ctx, id)
	return decodeManifest(id, b, err)
}

// ManifestFilter selects manifests.
type ManifestFilter struct {
	State                         liaisonv1.ManifestState
	OriginAgency, ReceivingAgency string
}

// ListManifests returns up to limit manifests older than beforeID, newest
// first.
func (s *Store) ListManifests(ctx context.Context, f ManifestFilter, beforeID string, limit int) ([]*liaisonv1.Manifest, error) {
	rows, err := s.rq.ListManifests(ctx, db.ListManifestsParams{
		State: int64(f.State), OriginAgency: f.OriginAgency, ReceivingAgency: f.ReceivingAgency, BeforeID: beforeID, PageLimit: int64(limit),
	})
	if err != nil {
		return nil, fmt.Errorf("list manifests: %w", err)
	}
	out := make([]*liaisonv1.Manifest, 0, len(rows))
	for _, r := range rows {
		m, err := decodeManifest(r.ID, r.Body, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// ManifestReplicas reads, in one snapshot, the last sequence applied from
// origin and origin's manifests held here with ids in [fromID, toID).
func (s *Store) ManifestReplicas(ctx context.Context, origin, fromID, toID string, limit int) (int64, []DigestItem, error) {
	return replicas(ctx, s, origin, "manifest", func(q *db.Queries) ([]DigestItem, error) {
		rows, err := q.ManifestReplicaItems(ctx, db.ManifestReplicaItemsParams{OriginAgency: origin, FromID: fromID, ToID: toID, PageLimit: int64(limit)})
		out := make([]DigestItem, len(rows))
		for i, r := range rows {
			out[i] = DigestItem{ID: r.ID, Version: r.Version}
		}
		return out, err
	})
}

// PutScreening stores a person's screening (sending node only).
func (t *Tx) PutScreening(manifestID, personID string, sc *liaisonv1.Screening) error {
	b, err := marshalDet.Marshal(sc)
	if err != nil {
		return err
	}
	return t.q.PutScreening(t.ctx, db.PutScreeningParams{ManifestID: manifestID, PersonID: personID, Body: b})
}

// DeleteScreening removes the screening of a person taken off a draft.
func (t *Tx) DeleteScreening(manifestID, personID string) error {
	return t.q.DeleteScreening(t.ctx, db.DeleteScreeningParams{ManifestID: manifestID, PersonID: personID})
}

// Screenings reads a manifest's screenings by person id, inside the
// transaction.
func (t *Tx) Screenings(manifestID string) (map[string]*liaisonv1.Screening, error) {
	return screenings(t.ctx, t.q, manifestID)
}

// Screenings reads a manifest's screenings by person id.
func (s *Store) Screenings(ctx context.Context, manifestID string) (map[string]*liaisonv1.Screening, error) {
	return screenings(ctx, s.rq, manifestID)
}

func screenings(ctx context.Context, q *db.Queries, manifestID string) (map[string]*liaisonv1.Screening, error) {
	rows, err := q.ManifestScreenings(ctx, manifestID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*liaisonv1.Screening, len(rows))
	for _, r := range rows {
		sc := &liaisonv1.Screening{}
		if err := proto.Unmarshal(r.Body, sc); err != nil {
			return nil, err
		}
		out[r.PersonID] = sc
	}
	return out, nil
}

// AddManifestNote keeps a history note on this node only.
func (t *Tx) AddManifestNote(manifestID string, e *liaisonv1.ManifestEvent) error {
	return t.q.InsertManifestNote(t.ctx, db.InsertManifestNoteParams{
		ManifestID: manifestID, Time: e.GetTime().AsTime().UnixMicro(), Agency: e.GetAgency(), Principal: e.GetPrincipal(),
		Action: e.GetAction(), PersonID: e.GetPersonId(), Note: e.GetNote(), State: int64(e.GetState()),
	})
}

// ManifestNotes reads this node's own history notes of a manifest.
func (s *Store) ManifestNotes(ctx context.Context, manifestID string) ([]*liaisonv1.ManifestEvent, error) {
	rows, err := s.rq.ManifestNotes(ctx, manifestID)
	if err != nil {
		return nil, err
	}
	out := make([]*liaisonv1.ManifestEvent, len(rows))
	for i, r := range rows {
		out[i] = &liaisonv1.ManifestEvent{Time: timestampMicro(r.Time), Agency: r.Agency, Principal: r.Principal,
			Action: r.Action, PersonId: r.PersonID, Note: r.Note, State: liaisonv1.ManifestState(r.State)}
	}
	return out, nil
}

// ManifestActionRow is the receiving node's record of one of its actions.
type ManifestActionRow struct {
	Action *liaisonv1.ManifestAction
	State  string // pending, applied, rejected
	Reason string
}

// PutManifestAction stores (or updates the state of) an own action.
func (t *Tx) PutManifestAction(r ManifestActionRow) error {
	b, err := marshalDet.Marshal(r.Action)
	if err != nil {
		return err
	}
	a := r.Action
	return t.q.PutManifestAction(t.ctx, db.PutManifestActionParams{
		ID: a.GetId(), ManifestID: a.GetManifestId(), PersonID: a.GetPersonId(), Kind: int64(a.GetKind()),
		State: r.State, Reason: r.Reason, CreateTime: a.GetCreateTime().AsTime().UnixMicro(), Body: b,
	})
}

func actionRow(body []byte, state, reason string) (ManifestActionRow, error) {
	a := &liaisonv1.ManifestAction{}
	if err := proto.Unmarshal(body, a); err != nil {
		return ManifestActionRow{}, err
	}
	return ManifestActionRow{Action: a, State: state, Reason: reason}, nil
}

// ManifestAction reads an own action inside the transaction.
func (t *Tx) ManifestAction(id string) (ManifestActionRow, error) {
	r, err := t.q.GetManifestAction(t.ctx, id)
	if errors.Is(err, sql.ErrNoRows) {
		return ManifestActionRow{}, errs.NotFoundf("no manifest action %s", id)
	}
	if err != nil {
		return ManifestActionRow{}, err
	}
	return actionRow(r.Body, r.State, r.Reason)
}

// ManifestActions lists this node's own actions on a manifest.
func (s *Store) ManifestActions(ctx context.Context, manifestID string) ([]ManifestActionRow, error) {
	rows, err := s.rq.ManifestActions(ctx, manifestID)
	if err != nil {
		return nil, err
	}
	out := make([]ManifestActionRow, 0, len(rows))
	for _, r := range rows {
		a, err := actionRow(r.Body, r.State, r.Reason)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// OwnManifests reads, inside the transaction, every manifest this node is
// home to, in any state: the safeguards of one person look at all of them.
func (t *Tx) OwnManifests() ([]*liaisonv1.Manifest, error) {
	rows, err := t.q.OwnManifests(t.ctx, t.s.opts.Agency)
	if err != nil {
		return nil, fmt.Errorf("read own manifests: %w", err)
	}
	out := make([]*liaisonv1.Manifest, 0, len(rows))
	for _, r := range rows {
		m, err := decodeManifest(r.ID, r.Body, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// PersonRef names a person on a manifest.
type PersonRef struct{ ManifestID, PersonID string }

// PutSeparation records, both ways, that a supervisor found two persons
// on this node's manifests to be different people.
func (t *Tx) PutSeparation(a, b PersonRef, principal, reason string) error {
	for _, p := range [][2]PersonRef{{a, b}, {b, a}} {
		if err := t.q.PutSeparation(t.ctx, db.PutSeparationParams{
			ManifestID: p[0].ManifestID, PersonID: p[0].PersonID, OtherManifestID: p[1].ManifestID, OtherPersonID: p[1].PersonID,
			Time: t.now.UnixMicro(), Principal: principal, Reason: reason,
		}); err != nil {
			return err
		}
	}
	return nil
}

// Separations reads the separations recorded for the persons of a
// manifest: each pair (person here, person elsewhere) is a key.
func (t *Tx) Separations(manifestID string) (map[[2]PersonRef]bool, error) {
	rows, err := t.q.SeparationsOfManifest(t.ctx, manifestID)
	if err != nil {
		return nil, err
	}
	out := make(map[[2]PersonRef]bool, len(rows))
	for _, r := range rows {
		out[[2]PersonRef{{manifestID, r.PersonID}, {r.OtherManifestID, r.OtherPersonID}}] = true
	}
	return out, nil
}
