package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

type caseNode struct {
	*nodetest.Node
	analyst, supervisor liaisonv1.CaseServiceClient
}

func caseClients(t *testing.T, n *nodetest.Node) *caseNode {
	return &caseNode{Node: n,
		analyst:    liaisonv1.NewCaseServiceClient(n.Conn(t, "analyst")),
		supervisor: liaisonv1.NewCaseServiceClient(n.Conn(t, "supervisor")),
	}
}

func casePair(t *testing.T) (*caseNode, *caseNode) {
	a, b := nodetest.Pair(t, nil)
	return caseClients(t, a), caseClients(t, b)
}

func newCase(title string) *liaisonv1.Case {
	return &liaisonv1.Case{
		Title:      title,
		CrimeAreas: []liaisonv1.CrimeArea{liaisonv1.CrimeArea_CRIME_AREA_MIGRANT_SMUGGLING},
		Subjects:   []*liaisonv1.Person{{Names: []*liaisonv1.PersonName{{FamilyName: "Chen", GivenNames: "Wei"}}}},
	}
}

// sharedCase creates a case on home and shares it with partner, and waits
// until partner holds it.
func sharedCase(t *testing.T, home, partner *caseNode, title string) *liaisonv1.Case {
	t.Helper()
	ctx := context.Background()
	c, err := home.analyst.CreateCase(ctx, &liaisonv1.CreateCaseRequest{Case: newCase(title)})
	if err != nil {
		t.Fatal(err)
	}
	sh, err := home.supervisor.ShareCase(ctx, &liaisonv1.ShareCaseRequest{Id: c.GetCase().GetId(), Partners: []string{partner.Agency}})
	if err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 10*time.Second, func() error {
		_, err := partner.analyst.GetCase(ctx, &liaisonv1.GetCaseRequest{Id: sh.GetCase().GetId()})
		return err
	})
	return sh.GetCase()
}

func note(text string) *liaisonv1.CaseEntry {
	return &liaisonv1.CaseEntry{Kind: liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_NOTE, Text: text}
}

