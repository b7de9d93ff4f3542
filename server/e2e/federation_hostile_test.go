package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/liaison-exchange/liaison/certs"
	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// These tests play a hostile bravo that holds a valid node key and sends
// correctly signed, in-sequence envelopes, each crafted to change, pin or
// un-index something alpha owns (issue 11, findings 1–6). Each must be
// rejected with a reason, change nothing of alpha's, and leave the channel
// going.

// hostile is alpha with a hand-driven channel from bravo.
type hostile struct {
	*intruder
	cases  liaisonv1.CaseServiceClient
	search liaisonv1.SearchServiceClient
}

func startHostile(t *testing.T) *hostile {
	t.Helper()
	in := intrude(t, secStartAlpha(t).node, "bravo")
	return &hostile{intruder: in,
		cases:  liaisonv1.NewCaseServiceClient(in.node.Conn(t, "supervisor")),
		search: liaisonv1.NewSearchServiceClient(in.node.Conn(t, "analyst")),
	}
}

// wantRejected checks that a receipt rejects its envelope with a reason
// code starting with prefix, and that the rejection is audited.
func (h *hostile) wantRejected(t *testing.T, env *liaisonv1.Envelope, rc *liaisonv1.Receipt, prefix string) {
	t.Helper()
	if rc.GetStatus() != liaisonv1.ReceiptStatus_RECEIPT_STATUS_REJECTED || !strings.HasPrefix(rc.GetReasonCode(), prefix) || rc.GetReason() == "" {
		t.Fatalf("receipt %v; want REJECTED with a reason code %s… and a reason", rc, prefix)
	}
	h.assertAudited(t, "federation.envelope.rejected", "envelope "+env.GetId())
}

func wantApplied(t *testing.T, rc *liaisonv1.Receipt) {
	t.Helper()
	if rc.GetStatus() != liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED {
		t.Fatalf("receipt %v; want APPLIED", rc)
	}
}

// bravoCase is a valid case homed on bravo and shared with alpha.
func bravoCase(title string) *liaisonv1.Case {
	c := newCase(title)
	now := timestamppb.Now()
	c.Id, c.OriginAgency, c.Version = uuid.Must(uuid.NewV7()).String(), "bravo", 1
	c.Status = liaisonv1.CaseStatus_CASE_STATUS_OPEN
	c.SharedWith = []string{"alpha"}
	c.CreateTime, c.UpdateTime = now, now
	c.CreatedBy = certs.PrincipalID("bravo", "analyst", "bob")
	return c
}

// sendCase sends a case replica of bravo's and requires it applied.
func (h *hostile) sendCase(t *testing.T, c *liaisonv1.Case) {
	t.Helper()
	_, rc := h.send(t, liaisonv1.EnvelopeKind_ENVELOPE_KIND_CASE, c.GetId(), c.GetVersion(), c)
	wantApplied(t, rc)
}

// orderedEntry is an entry of bravo's case as bravo, its home, orders it.
func orderedEntry(caseID string, seq int64, e *liaisonv1.CaseEntry) *liaisonv1.CaseEntry {
	e = proto.Clone(e).(*liaisonv1.CaseEntry)
	if e.Id == "" {
		e.Id = uuid.Must(uuid.NewV7()).String()
	}
	now := timestamppb.Now()
	e.CaseId, e.Sequence, e.Agency, e.Author = caseID, seq, "bravo", certs.PrincipalID("bravo", "analyst", "bob")
	e.State, e.CreateTime, e.ApplyTime = liaisonv1.EntryState_ENTRY_STATE_APPLIED, now, now
	return e
}

// alphaCase creates a case on alpha with one entry and returns both.
func (h *hostile) alphaCase(t *testing.T, e *liaisonv1.CaseEntry) (*liaisonv1.Case, *liaisonv1.CaseEntry) {
	t.Helper()
	ctx := context.Background()
	c, err := h.cases.CreateCase(ctx, &liaisonv1.CreateCaseRequest{Case: newCase("alpha's own case")})
	if err != nil {
		t.Fatal(err)
	}
	if e.GetKind() == liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_REQUEST {
		// A request is owed by a partner the case is shared with.
		if _, err := h.cases.ShareCase(ctx, &liaisonv1.ShareCaseRequest{Id: c.GetCase().GetId(), Partners: []string{"bravo"}}); err != nil {
			t.Fatal(err)
		}
		e.Request.RequestedOf = "bravo"
	}
	added, err := h.cases.AddCaseEntry(ctx, &liaisonv1.AddCaseEntryRequest{CaseId: c.GetCase().GetId(), Entry: e})
	if err != nil {
		t.Fatal(err)
	}
	return c.GetCase(), added.GetEntry()
}

