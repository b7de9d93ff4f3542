// Package manifests implements ManifestService: the two-agency handover
// workflow of a transfer manifest and the protection safeguards that hold
// before anyone is moved.
//
// The sending agency's node is the manifest's home and the only writer of
// its state; the receiving agency's actions are proposals it applies with
// the same rules (rules.go). Screenings, the reasons for withdrawals and
// the sending side's hold reasons are stored in tables of their own on the
// sending node and are not fields of the Manifest message, so no copy of a
// manifest can carry them.
package manifests

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/identity"
	"github.com/liaison-exchange/liaison/server/ids"
	"github.com/liaison-exchange/liaison/server/paging"
	"github.com/liaison-exchange/liaison/server/persons"
	"github.com/liaison-exchange/liaison/server/records"
	"github.com/liaison-exchange/liaison/server/store"
	"github.com/liaison-exchange/liaison/server/validate"
)

// Server implements liaisonv1.ManifestServiceServer.
type Server struct {
	liaisonv1.UnimplementedManifestServiceServer
	store     *store.Store
	validator *validate.Validator
	agency    string
	partners  map[string]bool
	kind      *records.Kind[*liaisonv1.Manifest]
}

var _ liaisonv1.ManifestServiceServer = (*Server)(nil)

// New returns the manifest service of the node of agency.
func New(s *store.Store, v *validate.Validator, agency string, partners []string) *Server {
	p := map[string]bool{}
	for _, a := range partners {
		p[a] = true
	}
	srv := &Server{store: s, validator: v, agency: agency, partners: p}
	srv.kind = &records.Kind[*liaisonv1.Manifest]{
		Store:   s,
		Read:    (*store.Tx).Manifest,
		NotHome: srv.notHome,
		Save: func(tx *store.Tx, next, cur *liaisonv1.Manifest) error {
			return tx.ReplaceManifest(next, cur.GetVersion())
		},
		Share: func(tx *store.Tx, next, _ *liaisonv1.Manifest) error { return srv.share(tx, next) },
	}
	return srv
}

func (s *Server) actor(ctx context.Context, tx *store.Tx) actor {
	id, _ := identity.FromContext(ctx)
	return actor{agency: s.agency, principal: id.ID, at: tx.Now()}
}

// ---- the sending node's own changes -----------------------------------------

// change runs fn on (a copy of) the current version of a manifest this
// node is home to, stores the result as the next version and, once the
// manifest has left the draft, sends the receiving agency its view — all
// in one transaction.
func (s *Server) change(ctx context.Context, id string, fn func(tx *store.Tx, m *liaisonv1.Manifest, a actor) error) (*liaisonv1.Manifest, error) {
	audit.SetResource(ctx, mres(id))
	return s.kind.Change(ctx, records.Change[*liaisonv1.Manifest]{ID: id, Action: "change",
		Apply: func(tx *store.Tx, cur *liaisonv1.Manifest) (*liaisonv1.Manifest, error) {
			m := proto.Clone(cur).(*liaisonv1.Manifest)
			return m, fn(tx, m, s.actor(ctx, tx))
		}})
}

// CreateManifest implements liaisonv1.ManifestServiceServer.
func (s *Server) CreateManifest(ctx context.Context, req *liaisonv1.CreateManifestRequest) (*liaisonv1.CreateManifestResponse, error) {
	in := req.GetManifest()
	var bad []errs.FieldViolation
	if !s.partners[in.GetReceivingAgency()] {
		bad = append(bad, errs.FieldViolation{Field: "manifest.receiving_agency", Description: fmt.Sprintf("%q is not a partner of this node", in.GetReceivingAgency())})
	}
	if len(in.GetPersons()) > 0 {
		bad = append(bad, errs.FieldViolation{Field: "manifest.persons", Description: "add persons with AddPerson, one at a time"})
	}
	if err := errs.InvalidFields(bad); err != nil {
		return nil, err
	}
	r, err := records.NewRequest(liaisonv1.ManifestService_CreateManifest_FullMethodName, req.GetRequestId(), in)
	if err != nil {
		return nil, err
	}
	out, err := records.Create(ctx, s.store, r, func(tx *store.Tx, prior string) (*liaisonv1.Manifest, error) {
		audit.SetResource(ctx, mres(prior))
		return tx.Manifest(prior)
	}, func(tx *store.Tx) (*liaisonv1.Manifest, error) {
		a := s.actor(ctx, tx)
		m := proto.Clone(in).(*liaisonv1.Manifest)
		records.Born(m, s.agency, tx.Now())
		m.State, m.CreatedBy, m.History, m.CancelledByAgency, m.CancelReason = draft, a.principal, nil, "", ""
		record(m, a, "created", "", "")
		audit.SetResource(ctx, mres(m.Id))
		return m, tx.InsertManifest(m)
	})
	if err != nil {
		return nil, err
	}
	return &liaisonv1.CreateManifestResponse{Manifest: out}, nil
}