func entries(t *testing.T, n *caseNode, caseID string) []*liaisonv1.CaseEntry {
	t.Helper()
	var out []*liaisonv1.CaseEntry
	token := ""
	for {
		r, err := n.analyst.ListCaseEntries(context.Background(), &liaisonv1.ListCaseEntriesRequest{CaseId: caseID, PageSize: 7, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r.GetEntries()...)
		if token = r.GetNextPageToken(); token == "" {
			return out
		}
	}
}

// applied leaves out rejected entries, which only the proposer's node
// keeps (to show the rejection).
func applied(list []*liaisonv1.CaseEntry) []*liaisonv1.CaseEntry {
	var out []*liaisonv1.CaseEntry
	for _, e := range list {
		if e.GetState() != liaisonv1.EntryState_ENTRY_STATE_REJECTED {
			out = append(out, e)
		}
	}
	return out
}

// waitSameEntries waits until both nodes list the same n applied entries.
func waitSameEntries(t *testing.T, a, b *caseNode, caseID string, n int) []*liaisonv1.CaseEntry {
	t.Helper()
	var ea, eb []*liaisonv1.CaseEntry
	nodetest.Eventually(t, 15*time.Second, func() error {
		ea, eb = applied(entries(t, a, caseID)), applied(entries(t, b, caseID))
		if len(ea) != n || len(eb) != n {
			return fmt.Errorf("%s lists %d entries, %s %d; want %d", a.Agency, len(ea), b.Agency, len(eb), n)
		}
		for i := range ea {
			if ea[i].GetState() != liaisonv1.EntryState_ENTRY_STATE_APPLIED || eb[i].GetState() != liaisonv1.EntryState_ENTRY_STATE_APPLIED {
				return fmt.Errorf("entry %d not applied on both nodes yet", i)
			}
			// The proposer marks its entry applied on the home node's
			// receipt; the ordered copy (sequence, apply time, the
			// request it answers closed) may arrive a moment later.
			if ea[i].GetSequence() == 0 || eb[i].GetSequence() == 0 || !proto.Equal(ea[i].GetApplyTime(), eb[i].GetApplyTime()) {
				return fmt.Errorf("entry %d not yet ordered on both nodes", i)
			}
			if !proto.Equal(ea[i].GetRequest(), eb[i].GetRequest()) {
				return fmt.Errorf("request %d not yet closed on both nodes", i)
			}
		}
		return nil
	})
	// Authors differ by design: each node names its own officers and
	// knows the other's by pseudonym only (server/officers).
	for _, side := range []struct {
		n  *caseNode
		es []*liaisonv1.CaseEntry
	}{{a, ea}, {b, eb}} {
		for _, e := range side.es {
			own := e.GetAgency() == side.n.Agency
			if own && !strings.HasPrefix(e.GetAuthor(), "spiffe://") || !own && !pseudonymPattern.MatchString(e.GetAuthor()) {
				t.Errorf("%s names the author of %s's entry %s %q", side.n.Agency, e.GetAgency(), e.GetId(), e.GetAuthor())
			}
		}
	}
	if diff := cmp.Diff(ea, eb, protocmp.Transform(), protocmp.IgnoreFields(&liaisonv1.CaseEntry{}, "author")); diff != "" {
		t.Fatalf("the two nodes hold different entry lists (-%s +%s):\n%s", a.Agency, b.Agency, diff)
	}
	return ea
}

func TestCases_EntriesFromBothSidesEndInOneOrder(t *testing.T) {
	t.Parallel()
	alpha, bravo := casePair(t)
	ctx := context.Background()
	c := sharedCase(t, alpha, bravo, "Kupang network")
	if c.GetOriginAgency() != "alpha" {
		t.Fatalf("origin %q", c.GetOriginAgency())
	}

	// Concurrent entries from both sides.
	var wg sync.WaitGroup
	for _, n := range []*caseNode{alpha, bravo} {
		for w := 0; w < 3; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 5; i++ {
					if _, err := n.analyst.AddCaseEntry(ctx, &liaisonv1.AddCaseEntryRequest{CaseId: c.GetId(), Entry: note(fmt.Sprintf("%s %d/%d", n.Agency, w, i))}); err != nil {
						t.Error(err)
					}
				}
			}()
		}
	}
	wg.Wait()
	list := waitSameEntries(t, alpha, bravo, c.GetId(), 30)
	byAgency := map[string]int{}
	for i, e := range list {
		if e.GetSequence() != int64(i+1) {
			t.Fatalf("entry %d has sequence %d", i, e.GetSequence())
		}
		byAgency[e.GetAgency()]++
		// alpha's list: its own officer by name, bravo's by pseudonym.
		if e.GetAgency() == "alpha" && e.GetAuthor() != "spiffe://alpha.liaison.test/analyst/alice" ||
			e.GetAgency() == "bravo" && !strings.HasPrefix(e.GetAuthor(), "bravo/analyst/") {
			t.Errorf("entry %s written by %s has author %q", e.GetId(), e.GetAgency(), e.GetAuthor())
		}
	}
	if byAgency["alpha"] != 15 || byAgency["bravo"] != 15 {
		t.Fatalf("entries by agency: %v", byAgency)
	}
}

func TestCases_PartnerEntryPendingThenApplied(t *testing.T) {
	t.Parallel()
	alpha, bravo := casePair(t)
	ctx := context.Background()
	c := sharedCase(t, alpha, bravo, "pending then applied")
	alpha.Stop(t) // the home node is away: bravo's entry must wait
	r, err := bravo.analyst.AddCaseEntry(ctx, &liaisonv1.AddCaseEntryRequest{CaseId: c.GetId(), Entry: note("seen the boat leave")})
	if err != nil {
		t.Fatal(err)
	}
	if e := r.GetEntry(); e.GetState() != liaisonv1.EntryState_ENTRY_STATE_PENDING || e.GetSequence() != 0 || e.GetAgency() != "bravo" {
		t.Fatalf("entry on a partner's node: %v", e)
	}
	if got := entries(t, bravo, c.GetId()); len(got) != 1 || got[0].GetState() != liaisonv1.EntryState_ENTRY_STATE_PENDING {
		t.Fatalf("bravo lists %v", got)
	}
	alpha.Restart(t)
	list := waitSameEntries(t, alpha, bravo, c.GetId(), 1)
	if list[0].GetId() != r.GetEntry().GetId() || list[0].GetSequence() != 1 || list[0].GetApplyTime() == nil {
		t.Fatalf("applied entry: %v", list[0])
	}
}

