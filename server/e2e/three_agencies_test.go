package e2e

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
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
	a, b, c := nodetest.Trio(t, nil)
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
		if diff := cmp.Diff(cases[0].GetCase(), got, protocmp.Transform(), protocmp.IgnoreFields(&liaisonv1.Case{}, "shared_with")); diff != "" {
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
