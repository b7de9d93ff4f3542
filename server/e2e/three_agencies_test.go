package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/liaison-exchange/liaison/certs"
	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/config"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// Three agencies (issue 11): alpha, bravo and charlie as three real nodes
// (nodetest.Trio), each a partner of the other two: real loopback TCP,
// real mTLS, a SQLite file each.

// trioNode is one of the three nodes with the clients these tests use.
type trioNode struct {
	*nodetest.Node
	fed    *fedNode
	cs     *caseNode
	man    *manNode
	search liaisonv1.SearchServiceClient
}

func startTrio(t *testing.T) (alpha, bravo, charlie *trioNode) {
	t.Helper()
	return startTrioWith(t, nil)
}

// startTrioWith starts the trio with mutate adjusting each config.
func startTrioWith(t *testing.T, mutate func(*config.Config)) (alpha, bravo, charlie *trioNode) {
	t.Helper()
	a, b, c := nodetest.Trio(t, mutate)
	wrap := func(n *nodetest.Node) *trioNode {
		return &trioNode{Node: n, fed: clients(t, n), cs: caseClients(t, n),
			man: &manNode{Node: n, analyst: liaisonv1.NewManifestServiceClient(n.Conn(t, "analyst")),
				supervisor: liaisonv1.NewManifestServiceClient(n.Conn(t, "supervisor"))},
			search: liaisonv1.NewSearchServiceClient(n.Conn(t, "analyst")),
		}
	}
	return wrap(a), wrap(b), wrap(c)
}

// release creates a lead on n and releases it to partners.
func (n *trioNode) release(t *testing.T, l *liaisonv1.Lead, partners ...string) *liaisonv1.Lead {
	t.Helper()
	ctx := context.Background()
	c, err := n.fed.analyst.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: l})
	if err != nil {
		t.Fatal(err)
	}
	r, err := n.fed.supervisor.ReleaseLead(ctx, &liaisonv1.ReleaseLeadRequest{Id: c.GetLead().GetId(), Partners: partners})
	if err != nil {
		t.Fatal(err)
	}
	return r.GetLead()
}

// settled: the channel to the partner is up, nothing waits, and the
// partner applied everything assigned so far.
func settled(st *liaisonv1.PartnerStatus) error {
	if !st.GetConnected() || st.GetEnvelopesWaiting() != 0 || st.GetLastSequenceApplied() != st.GetLastSequenceAssigned() {
		return fmt.Errorf("channel to %s not settled: %v", st.GetAgency(), st)
	}
	return nil
}