func request(text string, u liaisonv1.RequestUrgency) *liaisonv1.CaseEntry {
	return &liaisonv1.CaseEntry{Kind: liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_REQUEST, Text: text, Request: &liaisonv1.RequestDetails{Urgency: u}}
}

func response(text, requestID string) *liaisonv1.CaseEntry {
	return &liaisonv1.CaseEntry{Kind: liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_RESPONSE, Text: text, Response: &liaisonv1.ResponseDetails{RequestEntryId: requestID}}
}

func TestCases_RequestsForAssistance(t *testing.T) {
	t.Parallel()
	alpha, bravo := casePair(t)
	ctx := context.Background()
	c := sharedCase(t, alpha, bravo, "requests")

	// Deadlines by urgency.
	want := map[liaisonv1.RequestUrgency]time.Duration{
		liaisonv1.RequestUrgency_REQUEST_URGENCY_URGENT: 8 * time.Hour,
		liaisonv1.RequestUrgency_REQUEST_URGENCY_HIGH:   72 * time.Hour,
		liaisonv1.RequestUrgency_REQUEST_URGENCY_NORMAL: 168 * time.Hour,
	}
	reqs := map[liaisonv1.RequestUrgency]*liaisonv1.CaseEntry{}
	for u, d := range want {
		r, err := alpha.analyst.AddCaseEntry(ctx, &liaisonv1.AddCaseEntryRequest{CaseId: c.GetId(), Entry: request("trace this phone", u)})
		if err != nil {
			t.Fatal(err)
		}
		e := r.GetEntry()
		if got := e.GetRequest().GetDueTime().AsTime().Sub(e.GetCreateTime().AsTime()); got != d {
			t.Errorf("%s request: due %v after it was written, want %v", u, got, d)
		}
		if e.GetRequest().GetRequestedOf() != "bravo" {
			t.Errorf("request owed by %q, want bravo (the other agency)", e.GetRequest().GetRequestedOf())
		}
		reqs[u] = e
	}
	// One request whose deadline passes during the test.
	soon, err := alpha.analyst.AddCaseEntry(ctx, &liaisonv1.AddCaseEntryRequest{CaseId: c.GetId(), Entry: &liaisonv1.CaseEntry{
		Kind: liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_REQUEST, Text: "who owns the boat?",
		Request: &liaisonv1.RequestDetails{Urgency: liaisonv1.RequestUrgency_REQUEST_URGENCY_URGENT, DueTime: timestamppb.New(time.Now().Add(1500 * time.Millisecond))},
	}})
	if err != nil {
		t.Fatal(err)
	}
	waitSameEntries(t, alpha, bravo, c.GetId(), 4)
	time.Sleep(1600 * time.Millisecond)

	open, err := bravo.analyst.ListOpenRequests(ctx, &liaisonv1.ListOpenRequestsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(open.GetRequests()) != 4 {
		t.Fatalf("bravo owes %d requests, want 4", len(open.GetRequests()))
	}
	first := open.GetRequests()[0]
	if first.GetEntry().GetId() != soon.GetEntry().GetId() || !first.GetOverdue() || first.GetOpenFor().AsDuration() < time.Second {
		t.Fatalf("first open request: %v, want the overdue one first", first)
	}
	for _, r := range open.GetRequests()[1:] {
		if r.GetOverdue() {
			t.Errorf("request %s marked overdue", r.GetEntry().GetId())
		}
	}
	if mine, err := alpha.analyst.ListOpenRequests(ctx, &liaisonv1.ListOpenRequestsRequest{}); err != nil || len(mine.GetRequests()) != 0 {
		t.Fatalf("alpha owes %v (%v), want nothing", mine.GetRequests(), err)
	}
	if asked, err := alpha.analyst.ListOpenRequests(ctx, &liaisonv1.ListOpenRequestsRequest{Direction: liaisonv1.RequestDirection_REQUEST_DIRECTION_OWED_TO_US}); err != nil || len(asked.GetRequests()) != 4 {
		t.Fatalf("alpha awaits %d answers (%v), want 4", len(asked.GetRequests()), err)
	}

	// bravo answers the urgent request: it closes on both nodes.
	urgent := reqs[liaisonv1.RequestUrgency_REQUEST_URGENCY_URGENT]
	if _, err := bravo.analyst.AddCaseEntry(ctx, &liaisonv1.AddCaseEntryRequest{CaseId: c.GetId(), Entry: response("the phone is registered in Kupang", urgent.GetId())}); err != nil {
		t.Fatal(err)
	}
	list := waitSameEntries(t, alpha, bravo, c.GetId(), 5)
	for _, e := range list {
		if e.GetId() == urgent.GetId() && (!e.GetRequest().GetAnswered() || e.GetRequest().GetAnsweredByEntryId() != list[4].GetId()) {
			t.Fatalf("answered request on both nodes: %v", e.GetRequest())
		}
	}
	for _, n := range []*caseNode{alpha, bravo} {
		dir := liaisonv1.RequestDirection_REQUEST_DIRECTION_OWED_BY_US
		if n == alpha {
			dir = liaisonv1.RequestDirection_REQUEST_DIRECTION_OWED_TO_US
		}
		r, err := n.analyst.ListOpenRequests(ctx, &liaisonv1.ListOpenRequestsRequest{Direction: dir})
		if err != nil || len(r.GetRequests()) != 3 {
			t.Fatalf("%s lists %d open requests after the answer (%v), want 3", n.Agency, len(r.GetRequests()), err)
		}
	}

	// Only the agency that owes a request answers it.
	_, err = alpha.analyst.AddCaseEntry(ctx, &liaisonv1.AddCaseEntryRequest{CaseId: c.GetId(), Entry: response("we answer ourselves", reqs[liaisonv1.RequestUrgency_REQUEST_URGENCY_HIGH].GetId())})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("alpha answering a request bravo owes: %v", err)
	}
}