// GetManifest implements liaisonv1.ManifestServiceServer.
func (s *Server) GetManifest(ctx context.Context, req *liaisonv1.GetManifestRequest) (*liaisonv1.GetManifestResponse, error) {
	m, err := s.store.Manifest(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	resp := &liaisonv1.GetManifestResponse{Manifest: m}
	if m.GetOriginAgency() == s.agency {
		if resp.Screenings, err = s.store.Screenings(ctx, m.GetId()); err != nil {
			return nil, err
		}
	}
	actions, err := s.store.ManifestActions(ctx, m.GetId())
	if err != nil {
		return nil, err
	}
	for _, a := range actions {
		resp.PendingActions = append(resp.PendingActions, pendingAction(a))
	}
	return resp, nil
}

// ListManifests implements liaisonv1.ManifestServiceServer.
func (s *Server) ListManifests(ctx context.Context, req *liaisonv1.ListManifestsRequest) (*liaisonv1.ListManifestsResponse, error) {
	f := store.ManifestFilter{State: req.GetState(), OriginAgency: req.GetOriginAgency(), ReceivingAgency: req.GetReceivingAgency()}
	page, err := records.NewPage(req.GetPageToken(), req.GetPageSize(), paging.Fingerprint(f.State, f.OriginAgency, f.ReceivingAgency))
	if err != nil {
		return nil, err
	}
	audit.SetResource(ctx, "manifests")
	ms, err := s.store.ListManifests(ctx, f, page.After, page.Size+1)
	if err != nil {
		return nil, err
	}
	resp := &liaisonv1.ListManifestsResponse{}
	ms, resp.NextPageToken = records.Cut(page, ms)
	resp.Manifests = ms
	audit.SetRecordsOf(ctx, ms)
	return resp, nil
}

// UpdateManifest implements liaisonv1.ManifestServiceServer.
func (s *Server) UpdateManifest(ctx context.Context, req *liaisonv1.UpdateManifestRequest) (*liaisonv1.UpdateManifestResponse, error) {
	patch, paths := req.GetManifest(), req.GetUpdateMask().GetPaths()
	if err := errs.InvalidFields(append(records.CheckMask(req, paths), onceEach(paths)...)); err != nil {
		return nil, err
	}
	if patch.GetEtag() == "" {
		return nil, errs.Invalid("manifest.etag", "required: the etag of the version the change is based on")
	}
	if !ids.Valid(patch.GetId()) {
		return nil, errs.Invalid("manifest.id", "must be the UUID of the manifest to update")
	}
	audit.SetResource(ctx, mres(patch.GetId()))
	m, err := s.kind.Change(ctx, records.Change[*liaisonv1.Manifest]{ID: patch.GetId(), Action: "change",
		Apply: func(tx *store.Tx, cur *liaisonv1.Manifest) (*liaisonv1.Manifest, error) {
			if err := records.CheckEtag("manifest", cur, patch.GetEtag()); err != nil {
				return nil, err
			}
			if err := inState(cur, "editing", draft); err != nil {
				return nil, err
			}
			m := records.Merge(cur, patch, paths)
			if err := s.validator.Validate(m, "manifest"); err != nil {
				return nil, err
			}
			record(m, s.actor(ctx, tx), "updated", "", fmt.Sprintf("%v", paths))
			return m, nil
		}})
	if err != nil {
		return nil, err
	}
	return &liaisonv1.UpdateManifestResponse{Manifest: m}, nil
}

// AddPerson implements liaisonv1.ManifestServiceServer.
func (s *Server) AddPerson(ctx context.Context, req *liaisonv1.AddPersonRequest) (*liaisonv1.AddPersonResponse, error) {
	p := proto.Clone(req.GetPerson()).(*liaisonv1.ManifestPerson)
	if err := preparePerson(p); err != nil {
		return nil, err
	}
	p.Id = ids.New()
	p.Nationality, p.Status, p.Handover, p.HandoverReason, p.Holds = nil, included, liaisonv1.HandoverStatus_HANDOVER_STATUS_UNSPECIFIED, "", nil
	m, err := s.change(ctx, req.GetManifestId(), func(tx *store.Tx, m *liaisonv1.Manifest, a actor) error {
		if err := inState(m, "adding persons", draft); err != nil {
			return err
		}
		if len(m.GetPersons()) >= 500 {
			return errs.Precondition("manifest.too_many_persons", mres(m.GetId()), "a manifest holds at most 500 persons")
		}
		if err := s.checkIndividual(tx, m.GetId(), p); err != nil {
			return err
		}
		m.Persons = append(m.Persons, p)
		record(m, a, "person_added", p.GetId(), "")
		return nil
	})
	if err != nil {
		return nil, err
	}
	audit.SetDetail(ctx, "person "+p.GetId())
	return &liaisonv1.AddPersonResponse{Manifest: m, Person: p}, nil
}

// UpdatePerson implements liaisonv1.ManifestServiceServer.
func (s *Server) UpdatePerson(ctx context.Context, req *liaisonv1.UpdatePersonRequest) (*liaisonv1.UpdatePersonResponse, error) {
	in := proto.Clone(req.GetPerson()).(*liaisonv1.ManifestPerson)
	if !ids.Valid(in.GetId()) {
		return nil, errs.Invalid("person.id", "must be the id of the person to update")
	}
	audit.SetDetail(ctx, "person "+in.GetId())
	m, err := s.change(ctx, req.GetManifestId(), func(tx *store.Tx, m *liaisonv1.Manifest, a actor) error {
		// Fitness, medical needs and vulnerabilities may change until
		// departure (someone falls ill); the identity the receiving agency
		// verifies is fixed once proposed.
		if err := inState(m, "updating a person", draft, proposed, accepted, scheduled); err != nil {
			return err
		}
		p, err := findPerson(m, in.GetId())
		if err != nil {
			return err
		}
		if p.GetStatus() == withdrawn {
			return errs.Precondition("person.withdrawn", pres(p.GetId()), "person %s was withdrawn from manifest %s", p.GetId(), m.GetId())
		}
		// The person's id is stable across updates: a request without it
		// means the same person.
		if in.GetIdentity().GetId() == "" {
			in.GetIdentity().Id = p.GetIdentity().GetId()
		}
		if err := preparePerson(in); err != nil {
			return err
		}
		if m.GetState() != draft && !proto.Equal(p.GetIdentity(), in.GetIdentity()) {
			return errs.Precondition("person.identity_fixed", pres(p.GetId()),
				"the identity of person %s is fixed once the manifest is proposed (the receiving agency verifies it); withdraw the person and add a corrected one to a new manifest", p.GetId())
		}
		p.Identity, p.Fitness, p.MedicalNeeds, p.Vulnerabilities = in.GetIdentity(), in.GetFitness(), in.GetMedicalNeeds(), in.GetVulnerabilities()
		record(m, a, "person_updated", p.GetId(), "")
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &liaisonv1.UpdatePersonResponse{Manifest: m}, nil
}

// RemovePerson implements liaisonv1.ManifestServiceServer.
func (s *Server) RemovePerson(ctx context.Context, req *liaisonv1.RemovePersonRequest) (*liaisonv1.RemovePersonResponse, error) {
	audit.SetDetail(ctx, "person "+req.GetPersonId())
	m, err := s.change(ctx, req.GetManifestId(), func(tx *store.Tx, m *liaisonv1.Manifest, a actor) error {
		if err := inState(m, "removing persons", draft); err != nil {
			return err
		}
		i := slices.IndexFunc(m.GetPersons(), func(p *liaisonv1.ManifestPerson) bool { return p.GetId() == req.GetPersonId() })
		if i < 0 {
			return errs.NotFoundf("manifest %s has no person %s", m.GetId(), req.GetPersonId())
		}
		m.Persons = slices.Delete(m.Persons, i, i+1)
		record(m, a, "person_removed", req.GetPersonId(), "")
		return tx.DeleteScreening(m.GetId(), req.GetPersonId())
	})
	if err != nil {
		return nil, err
	}
	return &liaisonv1.RemovePersonResponse{Manifest: m}, nil
}

// RecordScreening implements liaisonv1.ManifestServiceServer.
func (s *Server) RecordScreening(ctx context.Context, req *liaisonv1.RecordScreeningRequest) (*liaisonv1.RecordScreeningResponse, error) {
	audit.SetResource(ctx, mres(req.GetManifestId()))
	// The audit log records that a screening was recorded, not what it says.
	audit.SetDetail(ctx, "screening of person "+req.GetPersonId())
	sc := proto.Clone(req.GetScreening()).(*liaisonv1.Screening)
	var withdrew bool
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		m, err := tx.Manifest(req.GetManifestId())
		if err != nil {
			return err
		}
		if m.GetOriginAgency() != s.agency {
			return errs.Precondition("manifest.sending_agency_only", mres(m.GetId()),
				"screenings are recorded by the sending agency %s, on its own node", m.GetOriginAgency())
		}
		if err := inState(m, "recording a screening", draft, proposed, accepted, scheduled, inTransit); err != nil {
			return err
		}
		p, err := findPerson(m, req.GetPersonId())
		if err != nil {
			return err
		}
		a := s.actor(ctx, tx)
		sc.RecordedBy, sc.RecordTime = a.principal, timestamppb.New(a.at)
		if err := tx.PutScreening(m.GetId(), p.GetId(), sc); err != nil {
			return err
		}
		if err := tx.AddManifestNote(m.GetId(), &liaisonv1.ManifestEvent{Time: timestamppb.New(a.at), Agency: a.agency, Principal: a.principal,
			Action: "screening_recorded", PersonId: p.GetId(), State: m.GetState(),
			Note: fmt.Sprintf("claim %s, assessment %s by %s", enumWord(sc.GetClaim().String(), "CLAIM_STATUS_"), enumWord(sc.GetAssessment().String(), "ASSESSMENT_"), sc.GetAssessingOfficer())}); err != nil {
			return err
		}
		rule, what := risky(sc)
		if rule == "" {
			return nil
		}
		// A pending claim or a concern takes the person off an active
		// manifest at once, and the same individual off every other; the
		// partner learns only "withdrawn", as of any withdrawal.
		if screeningWithdraws(m, p, sc) {
			prev := m.GetVersion()
			if err := withdraw(m, p.GetId(), a); err != nil {
				return err
			}
			if err := tx.AddManifestNote(m.GetId(), &liaisonv1.ManifestEvent{Time: timestamppb.New(a.at), Agency: a.agency, Principal: a.principal,
				Action: "withdrawal_reason", PersonId: p.GetId(), State: m.GetState(), Note: "withdrawn automatically: the screening found a pending claim or a protection concern"}); err != nil {
				return err
			}
			m.Version, m.UpdateTime = prev+1, timestamppb.New(tx.Now())
			if err := tx.ReplaceManifest(m, prev); err != nil {
				return err
			}
			withdrew = true
			if err := s.share(tx, m); err != nil {
				return err
			}
		}
		return s.withdrawIndividual(tx, m, p, fmt.Sprintf("has a screening recorded on manifest %s: %s (%s)", m.GetId(), rule, what), a)
	})
	if err != nil {
		return nil, err
	}
	return &liaisonv1.RecordScreeningResponse{Screening: sc, PersonWithdrawn: withdrew}, nil
}

// ProposeManifest implements liaisonv1.ManifestServiceServer.
func (s *Server) ProposeManifest(ctx context.Context, req *liaisonv1.ProposeManifestRequest) (*liaisonv1.ProposeManifestResponse, error) {
	m, err := s.change(ctx, req.GetId(), func(tx *store.Tx, m *liaisonv1.Manifest, a actor) error {
		sc, ind, err := s.screenings(tx, m)
		if err != nil {
			return err
		}
		return propose(m, sc, ind, a)
	})
	if err != nil {
		return nil, err
	}
	return &liaisonv1.ProposeManifestResponse{Manifest: m}, nil
}

// ScheduleManifest implements liaisonv1.ManifestServiceServer.
func (s *Server) ScheduleManifest(ctx context.Context, req *liaisonv1.ScheduleManifestRequest) (*liaisonv1.ScheduleManifestResponse, error) {
	m, err := s.change(ctx, req.GetId(), func(tx *store.Tx, m *liaisonv1.Manifest, a actor) error {
		sc, ind, err := s.screenings(tx, m)
		if err != nil {
			return err
		}
		return schedule(m, sc, ind, req.GetTransport(), a)
	})
	if err != nil {
		return nil, err
	}
	return &liaisonv1.ScheduleManifestResponse{Manifest: m}, nil
}

// DepartManifest implements liaisonv1.ManifestServiceServer.
func (s *Server) DepartManifest(ctx context.Context, req *liaisonv1.DepartManifestRequest) (*liaisonv1.DepartManifestResponse, error) {
	m, err := s.change(ctx, req.GetId(), func(tx *store.Tx, m *liaisonv1.Manifest, a actor) error {
		sc, ind, err := s.screenings(tx, m)
		if err != nil {
			return err
		}
		return depart(m, sc, ind, a)
	})
	if err != nil {
		return nil, err
	}
	return &liaisonv1.DepartManifestResponse{Manifest: m}, nil
}

// WithdrawPerson implements liaisonv1.ManifestServiceServer.
func (s *Server) WithdrawPerson(ctx context.Context, req *liaisonv1.WithdrawPersonRequest) (*liaisonv1.WithdrawPersonResponse, error) {
	audit.SetDetail(ctx, "person "+req.GetPersonId())
	m, err := s.change(ctx, req.GetManifestId(), func(tx *store.Tx, m *liaisonv1.Manifest, a actor) error {
		if err := withdraw(m, req.GetPersonId(), a); err != nil {
			return err
		}
		return tx.AddManifestNote(m.GetId(), &liaisonv1.ManifestEvent{Time: timestamppb.New(a.at), Agency: a.agency, Principal: a.principal,
			Action: "withdrawal_reason", PersonId: req.GetPersonId(), State: m.GetState(), Note: req.GetReason()})
	})
	if err != nil {
		return nil, err
	}
	return &liaisonv1.WithdrawPersonResponse{Manifest: m}, nil
}

// ListManifestHistory implements liaisonv1.ManifestServiceServer.
func (s *Server) ListManifestHistory(ctx context.Context, req *liaisonv1.ListManifestHistoryRequest) (*liaisonv1.ListManifestHistoryResponse, error) {
	m, err := s.store.Manifest(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	notes, err := s.store.ManifestNotes(ctx, m.GetId())
	if err != nil {
		return nil, err
	}
	events := append(slices.Clone(m.GetHistory()), notes...)
	sort.SliceStable(events, func(i, j int) bool { return events[i].GetTime().AsTime().Before(events[j].GetTime().AsTime()) })
	return &liaisonv1.ListManifestHistoryResponse{Events: events}, nil
}

// act carries out an action: on the manifest's home node at once; on the
// receiving agency's node as a proposal to the home node, checked first
// against the copy held here so that a hopeless one fails at once. note,
// if not empty, is kept on this node only (a hold's reason).
func (s *Server) act(ctx context.Context, manifestID string, act *liaisonv1.ManifestAction, note string) (*liaisonv1.Manifest, *liaisonv1.PendingAction, error) {
	audit.SetResource(ctx, mres(manifestID))
	audit.SetDetail(ctx, strings.TrimSpace(actionName(act.GetKind())+" "+act.GetPersonId()))
	home, err := s.store.Manifest(ctx, manifestID)
	if err != nil {
		return nil, nil, err
	}
	if home.GetOriginAgency() == s.agency {
		m, err := s.change(ctx, manifestID, func(tx *store.Tx, m *liaisonv1.Manifest, a actor) error {
			act.Principal, act.CreateTime = a.principal, timestamppb.New(a.at)
			if err := run(m, act, a); err != nil {
				return err
			}
			if err := s.keepNote(tx, m, act, a, note); err != nil {
				return err
			}
			// A hold the sending agency places holds back the individual:
			// it withdraws them from every other active manifest.
			if act.GetKind() == liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_PLACE_HOLD {
				p, err := findPerson(m, act.GetPersonId())
				if err != nil {
					return err
				}
				return s.withdrawIndividual(tx, m, p, fmt.Sprintf("is on a protection hold (%s) placed on manifest %s", act.GetHoldId(), m.GetId()), a)
			}
			return nil
		})
		return m, nil, err
	}
	var pending *liaisonv1.PendingAction
	err = s.store.Write(ctx, func(tx *store.Tx) error {
		m, err := tx.Manifest(manifestID)
		if err != nil {
			return err
		}
		a := s.actor(ctx, tx)
		act.Id, act.ManifestId, act.Principal, act.CreateTime = ids.New(), manifestID, a.principal, timestamppb.New(a.at)
		if err := run(proto.Clone(m).(*liaisonv1.Manifest), act, a); err != nil {
			return err
		}
		row := store.ManifestActionRow{Action: act, State: "pending", Reason: note}
		if err := tx.PutManifestAction(row); err != nil {
			return err
		}
		if err := s.keepNote(tx, m, act, a, note); err != nil {
			return err
		}
		if _, err := tx.AppendOutbox(store.Outgoing{Receiver: m.GetOriginAgency(), Kind: liaisonv1.EnvelopeKind_ENVELOPE_KIND_MANIFEST_ACTION,
			RecordID: act.GetId(), RecordVersion: 1, Payload: act}); err != nil {
			return err
		}
		pending = pendingAction(row)
		return nil
	})
	return nil, pending, err
}

// keepNote stores a reason that stays on this node (a hold's reason).
func (s *Server) keepNote(tx *store.Tx, m *liaisonv1.Manifest, act *liaisonv1.ManifestAction, a actor, note string) error {
	if note == "" {
		return nil
	}
	return tx.AddManifestNote(m.GetId(), &liaisonv1.ManifestEvent{Time: timestamppb.New(a.at), Agency: a.agency, Principal: a.principal,
		Action: actionName(act.GetKind()) + "_reason", PersonId: act.GetPersonId(), State: m.GetState(), Note: note})
}

// ReviewPerson implements liaisonv1.ManifestServiceServer.
func (s *Server) ReviewPerson(ctx context.Context, req *liaisonv1.ReviewPersonRequest) (*liaisonv1.ReviewPersonResponse, error) {
	_, p, err := s.act(ctx, req.GetManifestId(), &liaisonv1.ManifestAction{Kind: liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_REVIEW,
		PersonId: req.GetPersonId(), Nationality: req.GetNationality(), Reason: req.GetReason()}, "")
	if err != nil {
		return nil, err
	}
	return &liaisonv1.ReviewPersonResponse{Action: p}, nil
}

// AcceptManifest implements liaisonv1.ManifestServiceServer.
func (s *Server) AcceptManifest(ctx context.Context, req *liaisonv1.AcceptManifestRequest) (*liaisonv1.AcceptManifestResponse, error) {
	_, p, err := s.act(ctx, req.GetId(), &liaisonv1.ManifestAction{Kind: liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_ACCEPT}, "")
	if err != nil {
		return nil, err
	}
	return &liaisonv1.AcceptManifestResponse{Action: p}, nil
}

// RecordHandover implements liaisonv1.ManifestServiceServer.
func (s *Server) RecordHandover(ctx context.Context, req *liaisonv1.RecordHandoverRequest) (*liaisonv1.RecordHandoverResponse, error) {
	_, p, err := s.act(ctx, req.GetManifestId(), &liaisonv1.ManifestAction{Kind: liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_HANDOVER,
		PersonId: req.GetPersonId(), Handover: req.GetStatus(), Reason: req.GetReason()}, "")
	if err != nil {
		return nil, err
	}
	return &liaisonv1.RecordHandoverResponse{Action: p}, nil
}

// CancelManifest implements liaisonv1.ManifestServiceServer.
func (s *Server) CancelManifest(ctx context.Context, req *liaisonv1.CancelManifestRequest) (*liaisonv1.CancelManifestResponse, error) {
	m, p, err := s.act(ctx, req.GetId(), &liaisonv1.ManifestAction{Kind: liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_CANCEL, Reason: req.GetReason()}, "")
	if err != nil {
		return nil, err
	}
	return &liaisonv1.CancelManifestResponse{Manifest: m, Action: p}, nil
}

// PlaceHold implements liaisonv1.ManifestServiceServer.
func (s *Server) PlaceHold(ctx context.Context, req *liaisonv1.PlaceHoldRequest) (*liaisonv1.PlaceHoldResponse, error) {
	id := ids.New()
	m, p, err := s.act(ctx, req.GetManifestId(), &liaisonv1.ManifestAction{Kind: liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_PLACE_HOLD,
		PersonId: req.GetPersonId(), HoldId: id}, req.GetReason())
	if err != nil {
		return nil, err
	}
	return &liaisonv1.PlaceHoldResponse{Manifest: m, Action: p, HoldId: id}, nil
}

// LiftHold implements liaisonv1.ManifestServiceServer.
func (s *Server) LiftHold(ctx context.Context, req *liaisonv1.LiftHoldRequest) (*liaisonv1.LiftHoldResponse, error) {
	m, p, err := s.act(ctx, req.GetManifestId(), &liaisonv1.ManifestAction{Kind: liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_LIFT_HOLD,
		PersonId: req.GetPersonId(), HoldId: req.GetHoldId()}, req.GetReason())
	if err != nil {
		return nil, err
	}
	return &liaisonv1.LiftHoldResponse{Manifest: m, Action: p}, nil
}

// SeparatePersons implements liaisonv1.ManifestServiceServer.
func (s *Server) SeparatePersons(ctx context.Context, req *liaisonv1.SeparatePersonsRequest) (*liaisonv1.SeparatePersonsResponse, error) {
	audit.SetResource(ctx, mres(req.GetManifestId()))
	// The audit log records who decided about which persons; the reason
	// stays with the local notes.
	audit.SetDetail(ctx, fmt.Sprintf("person %s separated from person %s of manifest %s", req.GetPersonId(), req.GetOtherPersonId(), req.GetOtherManifestId()))
	a, b := store.PersonRef{ManifestID: req.GetManifestId(), PersonID: req.GetPersonId()}, store.PersonRef{ManifestID: req.GetOtherManifestId(), PersonID: req.GetOtherPersonId()}
	if a == b {
		return nil, errs.Invalid("other_person_id", "names the same person")
	}
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		var ps [2]*liaisonv1.ManifestPerson
		var ms [2]*liaisonv1.Manifest
		for i, r := range []store.PersonRef{a, b} {
			m, err := tx.Manifest(r.ManifestID)
			if err != nil {
				return err
			}
			if m.GetOriginAgency() != s.agency {
				return errs.Precondition("manifest.sending_agency_only", mres(m.GetId()),
					"persons are linked, and separated, on the sending agency's node; manifest %s is %s's", m.GetId(), m.GetOriginAgency())
			}
			if ps[i], err = findPerson(m, r.PersonID); err != nil {
				return err
			}
			ms[i] = m
		}
		if persons.Individual(ps[0].GetIdentity(), ps[1].GetIdentity()) == persons.CertainMatch {
			return errs.Precondition("person.same_individual", pres(a.PersonID),
				"person %s and person %s of manifest %s share a document, or name and full date of birth: they are one individual; correct the identity of the one recorded wrongly instead",
				a.PersonID, b.PersonID, b.ManifestID)
		}
		act := s.actor(ctx, tx)
		if err := tx.PutSeparation(a, b, act.principal, req.GetReason()); err != nil {
			return err
		}
		for i, r := range []store.PersonRef{a, b} {
			o := []store.PersonRef{b, a}[i]
			if err := tx.AddManifestNote(r.ManifestID, &liaisonv1.ManifestEvent{Time: timestamppb.New(act.at), Agency: act.agency, Principal: act.principal,
				Action: "persons_separated", PersonId: r.PersonID, State: ms[i].GetState(),
				Note: fmt.Sprintf("not the same individual as person %s on manifest %s: %s", o.PersonID, o.ManifestID, req.GetReason())}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &liaisonv1.SeparatePersonsResponse{}, nil
}