// leadIDs lists the ids of every lead n holds (own and replicas).
func (n *trioNode) leadIDs(t *testing.T) []string {
	t.Helper()
	var ids []string
	token := ""
	for range 100 { // bounded: 100 pages of 1,000
		r, err := n.fed.analyst.ListLeads(context.Background(), &liaisonv1.ListLeadsRequest{PageSize: 1000, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range r.GetLeads() {
			ids = append(ids, l.GetId())
		}
		if token = r.GetNextPageToken(); token == "" {
			return ids
		}
	}
	t.Fatalf("%s lists more than 100 pages of leads", n.Agency)
	return nil
}

// hitRecords is the set of records a person search on n hits.
func (n *trioNode) hitRecords(t *testing.T, name string) map[string]bool {
	t.Helper()
	r, err := n.search.SearchPersons(context.Background(), &liaisonv1.SearchPersonsRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, h := range r.GetHits() {
		out[h.GetRecordId()] = true
	}
	return out
}

func person(family, given string) []*liaisonv1.Person {
	return []*liaisonv1.Person{{Names: []*liaisonv1.PersonName{{FamilyName: family, GivenNames: given}}}}
}

// TestThreeAgencies_ReleaseReachesOnlyItsPartner releases a lead to bravo
// alone, changes it, and then has both alpha and bravo send charlie other
// leads. The channels deliver in order, so once charlie holds those later
// leads, anything about the first one would have arrived: charlie holds
// nothing of it, bravo holds all of it, and bravo cannot pass it on.
func TestThreeAgencies_ReleaseReachesOnlyItsPartner(t *testing.T) {
	t.Parallel()
	alpha, bravo, charlie := startTrio(t)
	ctx := context.Background()
	const name = "Somchai Phanomwan"

	secret := newLead("for bravo only")
	secret.Subjects = person("Phanomwan", "Somchai")
	rel := alpha.release(t, secret, "bravo")
	got := bravo.fed.waitVersion(t, rel.GetId(), rel.GetVersion())
	if got.GetTitle() != "for bravo only" || !slices.Equal(got.GetReleasedTo(), []string{"bravo"}) {
		t.Errorf("bravo's replica: %v", got)
	}
	// A change after the release goes to bravo, and to bravo only.
	upd, err := alpha.fed.analyst.UpdateLead(ctx, &liaisonv1.UpdateLeadRequest{
		Lead: &liaisonv1.Lead{Id: rel.GetId(), Etag: rel.GetEtag(), Title: "for bravo only, second version"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	bravo.fed.waitVersion(t, rel.GetId(), upd.GetLead().GetVersion())
	if !bravo.hitRecords(t, name)[rel.GetId()] {
		t.Errorf("bravo's person search does not find the subject of the lead released to it")
	}
	// A replica is never released onward.
	if _, err := bravo.fed.supervisor.ReleaseLead(ctx, &liaisonv1.ReleaseLeadRequest{Id: rel.GetId(), Partners: []string{"charlie"}}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("bravo releasing alpha's lead to charlie: %v, want FailedPrecondition", err)
	}

	// Later traffic to charlie from both: a lead each, one with the same
	// subject, so that charlie's search is seen to work.
	fromAlpha := newLead("alpha to charlie, later")
	fromAlpha.Subjects = person("Phanomwan", "Somchai")
	later := []*liaisonv1.Lead{alpha.release(t, fromAlpha, "charlie"), bravo.release(t, newLead("bravo to charlie, later"), "charlie")}
	for _, l := range later {
		charlie.fed.waitVersion(t, l.GetId(), l.GetVersion())
	}

	if _, err := charlie.fed.analyst.GetLead(ctx, &liaisonv1.GetLeadRequest{Id: rel.GetId()}); status.Code(err) != codes.NotFound {
		t.Errorf("charlie's GetLead of the lead released to bravo: %v, want NotFound", err)
	}
	ids := charlie.leadIDs(t)
	if slices.Contains(ids, rel.GetId()) {
		t.Errorf("charlie lists the lead released to bravo")
	}
	if !slices.Contains(ids, later[0].GetId()) || !slices.Contains(ids, later[1].GetId()) || len(ids) != 2 {
		t.Errorf("charlie lists %v; want exactly the two leads released to it", ids)
	}
	hits := charlie.hitRecords(t, name)
	if hits[rel.GetId()] {
		t.Errorf("charlie's person search finds the subject of the lead released to bravo")
	}
	if !hits[later[0].GetId()] {
		t.Errorf("charlie's person search does not find the subject of alpha's lead released to it: %v", hits)
	}
	// Nothing about it was ever queued for charlie, on either node, nor
	// received by charlie.
	for _, n := range []*trioNode{alpha, bravo} {
		if c := countRows(t, n.Cfg.Database.Path, "SELECT count(*) FROM outbox WHERE partner = 'charlie' AND record_id = ?", rel.GetId()); c != 0 {
			t.Errorf("%s's outbox holds %d envelopes about the lead for charlie", n.Agency, c)
		}
	}
	if c := countRows(t, charlie.Cfg.Database.Path, "SELECT count(*) FROM inbox WHERE record_id = ?", rel.GetId()); c != 0 {
		t.Errorf("charlie's inbox holds %d envelopes about the lead released to bravo", c)
	}
}

// TestThreeAgencies_SharedCaseConverges shares a case of alpha's with bravo
// and charlie. Each of the three writes entries at the same time; bravo and
// charlie each ask and answer a request of alpha's. Partners' entries are
// proposals to alpha, the home node, which orders them and sends every
// entry to both partners: all three end with the same entries in the same
// order, and bravo and charlie never exchange a word directly.
func TestThreeAgencies_SharedCaseConverges(t *testing.T) {
	t.Parallel()
	alpha, bravo, charlie := startTrio(t)
	ctx := context.Background()
	c, err := alpha.cs.analyst.CreateCase(ctx, &liaisonv1.CreateCaseRequest{Case: newCase("joint investigation, three agencies")})
	if err != nil {
		t.Fatal(err)
	}
	caseID := c.GetCase().GetId()
	if _, err := alpha.cs.supervisor.ShareCase(ctx, &liaisonv1.ShareCaseRequest{Id: caseID, Partners: []string{"bravo", "charlie"}}); err != nil {
		t.Fatal(err)
	}
	nodes := []*trioNode{alpha, bravo, charlie}
	for _, n := range nodes[1:] {
		nodetest.Eventually(t, 10*time.Second, func() error {
			_, err := n.cs.analyst.GetCase(ctx, &liaisonv1.GetCaseRequest{Id: caseID})
			return err
		})
	}

	// Two notes from each node, all at once.
	var wg sync.WaitGroup
	errc := make(chan error, 2*len(nodes))
	for _, n := range nodes {
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := n.cs.analyst.AddCaseEntry(ctx, &liaisonv1.AddCaseEntryRequest{CaseId: caseID, Entry: note(fmt.Sprintf("%s's note %d", n.Agency, i))})
				errc <- err
			}()
		}
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}

	// alpha asks bravo; bravo answers.
	ask := request("alpha asks bravo for subscriber data", liaisonv1.RequestUrgency_REQUEST_URGENCY_HIGH)
	ask.Request.RequestedOf = "bravo"
	asked, err := alpha.cs.analyst.AddCaseEntry(ctx, &liaisonv1.AddCaseEntryRequest{CaseId: caseID, Entry: ask})
	if err != nil {
		t.Fatal(err)
	}
	waitEntryApplied(t, bravo, caseID, asked.GetEntry().GetId())
	if _, err := bravo.cs.analyst.AddCaseEntry(ctx, &liaisonv1.AddCaseEntryRequest{CaseId: caseID, Entry: response("bravo's answer", asked.GetEntry().GetId())}); err != nil {
		t.Fatal(err)
	}
	// charlie asks alpha (the one party charlie's copy names); alpha answers.
	cask, err := charlie.cs.analyst.AddCaseEntry(ctx, &liaisonv1.AddCaseEntryRequest{CaseId: caseID,
		Entry: request("charlie asks alpha for a travel history", liaisonv1.RequestUrgency_REQUEST_URGENCY_NORMAL)})
	if err != nil {
		t.Fatal(err)
	}
	if got := cask.GetEntry().GetRequest().GetRequestedOf(); got != "alpha" {
		t.Errorf("charlie's request is owed by %q, want alpha", got)
	}
	waitEntryApplied(t, alpha, caseID, cask.GetEntry().GetId())
	if _, err := alpha.cs.analyst.AddCaseEntry(ctx, &liaisonv1.AddCaseEntryRequest{CaseId: caseID, Entry: response("alpha's answer", cask.GetEntry().GetId())}); err != nil {
		t.Fatal(err)
	}

	const total = 2*3 + 2 + 2
	final := waitSameEntries(t, alpha.cs, bravo.cs, caseID, total)
	if got := waitSameEntries(t, alpha.cs, charlie.cs, caseID, total); !cmp.Equal(final, got, protocmp.Transform()) {
		t.Errorf("charlie's entries differ from alpha's:\n%s", cmp.Diff(final, got, protocmp.Transform()))
	}
	authors := map[string]int{}
	for i, e := range final {
		if e.GetSequence() != int64(i+1) {
			t.Errorf("entry %d has sequence %d", i, e.GetSequence())
		}
		authors[e.GetAgency()]++
		if e.GetKind() == liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_REQUEST && !e.GetRequest().GetAnswered() {
			t.Errorf("request %s is not answered: %v", e.GetId(), e)
		}
	}
	if want := map[string]int{"alpha": 4, "bravo": 3, "charlie": 3}; !cmp.Equal(authors, want) {
		t.Errorf("entries by agency: %v, want %v", authors, want)
	}

	// The case itself: the same on all three, except that each partner's
	// copy names only that partner among those it is shared with.
	var cases []*liaisonv1.GetCaseResponse
	for _, n := range nodes {
		r, err := n.cs.analyst.GetCase(ctx, &liaisonv1.GetCaseRequest{Id: caseID})
		if err != nil {
			t.Fatal(err)
		}
		if r.GetEntryCount() != total || r.GetOpenRequestCount() != 0 {
			t.Errorf("%s counts %d entries, %d open requests; want %d, 0", n.Agency, r.GetEntryCount(), r.GetOpenRequestCount(), total)
		}
		cases = append(cases, r)
	}
	if got := cases[0].GetCase().GetSharedWith(); !slices.Equal(got, []string{"bravo", "charlie"}) {
		t.Errorf("alpha's case is shared with %v", got)
	}
	for i, n := range nodes[1:] {
		got := cases[i+1].GetCase()
		if !slices.Equal(got.GetSharedWith(), []string{n.Agency}) {
			t.Errorf("%s's copy is shared with %v, want [%s]", n.Agency, got.GetSharedWith(), n.Agency)
		}
		// The officer who opened it crosses as alpha/<role>/<pseudonym>.
		if m := pseudonymPattern.FindStringSubmatch(got.GetCreatedBy()); m == nil || m[1] != "alpha" {
			t.Errorf("%s's copy was created by %q", n.Agency, got.GetCreatedBy())
		}
		if diff := cmp.Diff(cases[0].GetCase(), got, protocmp.Transform(), protocmp.IgnoreFields(&liaisonv1.Case{}, "shared_with", "created_by")); diff != "" {
			t.Errorf("%s's copy of the case differs from alpha's (-alpha +%s):\n%s", n.Agency, n.Agency, diff)
		}
	}

	// Through alpha only: no envelope ever went between bravo and charlie.
	for _, pair := range [][2]*trioNode{{bravo, charlie}, {charlie, bravo}} {
		if c := countRows(t, pair[0].Cfg.Database.Path, "SELECT count(*) FROM inbox WHERE sender = ?", pair[1].Agency); c != 0 {
			t.Errorf("%s received %d envelopes straight from %s", pair[0].Agency, c, pair[1].Agency)
		}
	}
}

// waitEntryApplied waits until n lists entry id of a case as applied.
func waitEntryApplied(t *testing.T, n *trioNode, caseID, id string) {
	t.Helper()
	nodetest.Eventually(t, 10*time.Second, func() error {
		for _, e := range entries(t, n.cs, caseID) {
			if e.GetId() == id && e.GetState() == liaisonv1.EntryState_ENTRY_STATE_APPLIED {
				return nil
			}
		}
		return fmt.Errorf("%s does not list entry %s applied", n.Agency, id)
	})
}

// ---- charlie against alpha ----------------------------------------------------

// intruder drives a partner's channel into a node by hand, with the
// partner's own node key: signed, in-sequence envelopes.
type intruder struct {
	*secNode
	sender string
	ch     *secChannel
	key    secKey
	seq    uint64
}

// intrude opens sender's channel into target. The caller stops sender's
// real node first, so that only this channel sends from it; sequences go
// on from where the real node left off (the welcome says where).
func intrude(t *testing.T, target *nodetest.Node, sender string) *intruder {
	t.Helper()
	s := secOn(t, target)
	ch, err := s.open(t, sender, "node", &liaisonv1.Hello{Sender: sender, Receiver: target.Agency})
	if err != nil {
		t.Fatalf("open channel as %s's node: %v", sender, err)
	}
	return &intruder{secNode: s, sender: sender, ch: ch, key: s.nodeKey(t, sender), seq: ch.welcome.GetLastApplied()}
}

// send signs and sends one envelope of the next sequence and returns the
// receipt. If the channel did not consume the sequence, that is an error
// and the intruder takes up the sequence the node reports.
func (in *intruder) send(t *testing.T, kind liaisonv1.EnvelopeKind, recordID string, version int64, payload proto.Message) (*liaisonv1.Envelope, *liaisonv1.Receipt) {
	t.Helper()
	in.seq++
	env := &liaisonv1.Envelope{Id: uuid.Must(uuid.NewV7()).String(), Sender: in.sender, Receiver: in.node.Agency, Sequence: in.seq,
		Kind: kind, RecordId: recordID, RecordVersion: version, CreateTime: timestamppb.Now(), Payload: secMarshal(t, payload)}
	rc, rs := in.ch.one(t, secSign(t, in.key, in.sender, in.node.Agency, secMarshal(t, env)))
	if rs.GetHighestApplied() != in.seq {
		t.Errorf("after envelope %d (%s) %s reports highest applied %d: the channel did not go on", in.seq, kind, in.node.Agency, rs.GetHighestApplied())
		in.seq = rs.GetHighestApplied()
	}
	return env, rc
}

// recordTables are the tables that hold a node's records and what is
// derived from them (indexes, links, the change feed, what is queued for
// partners). Applying or rejecting an envelope legitimately writes only
// the inbox, the channel's position and the audit log, none of these.
var recordTables = []string{
	"SELECT * FROM leads", "SELECT * FROM cases", "SELECT * FROM case_entries", "SELECT * FROM case_leads", "SELECT * FROM case_shares",
	"SELECT * FROM manifests", "SELECT * FROM manifest_actions", "SELECT * FROM manifest_notes", "SELECT * FROM manifest_screenings",
	"SELECT * FROM permission_requests", "SELECT * FROM person_index", "SELECT * FROM person_identifiers", "SELECT rowid, * FROM person_names",
	"SELECT * FROM feed", "SELECT partner, seq, envelope_id, kind, record_id, record_version FROM outbox",
	"SELECT * FROM match_remote_indexes", "SELECT * FROM match_remote_entries", "SELECT * FROM match_follow_ups",
	"SELECT * FROM match_entries", "SELECT * FROM match_published", "SELECT * FROM match_dirty",
}

// recordState reads every row of recordTables, a row a line (blobs by
// their hash), per query, in a stable order.
func recordState(t *testing.T, db *sql.DB) map[string][]string {
	t.Helper()
	return queryState(t, db, recordTables)
}

// queryState reads every row each query returns, a row a line (blobs by
// their hash), per query, in a stable order.
func queryState(t testing.TB, db *sql.DB, queries []string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, q := range queries {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		cols, _ := rows.Columns()
		var lines []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				t.Fatal(err)
			}
			var b strings.Builder
			for i, v := range vals {
				if blob, ok := v.([]byte); ok {
					v = fmt.Sprintf("blob:%x", sha256.Sum256(blob))[:21]
				}
				fmt.Fprintf(&b, "%s=%v ", cols[i], v)
			}
			lines = append(lines, b.String())
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(lines)
		out[q] = lines
	}
	return out
}

// charlieLead is a valid lead of charlie's as charlie's node would send it.
func charlieLead(title string) *liaisonv1.Lead {
	l := secLead(title)
	l.OriginAgency, l.ReleasedTo, l.CreatedBy = "charlie", []string{"alpha"}, certs.PrincipalID("charlie", "analyst", "chloe")
	return l
}

// charlieCase is a case of charlie's shared with alpha.
func charlieCase(id string) *liaisonv1.Case {
	c := bravoCase("charlie's case")
	c.Id, c.OriginAgency, c.CreatedBy = id, "charlie", certs.PrincipalID("charlie", "analyst", "chloe")
	return c
}

// charlieEntry is an entry as charlie, a case's home, orders it.
func charlieEntry(caseID string, seq int64, e *liaisonv1.CaseEntry) *liaisonv1.CaseEntry {
	e = orderedEntry(caseID, seq, e)
	e.Agency, e.Author = "charlie", certs.PrincipalID("charlie", "analyst", "chloe")
	return e
}

// charlieProposal is an entry charlie proposes to a case's home.
func charlieProposal(caseID string, e *liaisonv1.CaseEntry) *liaisonv1.CaseEntry {
	e = proto.Clone(e).(*liaisonv1.CaseEntry)
	if e.Id == "" {
		e.Id = uuid.Must(uuid.NewV7()).String()
	}
	e.CaseId, e.Agency, e.Author = caseID, "charlie", certs.PrincipalID("charlie", "analyst", "chloe")
	e.State, e.CreateTime = liaisonv1.EntryState_ENTRY_STATE_PENDING, timestamppb.Now()
	return e
}

func charlieManifest(id string) *liaisonv1.Manifest {
	now := timestamppb.Now()
	return &liaisonv1.Manifest{Id: id, OriginAgency: "charlie", ReceivingAgency: "alpha", Version: 7, LegalBasis: "Readmission agreement, art. 5",
		State: liaisonv1.ManifestState_MANIFEST_STATE_PROPOSED, CreateTime: now, UpdateTime: now}
}

func charlieRequest(id, record, origin, requester string) *liaisonv1.PermissionRequest {
	return &liaisonv1.PermissionRequest{
		Id: id, RecordId: record, OriginAgency: origin, RequestingAgency: requester,
		Purpose: liaisonv1.PermissionPurpose_PERMISSION_PURPOSE_EXPORT, Justification: "our prosecutor",
		RequestedBy: certs.PrincipalID("charlie", "analyst", "chloe"), CreateTime: timestamppb.Now(), Status: liaisonv1.PermissionStatus_PERMISSION_STATUS_PENDING,
	}
}

func charlieDecision(r *liaisonv1.PermissionRequest) *liaisonv1.PermissionRequest {
	d := proto.Clone(r).(*liaisonv1.PermissionRequest)
	d.Status, d.DecidedBy, d.DecisionReason, d.DecideTime = liaisonv1.PermissionStatus_PERMISSION_STATUS_GRANTED, certs.PrincipalID("charlie", "supervisor", "carl"), "granted by charlie", timestamppb.Now()
	return d
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// trioRecords are the ids charlie attacks: alpha's own records (some
// shared with charlie, some not) and bravo's that alpha holds as replicas,
// and charlie's own that alpha holds.
type trioRecords struct {
	aLead, aCase, aCaseB, aNote, aReq, aReq2, aManB, aManC, aOwnReq string
	// bravo's blind index as alpha holds it, and alpha's follow-up of a
	// hit in it.
	bIndex, aFollowUp                string
	bLead, bCase, bNote, bManA, bReq string
	cCase                            string
}

// trioSetup builds the records of the attack test through the nodes' APIs
// and their federation, then stops charlie's node (its key lives on in the
// test) and waits until alpha and bravo have nothing left in flight.
func trioSetup(t *testing.T, alpha, bravo, charlie *trioNode) trioRecords {
	t.Helper()
	ctx := context.Background()
	var r trioRecords

	// Leads: alpha's H2 lead released to bravo and charlie; bravo's H2 lead
	// released to alpha.
	aLead := permLead("alpha's lead for both", liaisonv1.HandlingCode_HANDLING_CODE_H2)
	aLead.Subjects = person("Wiranto", "Agus")
	al := alpha.release(t, aLead, "bravo", "charlie")
	r.aLead = al.GetId()
	r.bLead = bravo.release(t, permLead("bravo's lead for alpha", liaisonv1.HandlingCode_HANDLING_CODE_H2), "alpha").GetId()
	bravo.fed.waitVersion(t, r.aLead, al.GetVersion())
	charlie.fed.waitVersion(t, r.aLead, al.GetVersion())
	alpha.fed.waitVersion(t, r.bLead, 1)

	// Permission requests both ways between alpha and bravo.
	ar, err := alpha.fed.perms.RequestPermission(ctx, &liaisonv1.RequestPermissionRequest{RecordId: r.bLead, Purpose: liaisonv1.PermissionPurpose_PERMISSION_PURPOSE_EXPORT, Justification: "our court"})
	if err != nil {
		t.Fatal(err)
	}
	r.aOwnReq = ar.GetRequest().GetId()
	br, err := bravo.fed.perms.RequestPermission(ctx, &liaisonv1.RequestPermissionRequest{RecordId: r.aLead, Purpose: liaisonv1.PermissionPurpose_PERMISSION_PURPOSE_EXPORT, Justification: "their court"})
	if err != nil {
		t.Fatal(err)
	}
	r.bReq = br.GetRequest().GetId()
	permWaitIncoming(t, alpha.fed, r.bReq)

	// Cases: alpha's shared with both partners, with a note and two
	// requests of bravo; alpha's shared with bravo only; bravo's shared with alpha,
	// with a note; charlie's shared with alpha.
	shared := func(home *trioNode, title string, partners ...string) string {
		c, err := home.cs.analyst.CreateCase(ctx, &liaisonv1.CreateCaseRequest{Case: newCase(title)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := home.cs.supervisor.ShareCase(ctx, &liaisonv1.ShareCaseRequest{Id: c.GetCase().GetId(), Partners: partners}); err != nil {
			t.Fatal(err)
		}
		return c.GetCase().GetId()
	}
	add := func(n *trioNode, caseID string, e *liaisonv1.CaseEntry) string {
		a, err := n.cs.analyst.AddCaseEntry(ctx, &liaisonv1.AddCaseEntryRequest{CaseId: caseID, Entry: e})
		if err != nil {
			t.Fatal(err)
		}
		return a.GetEntry().GetId()
	}
	r.aCase = shared(alpha, "alpha's case for both", "bravo", "charlie")
	r.aCaseB = shared(alpha, "alpha's case for bravo", "bravo")
	r.bCase = shared(bravo, "bravo's case for alpha", "alpha")
	r.cCase = shared(charlie, "charlie's case for alpha", "alpha")
	r.aNote = add(alpha, r.aCase, note("alpha's note"))
	ask := request("alpha asks bravo", liaisonv1.RequestUrgency_REQUEST_URGENCY_NORMAL)
	ask.Request.RequestedOf = "bravo"
	r.aReq = add(alpha, r.aCase, ask)
	ask2 := request("alpha asks bravo again", liaisonv1.RequestUrgency_REQUEST_URGENCY_NORMAL)
	ask2.Request.RequestedOf = "bravo"
	r.aReq2 = add(alpha, r.aCase, ask2)
	r.bNote = add(bravo, r.bCase, note("bravo's note"))
	cNote := add(charlie, r.aCase, note("charlie's real note")) // a real proposal from charlie's node
	waitEntryApplied(t, alpha, r.bCase, r.bNote)
	waitEntryApplied(t, alpha, r.aCase, cNote)
	waitEntryApplied(t, charlie, r.aCase, r.aReq)
	waitEntryApplied(t, charlie, r.aCase, cNote)
	nodetest.Eventually(t, 10*time.Second, func() error {
		_, err := alpha.cs.analyst.GetCase(ctx, &liaisonv1.GetCaseRequest{Id: r.cCase})
		return err
	})

	// Manifests: alpha's to bravo and to charlie, bravo's to alpha, each
	// proposed (so the receiving node holds it).
	flow := func(home, partner *trioNode) string {
		f := mfxFlow{home: home.man, partner: partner.man}
		m, _ := f.draft(t, 1, true)
		f.propose(t, m.GetId())
		return m.GetId()
	}
	r.aManB, r.aManC, r.bManA = flow(alpha, bravo), flow(alpha, charlie), flow(bravo, alpha)

	// Blind matching between alpha and bravo: bravo holds a passport, alpha
	// asks, hits and follows the hit up.
	am, bm := matchClients(t, alpha.Node), matchClients(t, bravo.Node)
	held := newLead("bravo's unreleased lead")
	held.Subjects = []*liaisonv1.Person{{Names: []*liaisonv1.PersonName{{FamilyName: "Chen", GivenNames: "Wei"}}, Documents: passport("E1234567", "CHN")}}
	if _, err := bm.leads.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: held}); err != nil {
		t.Fatal(err)
	}
	waitInSync(t, bm, am)
	hit, token := am.askDocument(t, "bravo", "E1234567", "CHN")
	if !hit {
		t.Fatal("alpha's blind query of bravo found no hit")
	}
	fu, err := am.analyst.FollowUpHit(ctx, &liaisonv1.FollowUpHitRequest{Partner: "bravo", HitToken: token,
		KeyKind: liaisonv1.MatchKeyKind_MATCH_KEY_KIND_DOCUMENT, Justification: "seen at the border"})
	if err != nil {
		t.Fatal(err)
	}
	r.aFollowUp = fu.GetFollowUp().GetId()
	if err := openDB(t, alpha.Cfg.Database.Path).QueryRow("SELECT index_id FROM match_remote_indexes").Scan(&r.bIndex); err != nil {
		t.Fatal(err)
	}

	// charlie's node has sent everything and got its receipts: stop it.
	charlie.fed.waitPartnerStatus(t, "alpha", 10*time.Second, settled)
	charlie.Stop(t)
	alpha.fed.waitPartnerStatus(t, "bravo", 10*time.Second, settled)
	bravo.fed.waitPartnerStatus(t, "alpha", 10*time.Second, settled)
	return r
}

// TestThreeAgencies_CharlieCannotChangeOthersRecords plays charlie with
// its own valid node key, after its node took part in real traffic:
// correctly signed, in-sequence envelopes of every kind, each aimed at a
// record alpha owns or holds for bravo. Each must be rejected with a
// reason code and audited, leave every record table of alpha's as it was,
// and leave the channel applying the next envelope.
//
// Several sub-tests fail until the ownership rule of DESIGN.md ("Trust
// boundary between nodes") is enforced by the appliers.
func TestThreeAgencies_CharlieCannotChangeOthersRecords(t *testing.T) {
	t.Parallel()
	alpha, bravo, charlie := startTrioWith(t, func(c *config.Config) {
		c.Match.IndexInterval.Duration = 50 * time.Millisecond
		if c.Agency != "charlie" { // alpha and bravo publish blind indexes to each other
			c.Match.Partners = []string{map[string]string{"alpha": "bravo", "bravo": "alpha"}[c.Agency]}
		}
	})
	r := trioSetup(t, alpha, bravo, charlie)
	in := intrude(t, alpha.Node, "charlie")
	if in.seq == 0 {
		t.Fatalf("welcome %v: charlie's real node should have sent alpha envelopes", in.ch.welcome)
	}
	db := openDB(t, alpha.Cfg.Database.Path)
	type env struct {
		kind    liaisonv1.EnvelopeKind
		id      string
		version int64
		payload proto.Message
	}
	lead := func(id, origin string) env {
		l := charlieLead("taken over by charlie")
		l.Id, l.Version, l.OriginAgency = id, 99, origin
		return env{liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD, id, 99, l}
	}
	tomb := func(id, origin string) env {
		return env{liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD_TOMBSTONE, id, 99, &liaisonv1.Tombstone{RecordId: id, OriginAgency: origin, Version: 99, DeleteTime: timestamppb.Now()}}
	}
	kase := func(id, origin string) env {
		c := charlieCase(id)
		c.OriginAgency, c.Version = origin, 99
		return env{liaisonv1.EnvelopeKind_ENVELOPE_KIND_CASE, id, 99, c}
	}
	ordered := func(e *liaisonv1.CaseEntry) env {
		return env{liaisonv1.EnvelopeKind_ENVELOPE_KIND_CASE_ENTRY, e.GetId(), e.GetSequence(), e}
	}
	proposal := func(e *liaisonv1.CaseEntry) env {
		return env{liaisonv1.EnvelopeKind_ENVELOPE_KIND_CASE_ENTRY_PROPOSAL, e.GetId(), 1, e}
	}
	withID := func(e *liaisonv1.CaseEntry, id string) *liaisonv1.CaseEntry { e.Id = id; return e }
	manifest := func(id string) env {
		return env{liaisonv1.EnvelopeKind_ENVELOPE_KIND_MANIFEST, id, 7, charlieManifest(id)}
	}
	cancel := func(manifestID string) env {
		a := &liaisonv1.ManifestAction{Id: newID(), ManifestId: manifestID, Kind: liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_CANCEL,
			Reason: "cancelled by charlie", Principal: certs.PrincipalID("charlie", "supervisor", "carl"), CreateTime: timestamppb.Now()}
		return env{liaisonv1.EnvelopeKind_ENVELOPE_KIND_MANIFEST_ACTION, a.GetId(), 1, a}
	}
	permReq := func(p *liaisonv1.PermissionRequest) env {
		return env{liaisonv1.EnvelopeKind_ENVELOPE_KIND_PERMISSION_REQUEST, p.GetId(), 1, p}
	}
	// The requests as alpha holds them, to forge decisions on.
	held := map[string]*liaisonv1.PermissionRequest{r.aOwnReq: in.request(t, r.aOwnReq), r.bReq: in.request(t, r.bReq)}
	decision := func(id string) env {
		return env{liaisonv1.EnvelopeKind_ENVELOPE_KIND_PERMISSION_DECISION, id, 2, charlieDecision(held[id])}
	}

	index := func(indexID, holder, partner string) env {
		u := &liaisonv1.MatchIndexUpdate{IndexId: indexID, Holder: holder, Partner: partner, Epoch: 9, PublicKey: make([]byte, 32),
			Complete: true, Added: bytes.Repeat([]byte{0xab}, 32)}
		return env{liaisonv1.EnvelopeKind_ENVELOPE_KIND_MATCH_INDEX, indexID, 1, u}
	}
	followUp := func(id, querier, holder string) *liaisonv1.MatchFollowUp {
		return &liaisonv1.MatchFollowUp{Id: id, Querier: querier, Holder: holder, HitToken: "AAAA", Justification: "charlie",
			Status: liaisonv1.MatchFollowUpStatus_MATCH_FOLLOW_UP_STATUS_RELEASED, CreateTime: timestamppb.Now(), DueTime: timestamppb.Now()}
	}
	fuEnv := func(kind liaisonv1.EnvelopeKind, f *liaisonv1.MatchFollowUp, version int64) env {
		return env{kind, f.GetId(), version, f}
	}

	attacks := []struct {
		name  string
		build func() env
	}{
		// ENVELOPE_KIND_MATCH_INDEX
		{"match index/bravo's index, bravo as holder", func() env { return index(r.bIndex, "bravo", "alpha") }},
		{"match index/bravo's index, charlie as holder", func() env { return index(r.bIndex, "charlie", "alpha") }},
		{"match index/charlie's, for bravo", func() env { return index(newID(), "charlie", "bravo") }},
		{"match index/id of alpha's lead", func() env { return index(r.aLead, "charlie", "alpha") }},
		// ENVELOPE_KIND_MATCH_FOLLOW_UP
		{"match follow-up/naming bravo as asker", func() env {
			return fuEnv(liaisonv1.EnvelopeKind_ENVELOPE_KIND_MATCH_FOLLOW_UP, followUp(newID(), "bravo", "alpha"), 1)
		}},
		{"match follow-up/id of alpha's follow-up of bravo", func() env {
			return fuEnv(liaisonv1.EnvelopeKind_ENVELOPE_KIND_MATCH_FOLLOW_UP, followUp(r.aFollowUp, "charlie", "alpha"), 1)
		}},
		// ENVELOPE_KIND_MATCH_FOLLOW_UP_DECISION
		{"match decision/alpha's follow-up of bravo, bravo as holder", func() env {
			return fuEnv(liaisonv1.EnvelopeKind_ENVELOPE_KIND_MATCH_FOLLOW_UP_DECISION, followUp(r.aFollowUp, "alpha", "bravo"), 2)
		}},
		{"match decision/alpha's follow-up of bravo, charlie as holder", func() env {
			return fuEnv(liaisonv1.EnvelopeKind_ENVELOPE_KIND_MATCH_FOLLOW_UP_DECISION, followUp(r.aFollowUp, "alpha", "charlie"), 2)
		}},
		// ENVELOPE_KIND_LEAD
		{"lead/alpha's lead, charlie as originator", func() env { return lead(r.aLead, "charlie") }},
		{"lead/alpha's lead, alpha as originator", func() env { return lead(r.aLead, "alpha") }},
		{"lead/bravo's replica, charlie as originator", func() env { return lead(r.bLead, "charlie") }},
		{"lead/bravo's replica, bravo as originator", func() env { return lead(r.bLead, "bravo") }},
		{"lead/id of alpha's case", func() env { return lead(r.aCase, "charlie") }},
		// ENVELOPE_KIND_LEAD_TOMBSTONE
		{"tombstone/alpha's lead, charlie as originator", func() env { return tomb(r.aLead, "charlie") }},
		{"tombstone/alpha's lead, alpha as originator", func() env { return tomb(r.aLead, "alpha") }},
		{"tombstone/bravo's replica, charlie as originator", func() env { return tomb(r.bLead, "charlie") }},
		{"tombstone/bravo's replica, bravo as originator", func() env { return tomb(r.bLead, "bravo") }},
		{"tombstone/id of alpha's other case", func() env { return tomb(r.aCaseB, "charlie") }},
		// ENVELOPE_KIND_PERMISSION_REQUEST
		{"permission request/id of alpha's own request to bravo", func() env { return permReq(charlieRequest(r.aOwnReq, r.aLead, "alpha", "charlie")) }},
		{"permission request/id of bravo's request to alpha", func() env { return permReq(charlieRequest(r.bReq, r.aLead, "alpha", "charlie")) }},
		{"permission request/bravo's lead, as if alpha's", func() env { return permReq(charlieRequest(newID(), r.bLead, "alpha", "charlie")) }},
		{"permission request/naming bravo as requester", func() env { return permReq(charlieRequest(newID(), r.aLead, "alpha", "bravo")) }},
		// ENVELOPE_KIND_PERMISSION_DECISION
		{"permission decision/alpha's request to bravo", func() env { return decision(r.aOwnReq) }},
		{"permission decision/bravo's request to alpha", func() env { return decision(r.bReq) }},
		// ENVELOPE_KIND_CASE
		{"case/alpha's case, charlie as originator", func() env { return kase(r.aCase, "charlie") }},
		{"case/alpha's case, alpha as originator", func() env { return kase(r.aCase, "alpha") }},
		{"case/bravo's replica, charlie as originator", func() env { return kase(r.bCase, "charlie") }},
		{"case/id of alpha's lead", func() env { return kase(r.aLead, "charlie") }},
		// ENVELOPE_KIND_CASE_ENTRY: only a case's home orders its entries.
		{"entry/ordered into alpha's case", func() env { return ordered(charlieEntry(r.aCase, 99, note("ordered by charlie"))) }},
		{"entry/ordered into bravo's replica", func() env { return ordered(charlieEntry(r.bCase, 99, note("ordered by charlie"))) }},
		{"entry/charlie's case, id of alpha's entry", func() env {
			return ordered(withID(charlieEntry(r.cCase, 1, note("overwrites alpha's")), r.aNote))
		}},
		{"entry/charlie's case, id of bravo's entry", func() env {
			return ordered(withID(charlieEntry(r.cCase, 1, note("overwrites bravo's")), r.bNote))
		}},
		{"entry/charlie's case, response closing alpha's request", func() env {
			return ordered(charlieEntry(r.cCase, 1, response("closes alpha's request", r.aReq2)))
		}},
		{"entry/charlie's case, id of alpha's manifest", func() env {
			return ordered(withID(charlieEntry(r.cCase, 1, note("under a manifest's id")), r.aManB))
		}},
		// ENVELOPE_KIND_CASE_ENTRY_PROPOSAL
		{"proposal/to bravo's replica", func() env { return proposal(charlieProposal(r.bCase, note("to bravo's case, via alpha"))) }},
		{"proposal/to alpha's case not shared with charlie", func() env { return proposal(charlieProposal(r.aCaseB, note("not my case"))) }},
		{"proposal/id of alpha's entry", func() env {
			return proposal(charlieProposal(r.aCase, withID(note("reuses alpha's entry id"), r.aNote)))
		}},
		{"proposal/id of bravo's entry", func() env {
			return proposal(charlieProposal(r.aCase, withID(note("reuses bravo's entry id"), r.bNote)))
		}},
		{"proposal/naming bravo as author", func() env {
			e := charlieProposal(r.aCase, note("written by bravo, says charlie"))
			e.Agency, e.Author = "bravo", certs.PrincipalID("bravo", "analyst", "bob")
			return proposal(e)
		}},
		{"proposal/answering alpha's request of bravo", func() env {
			return proposal(charlieProposal(r.aCase, response("answered by charlie", r.aReq)))
		}},
		{"proposal/id of bravo's lead", func() env {
			return proposal(charlieProposal(r.aCase, withID(note("proposed under a lead's id"), r.bLead)))
		}},
		// ENVELOPE_KIND_MANIFEST
		{"manifest/alpha's manifest to bravo", func() env { return manifest(r.aManB) }},
		{"manifest/alpha's manifest to charlie", func() env { return manifest(r.aManC) }},
		{"manifest/bravo's replica", func() env { return manifest(r.bManA) }},
		{"manifest/id of bravo's case", func() env { return manifest(r.bCase) }},
		// ENVELOPE_KIND_MANIFEST_ACTION
		{"manifest action/cancel alpha's manifest to bravo", func() env { return cancel(r.aManB) }},
		{"manifest action/cancel bravo's replica", func() env { return cancel(r.bManA) }},
	}
	tried := map[liaisonv1.EnvelopeKind]bool{}
	for _, tc := range attacks {
		t.Run(tc.name, func(t *testing.T) {
			before := recordState(t, db)
			e := tc.build()
			tried[e.kind] = true
			sent, rc := in.send(t, e.kind, e.id, e.version, e.payload)
			if rc.GetStatus() != liaisonv1.ReceiptStatus_RECEIPT_STATUS_REJECTED || rc.GetReasonCode() == "" || rc.GetReason() == "" {
				t.Errorf("receipt %v; want REJECTED with a reason code and a reason", rc)
			} else {
				t.Logf("rejected: %s: %s", rc.GetReasonCode(), rc.GetReason())
				in.assertAudited(t, "federation.envelope.rejected", "envelope "+sent.GetId())
			}
			if diff := cmp.Diff(before, recordState(t, db)); diff != "" {
				t.Errorf("alpha's records changed (-before +after):\n%s", diff)
			}
		})
	}

	// Every kind was tried.
	for k := range liaisonv1.EnvelopeKind_name {
		if kind := liaisonv1.EnvelopeKind(k); kind != liaisonv1.EnvelopeKind_ENVELOPE_KIND_UNSPECIFIED && !tried[kind] {
			t.Errorf("no attack sends an envelope of kind %s", kind)
		}
	}

	// The channel goes on: charlie's own lead still applies, and a new
	// channel is welcomed where this one stands.
	ok := charlieLead("charlie's own lead, after all that")
	_, rc := in.send(t, liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD, ok.GetId(), ok.GetVersion(), ok)
	if rc.GetStatus() != liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED {
		t.Errorf("charlie's own lead after the attacks: %v, want APPLIED", rc)
	}
	if _, err := alpha.fed.analyst.GetLead(context.Background(), &liaisonv1.GetLeadRequest{Id: ok.GetId()}); err != nil {
		t.Errorf("alpha's copy of charlie's own lead: %v", err)
	}
	again := intrude(t, alpha.Node, "charlie")
	if again.seq != in.seq {
		t.Errorf("a new channel from charlie is welcomed at %d, want %d", again.seq, in.seq)
	}
}