func TestCases_RejectedProposalBlocksNothing(t *testing.T) {
	t.Parallel()
	alpha, bravo := casePair(t)
	ctx := context.Background()
	c := sharedCase(t, alpha, bravo, "rejections")
	req, err := alpha.analyst.AddCaseEntry(ctx, &liaisonv1.AddCaseEntryRequest{CaseId: c.GetId(), Entry: request("where is the safe house?", liaisonv1.RequestUrgency_REQUEST_URGENCY_HIGH)})
	if err != nil {
		t.Fatal(err)
	}
	waitSameEntries(t, alpha, bravo, c.GetId(), 1)

	// Two answers written on bravo before either reached alpha: bravo's
	// view still has the request open for both; alpha applies the first
	// and rejects the second (the request is closed by then).
	alpha.Stop(t)
	first, err := bravo.analyst.AddCaseEntry(ctx, &liaisonv1.AddCaseEntryRequest{CaseId: c.GetId(), Entry: response("in Atambua", req.GetEntry().GetId())})
	if err != nil {
		t.Fatal(err)
	}
	second, err := bravo.analyst.AddCaseEntry(ctx, &liaisonv1.AddCaseEntryRequest{CaseId: c.GetId(), Entry: response("actually in Kefamenanu", req.GetEntry().GetId())})
	if err != nil {
		t.Fatal(err)
	}
	after, err := bravo.analyst.AddCaseEntry(ctx, &liaisonv1.AddCaseEntryRequest{CaseId: c.GetId(), Entry: note("a note after the rejected one")})
	if err != nil {
		t.Fatal(err)
	}
	alpha.Restart(t)
	nodetest.Eventually(t, 15*time.Second, func() error {
		states := map[string]liaisonv1.EntryState{}
		reasons := map[string]string{}
		for _, e := range entries(t, bravo, c.GetId()) {
			states[e.GetId()], reasons[e.GetId()] = e.GetState(), e.GetRejectionReason()
		}
		if states[first.GetEntry().GetId()] != liaisonv1.EntryState_ENTRY_STATE_APPLIED ||
			states[second.GetEntry().GetId()] != liaisonv1.EntryState_ENTRY_STATE_REJECTED ||
			states[after.GetEntry().GetId()] != liaisonv1.EntryState_ENTRY_STATE_APPLIED {
			return fmt.Errorf("states on bravo: %v", states)
		}
		if reasons[second.GetEntry().GetId()] == "" {
			return fmt.Errorf("rejected entry without a reason")
		}
		t.Logf("bravo shows the rejection: %s", reasons[second.GetEntry().GetId()])
		return nil
	})
	// The rejected entry is not in the home node's list; the note after it is.
	home := entries(t, alpha, c.GetId())
	if len(home) != 3 || home[1].GetId() != first.GetEntry().GetId() || home[2].GetId() != after.GetEntry().GetId() {
		t.Fatalf("alpha's entries: %v", home)
	}

	// A partner cannot change the case itself: refused on its own node.
	got, err := bravo.analyst.GetCase(ctx, &liaisonv1.GetCaseRequest{Id: c.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bravo.analyst.UpdateCase(ctx, &liaisonv1.UpdateCaseRequest{
		Case: &liaisonv1.Case{Id: c.GetId(), Etag: got.GetCase().GetEtag(), Title: "ours now"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
	})
	st, _ := status.FromError(err)
	if st.Code() != codes.FailedPrecondition {
		t.Fatalf("bravo updating alpha's case: %v", err)
	}
	// And it blocks nothing: a later entry from bravo still applies.
	if _, err := bravo.analyst.AddCaseEntry(ctx, &liaisonv1.AddCaseEntryRequest{CaseId: c.GetId(), Entry: note("still working")}); err != nil {
		t.Fatal(err)
	}
	waitSameEntries(t, alpha, bravo, c.GetId(), 4)
}

func TestCases_LinkedLeadSubjectsShownOnce(t *testing.T) {
	t.Parallel()
	alpha, bravo := casePair(t)
	_ = bravo
	ctx := context.Background()
	leads := liaisonv1.NewLeadServiceClient(alpha.Conn(t, "analyst"))
	l := newLead("lead with the same person")
	passport := &liaisonv1.IdentityDocument{Type: liaisonv1.DocumentType_DOCUMENT_TYPE_PASSPORT, Number: "E1234567", IssuingCountry: "CHN"}
	l.Subjects = []*liaisonv1.Person{
		{Names: []*liaisonv1.PersonName{{FamilyName: "Chen", GivenNames: "Wei"}}, Documents: []*liaisonv1.IdentityDocument{passport}},
		{Names: []*liaisonv1.PersonName{{FamilyName: "Somchai"}}},
	}
	cl, err := leads.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: l})
	if err != nil {
		t.Fatal(err)
	}
	cs := newCase("case with a linked lead")
	cs.Subjects[0].Documents = []*liaisonv1.IdentityDocument{{Type: liaisonv1.DocumentType_DOCUMENT_TYPE_PASSPORT, Number: "e 123-4567", IssuingCountry: "CHN"}}
	c, err := alpha.analyst.CreateCase(ctx, &liaisonv1.CreateCaseRequest{Case: cs})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alpha.analyst.LinkLead(ctx, &liaisonv1.LinkLeadRequest{CaseId: c.GetCase().GetId(), LeadId: cl.GetLead().GetId()}); err != nil {
		t.Fatal(err)
	}
	got, err := alpha.analyst.GetCase(ctx, &liaisonv1.GetCaseRequest{Id: c.GetCase().GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.GetSubjects()) != 2 {
		t.Fatalf("merged subjects: %v, want Chen Wei once and Somchai", got.GetSubjects())
	}
	chen := got.GetSubjects()[0]
	if len(chen.GetSources()) != 2 || chen.GetSources()[0] != "case" || chen.GetSources()[1] != "leads/"+cl.GetLead().GetId() {
		t.Fatalf("Chen Wei's sources: %v", chen.GetSources())
	}
}