func (h *hostile) entry(t *testing.T, caseID, id string) *liaisonv1.CaseEntry {
	t.Helper()
	r, err := h.cases.ListCaseEntries(context.Background(), &liaisonv1.ListCaseEntriesRequest{CaseId: caseID, PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range r.GetEntries() {
		if e.GetId() == id {
			return e
		}
	}
	t.Fatalf("case %s has no entry %s", caseID, id)
	return nil
}

// Finding 1: an entry of bravo's case carrying the id of an entry in one
// of alpha's cases must not replace alpha's entry.
func TestHostile_EntryIDOfAnotherCase(t *testing.T) {
	t.Parallel()
	h := startHostile(t)
	own, ownEntry := h.alphaCase(t, note("alpha's own note"))
	theirs := bravoCase("bravo's case")
	h.sendCase(t, theirs)

	e := orderedEntry(theirs.GetId(), 1, note("overwritten by bravo"))
	e.Id = ownEntry.GetId()
	env, rc := h.send(t, liaisonv1.EnvelopeKind_ENVELOPE_KIND_CASE_ENTRY, e.GetId(), 1, e)
	h.wantRejected(t, env, rc, "record.")
	if got := h.entry(t, own.GetId(), ownEntry.GetId()); got.GetText() != "alpha's own note" || got.GetCaseId() != own.GetId() {
		t.Errorf("alpha's entry after bravo's envelope: %v", got)
	}

	// The envelope's record id must be the entry's id.
	e2 := orderedEntry(theirs.GetId(), 1, note("under another name"))
	env, rc = h.send(t, liaisonv1.EnvelopeKind_ENVELOPE_KIND_CASE_ENTRY, ownEntry.GetId(), 1, e2)
	h.wantRejected(t, env, rc, "envelope.inconsistent")

	// bravo's own entry in bravo's own case still applies.
	e3 := orderedEntry(theirs.GetId(), 1, note("bravo's note"))
	_, rc = h.send(t, liaisonv1.EnvelopeKind_ENVELOPE_KIND_CASE_ENTRY, e3.GetId(), 1, e3)
	wantApplied(t, rc)
}

// Finding 2: a response in bravo's case must not close a request in one
// of alpha's cases.
func TestHostile_ResponseClosesAnotherCasesRequest(t *testing.T) {
	t.Parallel()
	h := startHostile(t)
	own, req := h.alphaCase(t, request("alpha asks", liaisonv1.RequestUrgency_REQUEST_URGENCY_NORMAL))
	theirs := bravoCase("bravo's case")
	h.sendCase(t, theirs)

	resp := orderedEntry(theirs.GetId(), 1, response("answered, says bravo", req.GetId()))
	env, rc := h.send(t, liaisonv1.EnvelopeKind_ENVELOPE_KIND_CASE_ENTRY, resp.GetId(), 1, resp)
	h.wantRejected(t, env, rc, "response.")
	if got := h.entry(t, own.GetId(), req.GetId()); got.GetRequest().GetAnswered() {
		t.Errorf("alpha's request was closed by a response in bravo's case: %v", got)
	}
}

// Finding 3: a response naming a note (not a request) must be rejected,
// not panic, and the channel must go on.
func TestHostile_ResponseNamingANote(t *testing.T) {
	t.Parallel()
	h := startHostile(t)
	theirs := bravoCase("bravo's case")
	h.sendCase(t, theirs)
	n := orderedEntry(theirs.GetId(), 1, note("a note"))
	_, rc := h.send(t, liaisonv1.EnvelopeKind_ENVELOPE_KIND_CASE_ENTRY, n.GetId(), 1, n)
	wantApplied(t, rc)

	resp := orderedEntry(theirs.GetId(), 2, response("answers a note", n.GetId()))
	env, rc := h.send(t, liaisonv1.EnvelopeKind_ENVELOPE_KIND_CASE_ENTRY, resp.GetId(), 1, resp)
	h.wantRejected(t, env, rc, "response.")

	// A response naming nothing at all.
	resp2 := orderedEntry(theirs.GetId(), 2, response("answers nothing", uuid.Must(uuid.NewV7()).String()))
	env, rc = h.send(t, liaisonv1.EnvelopeKind_ENVELOPE_KIND_CASE_ENTRY, resp2.GetId(), 1, resp2)
	h.wantRejected(t, env, rc, "response.")

	next := secLead("after the bad responses")
	_, rc = h.send(t, liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD, next.GetId(), 1, next)
	wantApplied(t, rc)
}

// Finding 4: a case replica whose id is one of alpha's lead ids must not
// touch that lead's search index rows.
func TestHostile_ReplicaIDOfAnotherKind(t *testing.T) {
	t.Parallel()
	h := startHostile(t)
	l := newLead("alpha's lead")
	l.Subjects = []*liaisonv1.Person{{Names: []*liaisonv1.PersonName{{FamilyName: "Wongsawat", GivenNames: "Kittisak"}}}}
	created, err := h.leads.CreateLead(context.Background(), &liaisonv1.CreateLeadRequest{Lead: l})
	if err != nil {
		t.Fatal(err)
	}
	hits := func() int {
		r, err := h.search.SearchPersons(context.Background(), &liaisonv1.SearchPersonsRequest{Name: "Kittisak Wongsawat"})
		if err != nil {
			t.Fatal(err)
		}
		return len(r.GetHits())
	}
	if n := hits(); n != 1 {
		t.Fatalf("%d hits before, want 1", n)
	}
	c := bravoCase("a case under a lead's id")
	c.Id = created.GetLead().GetId()
	c.Subjects = nil
	env, rc := h.send(t, liaisonv1.EnvelopeKind_ENVELOPE_KIND_CASE, c.GetId(), 1, c)
	h.wantRejected(t, env, rc, "record.id_taken")
	if n := hits(); n != 1 {
		t.Errorf("%d hits after bravo's case, want 1", n)
	}
	if n := countRows(t, h.node.Cfg.Database.Path, "SELECT count(*) FROM cases WHERE id = ?", c.GetId()); n != 0 {
		t.Errorf("alpha stored a case under its own lead's id")
	}

	// A manifest under the same id, and a lead of bravo's under alpha's case's id.
	m := &liaisonv1.Manifest{Id: c.GetId(), OriginAgency: "bravo", ReceivingAgency: "alpha", Version: 1, LegalBasis: "x",
		State: liaisonv1.ManifestState_MANIFEST_STATE_PROPOSED, CreateTime: timestamppb.Now(), UpdateTime: timestamppb.Now()}
	env, rc = h.send(t, liaisonv1.EnvelopeKind_ENVELOPE_KIND_MANIFEST, m.GetId(), 1, m)
	h.wantRejected(t, env, rc, "record.id_taken")
	own, _ := h.alphaCase(t, note("n"))
	bl := secLead("a lead under a case's id")
	bl.Id = own.GetId()
	env, rc = h.send(t, liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD, bl.GetId(), 1, bl)
	h.wantRejected(t, env, rc, "record.id_taken")
}

// Finding 5: a replica's links to alpha's leads must not pin them against
// retention (nor link them at all: they are references to what bravo does
// not own).
func TestHostile_LinksDoNotPin(t *testing.T) {
	t.Parallel()
	h := startHostile(t)
	created, err := h.leads.CreateLead(context.Background(), &liaisonv1.CreateLeadRequest{Lead: newLead("alpha's lead")})
	if err != nil {
		t.Fatal(err)
	}
	c := bravoCase("bravo links alpha's lead")
	c.LinkedLeadIds = []string{created.GetLead().GetId()}
	h.sendCase(t, c)
	if n := countRows(t, h.node.Cfg.Database.Path, "SELECT count(*) FROM case_leads WHERE lead_id = ?", created.GetLead().GetId()); n != 0 {
		t.Errorf("bravo's case replica pins alpha's lead: %d case_leads rows", n)
	}
	got, err := h.cases.GetCase(context.Background(), &liaisonv1.GetCaseRequest{Id: c.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.GetCase().GetLinkedLeadIds()) != 1 {
		t.Errorf("the replica lost its reference to the lead: %v", got.GetCase().GetLinkedLeadIds())
	}
}

// Finding 6: every payload goes through the API's validation rules.
func TestHostile_PayloadsValidated(t *testing.T) {
	t.Parallel()
	h := startHostile(t)
	theirs := bravoCase("bravo's case")
	h.sendCase(t, theirs)

	long := orderedEntry(theirs.GetId(), 1, note(strings.Repeat("x", 10001)))
	env, rc := h.send(t, liaisonv1.EnvelopeKind_ENVELOPE_KIND_CASE_ENTRY, long.GetId(), 1, long)
	h.wantRejected(t, env, rc, "payload")

	m := &liaisonv1.Manifest{Id: uuid.Must(uuid.NewV7()).String(), OriginAgency: "bravo", ReceivingAgency: "alpha", Version: 1,
		LegalBasis: strings.Repeat("y", 501), State: liaisonv1.ManifestState_MANIFEST_STATE_PROPOSED, CreateTime: timestamppb.Now(), UpdateTime: timestamppb.Now()}
	env, rc = h.send(t, liaisonv1.EnvelopeKind_ENVELOPE_KIND_MANIFEST, m.GetId(), 1, m)
	h.wantRejected(t, env, rc, "payload")
	if n := countRows(t, h.node.Cfg.Database.Path, "SELECT count(*) FROM manifests"); n != 0 {
		t.Errorf("alpha stored an invalid manifest")
	}

	// An action on a manifest of alpha's, with a reason past the API's limit.
	act := &liaisonv1.ManifestAction{Id: uuid.Must(uuid.NewV7()).String(), ManifestId: uuid.Must(uuid.NewV7()).String(),
		Kind: liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_CANCEL, Reason: strings.Repeat("z", 1001), CreateTime: timestamppb.Now()}
	env, rc = h.send(t, liaisonv1.EnvelopeKind_ENVELOPE_KIND_MANIFEST_ACTION, act.GetId(), 1, act)
	h.wantRejected(t, env, rc, "payload")

	// A lead replica of more than the payload bound.
	big := secLead("big")
	big.Summary = strings.Repeat("s", 2<<20)
	env, rc = h.send(t, liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD, big.GetId(), 1, big)
	h.wantRejected(t, env, rc, "payload")
}
