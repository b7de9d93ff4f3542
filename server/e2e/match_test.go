package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudflare/circl/oprf"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/config"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/nodetest"
	"github.com/liaison-exchange/liaison/server/store"
)

// wire records every message a node receives at its handlers.
type wire struct {
	mu   sync.Mutex
	msgs [][]byte
}

func (w *wire) add(m any) {
	if pm, ok := m.(proto.Message); ok {
		b, _ := proto.Marshal(pm)
		w.mu.Lock()
		w.msgs = append(w.msgs, b)
		w.mu.Unlock()
	}
}

func (w *wire) take() [][]byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.msgs
	w.msgs = nil
	return out
}

type recvStream struct {
	grpc.ServerStream
	w *wire
}

func (s recvStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil {
		s.w.add(m)
	}
	return err
}

func (w *wire) options() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			w.add(req)
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			return h(srv, recvStream{ss, w})
		}),
	}
}

// encodings are the ways a value could be written down: as typed, in
// upper and lower case, and the hex of SHA-256 of each.
func encodings(values ...string) []string {
	var out []string
	for _, v := range values {
		for _, f := range []string{v, strings.ToLower(v), strings.ToUpper(v)} {
			h := sha256.Sum256([]byte(f))
			out = append(out, f, hex.EncodeToString(h[:]), string(h[:]))
		}
	}
	return out
}

// leaks returns the encodings found in b.
func leaks(b []byte, encs []string) []string {
	var out []string
	for _, e := range encs {
		if bytes.Contains(b, []byte(e)) {
			out = append(out, fmt.Sprintf("%q", e))
		}
	}
	return out
}

// matchWithAll has a node publish its blind index to every partner,
// brought up to date every 50 ms.
func matchWithAll(c *config.Config) {
	c.Match.IndexInterval.Duration = 50 * time.Millisecond
	c.Match.Partners = nil
	for _, p := range c.Partners {
		c.Match.Partners = append(c.Match.Partners, p.Agency)
	}
}

type matchNode struct {
	*nodetest.Node
	analyst, supervisor liaisonv1.MatchServiceClient
	leads, leadsSup     liaisonv1.LeadServiceClient
}

func matchClients(t *testing.T, n *nodetest.Node) *matchNode {
	return &matchNode{Node: n,
		analyst:    liaisonv1.NewMatchServiceClient(n.Conn(t, "analyst")),
		supervisor: liaisonv1.NewMatchServiceClient(n.Conn(t, "supervisor")),
		leads:      liaisonv1.NewLeadServiceClient(n.Conn(t, "analyst")),
		leadsSup:   liaisonv1.NewLeadServiceClient(n.Conn(t, "supervisor")),
	}
}

func (n *matchNode) status(t *testing.T, partner string) *liaisonv1.MatchPartnerStatus {
	t.Helper()
	r, err := n.analyst.GetMatchStatus(context.Background(), &liaisonv1.GetMatchStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range r.GetPartners() {
		if p.GetPartner() == partner {
			return p
		}
	}
	t.Fatalf("%s reports no match status for %s", n.Agency, partner)
	return nil
}

// waitInSync waits until holder has sent all it has to asker and asker
// holds the same number of entries in a complete index.
func waitInSync(t *testing.T, holder, asker *matchNode) {
	t.Helper()
	nodetest.Eventually(t, 20*time.Second, func() error {
		h, a := holder.status(t, asker.Agency), asker.status(t, holder.Agency)
		if h.GetOwnPending() != 0 || h.GetOwnChangesBehind() != 0 || !h.GetOwnScanned() || !a.GetPartnerComplete() || a.GetPartnerEntries() != h.GetOwnEntries() || a.GetPartnerEpoch() != h.GetOwnEpoch() {
			return fmt.Errorf("holder %s: epoch %d, %d entries, %d pending, %d changes behind; %s holds epoch %d, %d entries, complete %t",
				holder.Agency, h.GetOwnEpoch(), h.GetOwnEntries(), h.GetOwnPending(), h.GetOwnChangesBehind(), asker.Agency, a.GetPartnerEpoch(), a.GetPartnerEntries(), a.GetPartnerComplete())
		}
		return nil
	})
}

func hitKinds(r *liaisonv1.MatchResult) map[liaisonv1.MatchKeyKind]bool {
	out := map[liaisonv1.MatchKeyKind]bool{}
	for _, k := range r.GetKeys() {
		out[k.GetKind()] = k.GetHit()
	}
	return out
}

func passport(number, country string) []*liaisonv1.IdentityDocument {
	return []*liaisonv1.IdentityDocument{{Type: liaisonv1.DocumentType_DOCUMENT_TYPE_PASSPORT, Number: number, IssuingCountry: country}}
}

func TestMatch_BlindHitNoHit(t *testing.T) {
	t.Parallel()
	bravoWire := &wire{}
	bravoLog := &syncBuffer{}
	const budget = 120
	a, b := nodetest.Pair(t, func(c *config.Config) {
		matchWithAll(c)
		c.Match.DailyBudget = budget
		if c.Agency == "bravo" {
			nodetest.ServerOptions(c, bravoWire.options()...)
			nodetest.CaptureLog(c, bravoLog)
		}
	})
	alpha, bravo := matchClients(t, a), matchClients(t, b)
	ctx := context.Background()

	// bravo holds a lead on 陈伟 / CHEN Wei, passport E1234567 (not released
	// to anyone: a blind match needs no release).
	dob := &liaisonv1.Date{Year: 1980, Month: 3, Day: 2}
	l := newLead("Boat organiser, Fujian route")
	l.Subjects = []*liaisonv1.Person{{
		Names:       []*liaisonv1.PersonName{{FamilyName: "陈", GivenNames: "伟", LatinFamilyName: "CHEN", LatinGivenNames: "Wei"}},
		DateOfBirth: dob, Documents: passport("E1234567", "CHN"),
	}}
	created, err := bravo.leads.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: l})
	if err != nil {
		t.Fatal(err)
	}
	lead := created.GetLead()
	waitInSync(t, bravo, alpha)

	chen := &liaisonv1.Person{Names: []*liaisonv1.PersonName{{FamilyName: "Chen", GivenNames: "Wei"}}, Documents: passport("e 123-4567", "CHN")}
	chenByName := &liaisonv1.Person{Names: []*liaisonv1.PersonName{{FamilyName: "Ch'en", GivenNames: "Wei"}}, DateOfBirth: dob}
	// The unrelated person: bravo holds nothing on them, and must end up
	// with no trace of them.
	nguyen := &liaisonv1.Person{
		Names:       []*liaisonv1.PersonName{{FamilyName: "Nguyen", GivenNames: "Van Thanh"}},
		DateOfBirth: &liaisonv1.Date{Year: 1975, Month: 11, Day: 20}, Documents: passport("C9876543", "VNM"),
		PhoneNumbers: []*liaisonv1.PhoneNumber{{Number: "+84912345678"}},
	}
	nguyenEncodings := encodings("Nguyen", "Van Thanh", "Thanh", "C9876543", "+84912345678", "84912345678", "1975-11-20", "19751120", "NGUYEN VAN THANH")
	chenEncodings := encodings("Chen", "陈伟", "陈", "E1234567", "e 123-4567", "1980-03-02", "19800302")

	bravoWire.take()
	r, err := alpha.analyst.MatchPersons(ctx, &liaisonv1.MatchPersonsRequest{Partner: "bravo", Persons: []*liaisonv1.Person{chen, chenByName, nguyen}})
	if err != nil {
		t.Fatal(err)
	}
	step1 := bravoWire.take()
	if len(r.GetResults()) != 3 {
		t.Fatalf("results: %v", r.GetResults())
	}
	doc, name, other := r.GetResults()[0], r.GetResults()[1], r.GetResults()[2]
	if !hitKinds(doc)[liaisonv1.MatchKeyKind_MATCH_KEY_KIND_DOCUMENT] {
		t.Errorf("Chen Wei with passport 'e 123-4567': no hit on the document: %v", doc)
	}
	if k := hitKinds(name); !k[liaisonv1.MatchKeyKind_MATCH_KEY_KIND_NAME_DATE_OF_BIRTH] || !k[liaisonv1.MatchKeyKind_MATCH_KEY_KIND_NAME_BIRTH_YEAR] {
		t.Errorf("Ch'en Wei born 1980-03-02: no hit on the name keys: %v", name)
	}
	if other.GetHit() || len(other.GetKeys()) != 4 {
		t.Errorf("the unrelated person: %v, want no hit on 4 key kinds", other)
	}
	if r.GetEvaluations() == 0 || r.GetBudgetRemaining() != budget-int64(r.GetEvaluations()) {
		t.Errorf("%d evaluations, %d of the budget left", r.GetEvaluations(), r.GetBudgetRemaining())
	}

	// What bravo received during step 1: no key, name, number or date of
	// either person, in any encoding tried.
	if len(step1) == 0 {
		t.Fatal("bravo received nothing during step 1")
	}
	for i, m := range step1 {
		if l := leaks(m, append(nguyenEncodings, chenEncodings...)); len(l) > 0 {
			t.Errorf("message %d bravo received during step 1 holds %v", i, l)
		}
	}

	// Step 2: follow the document hit up; bravo resolves it to its lead for
	// a supervisor, who decides; alpha sees the decision, not the record.
	fu, err := alpha.analyst.FollowUpHit(ctx, &liaisonv1.FollowUpHitRequest{Partner: "bravo", HitToken: doc.GetKeys()[0].GetHitToken(),
		KeyKind: liaisonv1.MatchKeyKind_MATCH_KEY_KIND_DOCUMENT, Justification: "same passport seen at Mae Sot crossing"})
	if err != nil {
		t.Fatal(err)
	}
	if d := fu.GetFollowUp().GetDueTime().AsTime().Sub(fu.GetFollowUp().GetCreateTime().AsTime()); d != 48*time.Hour {
		t.Errorf("deadline %s, want 48h", d)
	}
	var incoming *liaisonv1.MatchFollowUp
	nodetest.Eventually(t, 10*time.Second, func() error {
		l, err := bravo.supervisor.ListMatchFollowUps(ctx, &liaisonv1.ListMatchFollowUpsRequest{Direction: liaisonv1.MatchFollowUpDirection_MATCH_FOLLOW_UP_DIRECTION_INCOMING})
		if err != nil {
			return err
		}
		if len(l.GetFollowUps()) != 1 {
			return fmt.Errorf("bravo holds %d follow-ups", len(l.GetFollowUps()))
		}
		incoming = l.GetFollowUps()[0]
		return nil
	})
	if incoming.GetStatus() != liaisonv1.MatchFollowUpStatus_MATCH_FOLLOW_UP_STATUS_PENDING || len(incoming.GetRecords()) != 1 ||
		incoming.GetRecords()[0].GetId() != lead.GetId() || strings.Contains(incoming.GetRequestedBy(), "alice") {
		t.Fatalf("bravo's follow-up: %v", incoming)
	}
	if _, err := bravo.analyst.DecideMatchFollowUp(ctx, &liaisonv1.DecideMatchFollowUpRequest{Id: incoming.GetId(),
		Status: liaisonv1.MatchFollowUpStatus_MATCH_FOLLOW_UP_STATUS_RELEASED, Reason: "released as lead"}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("an analyst decided a follow-up: %v", err)
	}
	if _, err := bravo.supervisor.DecideMatchFollowUp(ctx, &liaisonv1.DecideMatchFollowUpRequest{Id: incoming.GetId(),
		Status: liaisonv1.MatchFollowUpStatus_MATCH_FOLLOW_UP_STATUS_DECLINED, Reason: "operation under way; ask again in a month"}); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 10*time.Second, func() error {
		l, err := alpha.analyst.ListMatchFollowUps(ctx, &liaisonv1.ListMatchFollowUpsRequest{Direction: liaisonv1.MatchFollowUpDirection_MATCH_FOLLOW_UP_DIRECTION_OUTGOING})
		if err != nil {
			return err
		}
		if len(l.GetFollowUps()) != 1 || l.GetFollowUps()[0].GetStatus() != liaisonv1.MatchFollowUpStatus_MATCH_FOLLOW_UP_STATUS_DECLINED {
			return fmt.Errorf("alpha's follow-ups: %v", l.GetFollowUps())
		}
		if len(l.GetFollowUps()[0].GetRecords()) != 0 {
			return fmt.Errorf("alpha learnt bravo's records: %v", l.GetFollowUps()[0].GetRecords())
		}
		return nil
	})

	// Withdrawn, the lead leaves the index with the next delta.
	before := alpha.status(t, "bravo").GetPartnerVersion()
	if _, err := bravo.leadsSup.WithdrawLead(ctx, &liaisonv1.WithdrawLeadRequest{Id: lead.GetId(), Reason: "source withdrawn"}); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 20*time.Second, func() error {
		if v := alpha.status(t, "bravo").GetPartnerVersion(); v <= before {
			return fmt.Errorf("alpha holds update %d of bravo's index, want a later one than %d", v, before)
		}
		return nil
	})
	waitInSync(t, bravo, alpha)
	r, err = alpha.analyst.MatchPersons(ctx, &liaisonv1.MatchPersonsRequest{Partner: "bravo", Persons: []*liaisonv1.Person{chen, chenByName}})
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range r.GetResults() {
		if res.GetHit() {
			t.Errorf("after the withdrawal: %v", res)
		}
	}

	// What stays behind. bravo's database and log hold no trace of the
	// person it does not know; alpha's copy of bravo's index (its rows and
	// the envelopes that brought it) holds no name, number or date.
	for _, suffix := range []string{"", "-wal"} {
		raw, err := os.ReadFile(b.Cfg.Database.Path + suffix)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if l := leaks(raw, nguyenEncodings); len(l) > 0 {
			t.Errorf("bravo's database%s holds %v", suffix, l)
		}
	}
	// The control: alpha, which asked, audited whom it asked about, and the
	// same reading of its files finds it.
	var alphaFiles []byte
	for _, suffix := range []string{"", "-wal"} {
		raw, _ := os.ReadFile(a.Cfg.Database.Path + suffix)
		alphaFiles = append(alphaFiles, raw...)
	}
	if len(leaks(alphaFiles, nguyenEncodings)) == 0 {
		t.Error("alpha's database holds no trace of the person it asked about: the reading of the files finds nothing")
	}
	if l := leaks([]byte(bravoLog.String()), nguyenEncodings); len(l) > 0 {
		t.Errorf("bravo's log holds %v", l)
	}
	db := openDB(t, a.Cfg.Database.Path)
	var copyOf [][]byte
	for _, q := range []string{"SELECT entry FROM match_remote_entries", "SELECT envelope FROM inbox WHERE kind = 10"} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var v []byte
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			copyOf = append(copyOf, v)
		}
		rows.Close()
	}
	if len(copyOf) < 2 {
		t.Fatalf("alpha's copy of bravo's index: %d rows", len(copyOf))
	}
	for _, v := range copyOf {
		if l := leaks(v, chenEncodings); len(l) > 0 {
			t.Errorf("alpha's copy of bravo's index holds %v", l)
		}
	}
}

func TestMatch_DictionaryAttemptIsRefusedAndAudited(t *testing.T) {
	t.Parallel()
	const budget = 50
	a, b := nodetest.Pair(t, func(c *config.Config) {
		matchWithAll(c)
		c.Match.DailyBudget = budget
	})
	alpha, bravo := matchClients(t, a), matchClients(t, b)
	ctx := context.Background()
	waitInSync(t, bravo, alpha)
	// alpha tries passport numbers one after another.
	guess := func(i int) *liaisonv1.Person {
		return &liaisonv1.Person{Names: []*liaisonv1.PersonName{{FamilyName: "X"}}, Documents: passport(fmt.Sprintf("E%07d", i), "CHN")}
	}
	// A query larger than the whole budget — and than the queries whose
	// evaluation bravo overlaps with committing their budget — is refused
	// at once and spends nothing.
	var big []*liaisonv1.Person
	for j := range 100 {
		big = append(big, guess(1000+j))
	}
	if _, err := alpha.analyst.MatchPersons(ctx, &liaisonv1.MatchPersonsRequest{Partner: "bravo", Persons: big}); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("a query of %d persons with a budget of %d: %v, want ResourceExhausted", len(big), budget, err)
	}
	used, refused := 0, error(nil)
	for i := 0; i < 10 && refused == nil; i++ {
		var ps []*liaisonv1.Person
		for j := 0; j < 20; j++ {
			ps = append(ps, guess(i*20+j))
		}
		r, err := alpha.analyst.MatchPersons(ctx, &liaisonv1.MatchPersonsRequest{Partner: "bravo", Persons: ps})
		if err != nil {
			refused = err
			break
		}
		used += int(r.GetEvaluations())
	}
	if status.Code(refused) != codes.ResourceExhausted {
		t.Fatalf("after %d evaluations: %v, want ResourceExhausted", used, refused)
	}
	if used > budget {
		t.Errorf("%d evaluations answered, budget %d", used, budget)
	}
	// A query is one call: the refused one spent nothing.
	if st := bravo.status(t, "alpha"); st.GetEvaluationsToday() != int64(used) || st.GetDailyBudget() != budget {
		t.Errorf("bravo counts %d evaluations of %d, want %d", st.GetEvaluationsToday(), st.GetDailyBudget(), used)
	}
	auditor := liaisonv1.NewAuditServiceClient(b.Conn(t, "auditor"))
	ev, err := auditor.ListAuditEvents(ctx, &liaisonv1.ListAuditEventsRequest{Resource: "match_indexes/alpha"})
	if err != nil {
		t.Fatal(err)
	}
	exhausted, answered := 0, 0
	for _, e := range ev.GetEvents() {
		switch e.GetOutcome() {
		case errs.CodeName(status.Error(codes.ResourceExhausted, "")):
			exhausted++
			if !strings.Contains(e.GetDetail(), "evaluations asked") || !strings.Contains(e.GetDetail(), "refused") {
				t.Errorf("a refused evaluation is audited without its count: %q", e.GetDetail())
			}
		case "OK":
			answered++
			if !strings.Contains(e.GetDetail(), "evaluations, epoch") || !strings.Contains(e.GetDetail(), fmt.Sprintf("of %d used today", budget)) {
				t.Errorf("an evaluation call is audited without its count: %q", e.GetDetail())
			}
		}
	}
	if exhausted != 2 || answered == 0 {
		t.Errorf("bravo's audit log: %d refused and %d answered evaluations, want 2 and some: %v", exhausted, answered, ev.GetEvents())
	}
}

// TestMatch_OnlyByAgreement: a node publishes a blind index, and evaluates
// blinded keys, only for the partners its config lists (match.partners);
// the other way round the asker is told why there is nothing to ask.
func TestMatch_OnlyByAgreement(t *testing.T) {
	t.Parallel()
	a, b := nodetest.Pair(t, func(c *config.Config) {
		c.Match.IndexInterval.Duration = 50 * time.Millisecond
		if c.Agency == "alpha" {
			c.Match.Partners = []string{"bravo"} // alpha publishes to bravo; bravo to nobody
		}
	})
	alpha, bravo := matchClients(t, a), matchClients(t, b)
	ctx := context.Background()
	waitInSync(t, alpha, bravo)
	person := &liaisonv1.Person{Names: []*liaisonv1.PersonName{{FamilyName: "Chen", GivenNames: "Wei"}}, Documents: passport("E1234567", "CHN")}
	if _, err := bravo.analyst.MatchPersons(ctx, &liaisonv1.MatchPersonsRequest{Partner: "alpha", Persons: []*liaisonv1.Person{person}}); err != nil {
		t.Errorf("bravo asking alpha, which publishes to it: %v", err)
	}
	_, err := alpha.analyst.MatchPersons(ctx, &liaisonv1.MatchPersonsRequest{Partner: "bravo", Persons: []*liaisonv1.Person{person}})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "match.partners") {
		t.Errorf("alpha asking bravo, which publishes nothing to it: %v, want FailedPrecondition naming match.partners", err)
	}
	if got := permViolations(t, err); len(got) != 1 || got[0] != "match.no_index match_indexes/bravo" {
		t.Errorf("violations %v", got)
	}
	if n := countRows(t, b.Cfg.Database.Path, "SELECT count(*) FROM outbox WHERE kind = 10"); n != 0 {
		t.Errorf("bravo sent %d index updates without an agreement", n)
	}
	if n := countRows(t, a.Cfg.Database.Path, "SELECT count(*) FROM outbox WHERE kind = 10 AND partner = 'bravo'"); n == 0 {
		t.Error("alpha sent no index update to bravo")
	}
	if _, err := bravo.supervisor.RotateMatchKey(ctx, &liaisonv1.RotateMatchKeyRequest{Partner: "alpha"}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("rotating a key bravo does not keep: %v", err)
	}
}

// askDocument asks partner about a passport and says whether it hit,
// returning the token of the hit.
func (n *matchNode) askDocument(t *testing.T, partner, number, country string) (bool, string) {
	t.Helper()
	r, err := n.analyst.MatchPersons(context.Background(), &liaisonv1.MatchPersonsRequest{Partner: partner, Persons: []*liaisonv1.Person{
		{Names: []*liaisonv1.PersonName{{FamilyName: "X"}}, Documents: passport(number, country)}}})
	if err != nil {
		t.Fatal(err)
	}
	k := r.GetResults()[0].GetKeys()[0]
	return k.GetHit(), k.GetHitToken()
}

// TestMatch_Discoverability: own leads and cases are in the index by
// default, H3 leads are not; a supervisor's override takes a record out of
// (or puts it into) the index published to one partner.
func TestMatch_Discoverability(t *testing.T) {
	t.Parallel()
	a, b := nodetest.Pair(t, matchWithAll)
	alpha, bravo := matchClients(t, a), matchClients(t, b)
	ctx := context.Background()
	subject := func(number string) []*liaisonv1.Person {
		return []*liaisonv1.Person{{Names: []*liaisonv1.PersonName{{FamilyName: "Somchai"}}, Documents: passport(number, "THA")}}
	}
	open := newLead("open lead")
	open.Subjects = subject("AA1000001")
	h3 := permLead("H3 lead", liaisonv1.HandlingCode_HANDLING_CODE_H3)
	h3.Subjects = subject("AA1000002")
	var leadIDs []string
	for _, l := range []*liaisonv1.Lead{open, h3} {
		c, err := bravo.leads.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: l})
		if err != nil {
			t.Fatal(err)
		}
		leadIDs = append(leadIDs, c.GetLead().GetId())
	}
	cs := newCase("case")
	cs.Subjects = subject("AA1000003")
	if _, err := liaisonv1.NewCaseServiceClient(b.Conn(t, "analyst")).CreateCase(ctx, &liaisonv1.CreateCaseRequest{Case: cs}); err != nil {
		t.Fatal(err)
	}
	waitInSync(t, bravo, alpha)
	for number, want := range map[string]bool{"AA1000001": true, "AA1000002": false, "AA1000003": true} {
		if hit, _ := alpha.askDocument(t, "bravo", number, "THA"); hit != want {
			t.Errorf("passport %s: hit %t, want %t", number, hit, want)
		}
	}
	// Take the open lead out, put the H3 lead in.
	for i, on := range []bool{false, true} {
		if _, err := bravo.supervisor.SetDiscoverability(ctx, &liaisonv1.SetDiscoverabilityRequest{RecordId: leadIDs[i], Partner: "alpha", Discoverable: on}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bravo.analyst.SetDiscoverability(ctx, &liaisonv1.SetDiscoverabilityRequest{RecordId: leadIDs[0], Partner: "alpha", Discoverable: true}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("an analyst set discoverability: %v", err)
	}
	waitInSync(t, bravo, alpha)
	for number, want := range map[string]bool{"AA1000001": false, "AA1000002": true} {
		if hit, _ := alpha.askDocument(t, "bravo", number, "THA"); hit != want {
			t.Errorf("after the overrides, passport %s: hit %t, want %t", number, hit, want)
		}
	}
	// Only own records: alpha cannot set bravo's lead's discoverability.
	if _, err := alpha.supervisor.SetDiscoverability(ctx, &liaisonv1.SetDiscoverabilityRequest{RecordId: leadIDs[0], Partner: "bravo", Discoverable: true}); status.Code(err) != codes.NotFound {
		t.Errorf("alpha setting the discoverability of a lead it does not hold: %v", err)
	}
}

// TestMatch_Rotation: a new epoch is a new key and a new index; the
// partner switches to it once it is complete and drops the old one, hits
// keep coming (with new tokens), and a token of the dropped epoch is not
// followed up: ask again.
func TestMatch_Rotation(t *testing.T) {
	t.Parallel()
	a, b := nodetest.Pair(t, matchWithAll)
	alpha, bravo := matchClients(t, a), matchClients(t, b)
	ctx := context.Background()
	l := newLead("rotation")
	l.Subjects = []*liaisonv1.Person{{Names: []*liaisonv1.PersonName{{FamilyName: "Chen", GivenNames: "Wei"}}, Documents: passport("E1234567", "CHN")}}
	if _, err := bravo.leads.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: l}); err != nil {
		t.Fatal(err)
	}
	waitInSync(t, bravo, alpha)
	hit, oldToken := alpha.askDocument(t, "bravo", "E1234567", "CHN")
	if !hit {
		t.Fatal("no hit before the rotation")
	}
	before := alpha.status(t, "bravo")
	r, err := bravo.supervisor.RotateMatchKey(ctx, &liaisonv1.RotateMatchKeyRequest{Partner: "alpha"})
	if err != nil {
		t.Fatal(err)
	}
	if r.GetStatus().GetOwnEpoch() != before.GetPartnerEpoch()+1 {
		t.Fatalf("rotated to epoch %d from %d", r.GetStatus().GetOwnEpoch(), before.GetPartnerEpoch())
	}
	// bravo's audit log says which epoch the rotation started.
	rotations, err := liaisonv1.NewAuditServiceClient(b.Conn(t, "auditor")).ListAuditEvents(ctx,
		&liaisonv1.ListAuditEventsRequest{Action: liaisonv1.MatchService_RotateMatchKey_FullMethodName})
	if err != nil {
		t.Fatal(err)
	}
	if ev := rotations.GetEvents(); len(ev) != 1 || ev[0].GetDetail() != fmt.Sprintf("epoch %d started", r.GetStatus().GetOwnEpoch()) {
		t.Errorf("bravo's audit events of the rotation: %v; want one saying epoch %d started", ev, r.GetStatus().GetOwnEpoch())
	}
	waitInSync(t, bravo, alpha)
	if n := countRows(t, a.Cfg.Database.Path, "SELECT count(*) FROM match_remote_indexes"); n != 1 {
		t.Errorf("alpha holds %d of bravo's indexes after the rotation, want 1 (the old one dropped)", n)
	}
	hit, newToken := alpha.askDocument(t, "bravo", "E1234567", "CHN")
	if !hit || newToken == oldToken {
		t.Fatalf("after the rotation: hit %t, token changed %t", hit, newToken != oldToken)
	}
	// The old token: alpha no longer holds that epoch's index, so it
	// refuses to follow it up; the new one goes through.
	_, err = alpha.analyst.FollowUpHit(ctx, &liaisonv1.FollowUpHitRequest{Partner: "bravo", HitToken: oldToken,
		KeyKind: liaisonv1.MatchKeyKind_MATCH_KEY_KIND_DOCUMENT, Justification: "old"})
	if got := permViolations(t, err); len(got) != 1 || got[0] != "match.not_a_hit match_indexes/bravo" {
		t.Errorf("following up a token of a dropped epoch: %v", err)
	}
	if _, err := alpha.analyst.FollowUpHit(ctx, &liaisonv1.FollowUpHitRequest{Partner: "bravo", HitToken: newToken,
		KeyKind: liaisonv1.MatchKeyKind_MATCH_KEY_KIND_DOCUMENT, Justification: "new"}); err != nil {
		t.Error(err)
	}
}

// TestMatch_HolderCannotRewriteItsIndex plays bravo with its own valid
// node key: updates of its own index that skip one, change the index's
// epoch or key, bring an older epoch, complete twice or carry torn entries
// are each rejected with their rule, and alpha's copy stays as it was.
func TestMatch_HolderCannotRewriteItsIndex(t *testing.T) {
	t.Parallel()
	a, b := nodetest.Pair(t, matchWithAll)
	alpha, bravo := matchClients(t, a), matchClients(t, b)
	waitInSync(t, bravo, alpha)
	db := openDB(t, a.Cfg.Database.Path)
	var idx store.RemoteIndex
	if err := db.QueryRow("SELECT index_id, epoch, public_key, version, complete FROM match_remote_indexes").
		Scan(&idx.IndexID, &idx.Epoch, &idx.PublicKey, &idx.Version, &idx.Complete); err != nil {
		t.Fatal(err)
	}
	entriesBefore := alpha.status(t, "bravo").GetPartnerEntries()
	b.Stop(t)
	in := intrude(t, a, "bravo")
	update := func(id string, epoch int64, key []byte, complete bool, added []byte) *liaisonv1.MatchIndexUpdate {
		return &liaisonv1.MatchIndexUpdate{IndexId: id, Holder: "bravo", Partner: "alpha", Epoch: uint32(epoch), PublicKey: key, Complete: complete, Added: added}
	}
	entry := bytes.Repeat([]byte{1}, 16)
	otherKey := bytes.Repeat([]byte{2}, 32)
	state := func() map[string][]string {
		return queryState(t, db, []string{"SELECT * FROM match_remote_indexes", "SELECT * FROM match_remote_entries"})
	}
	before := state()
	for _, c := range []struct {
		name, code string
		version    int64
		u          *liaisonv1.MatchIndexUpdate
	}{
		{"an update skipped", "match.update_gap", idx.Version + 2, update(idx.IndexID, idx.Epoch, idx.PublicKey, false, entry)},
		{"another key", "match.index_changed", idx.Version + 1, update(idx.IndexID, idx.Epoch, otherKey, false, entry)},
		{"another epoch", "match.index_changed", idx.Version + 1, update(idx.IndexID, idx.Epoch+1, idx.PublicKey, false, entry)},
		{"completed twice", "match.completed", idx.Version + 1, update(idx.IndexID, idx.Epoch, idx.PublicKey, true, entry)},
		{"an older epoch", "match.stale_epoch", 1, update(newID(), idx.Epoch, otherKey, true, entry)},
		{"torn entries", "payload.invalid", idx.Version + 1, update(idx.IndexID, idx.Epoch, idx.PublicKey, false, entry[:15])},
	} {
		_, rc := in.send(t, liaisonv1.EnvelopeKind_ENVELOPE_KIND_MATCH_INDEX, c.u.GetIndexId(), c.version, c.u)
		if rc.GetStatus() != liaisonv1.ReceiptStatus_RECEIPT_STATUS_REJECTED || rc.GetReasonCode() != c.code {
			t.Errorf("%s: %v, want REJECTED %s", c.name, rc, c.code)
		}
	}
	if diff := cmp.Diff(before, state()); diff != "" {
		t.Errorf("alpha's copy of bravo's index changed (-before +after):\n%s", diff)
	}
	// The next update in order still applies.
	_, rc := in.send(t, liaisonv1.EnvelopeKind_ENVELOPE_KIND_MATCH_INDEX, idx.IndexID, idx.Version+1, update(idx.IndexID, idx.Epoch, idx.PublicKey, false, entry))
	if rc.GetStatus() != liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED {
		t.Errorf("the next update: %v", rc)
	}
	if st := alpha.status(t, "bravo"); st.GetPartnerEntries() != entriesBefore+1 || st.GetPartnerVersion() != idx.Version+1 {
		t.Errorf("alpha holds %d entries at update %d, want %d at %d", st.GetPartnerEntries(), st.GetPartnerVersion(), entriesBefore+1, idx.Version+1)
	}
}

// TestMatch_UnreadableRecordDoesNotStopTheIndex: an insider leaves a lead
// row the node cannot decode; a rebuild of the index leaves it out and
// goes on (the other records stay findable) instead of stalling the epoch.
func TestMatch_UnreadableRecordDoesNotStopTheIndex(t *testing.T) {
	t.Parallel()
	a, b := nodetest.Pair(t, matchWithAll)
	alpha, bravo := matchClients(t, a), matchClients(t, b)
	ctx := context.Background()
	l := newLead("readable")
	l.Subjects = []*liaisonv1.Person{{Names: []*liaisonv1.PersonName{{FamilyName: "Chen", GivenNames: "Wei"}}, Documents: passport("E1234567", "CHN")}}
	if _, err := bravo.leads.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: l}); err != nil {
		t.Fatal(err)
	}
	if _, err := openDB(t, b.Cfg.Database.Path).Exec(`INSERT INTO leads (id, origin_agency, status, crime_mask, handling_code, version, create_time, update_time, review_date, body)
		VALUES ('00000000-0000-7000-8000-000000000001', 'bravo', 1, 1, 1, 1, 0, 0, '', x'ffffffff')`); err != nil {
		t.Fatal(err)
	}
	if _, err := bravo.supervisor.RotateMatchKey(ctx, &liaisonv1.RotateMatchKeyRequest{Partner: "alpha"}); err != nil {
		t.Fatal(err)
	}
	waitInSync(t, bravo, alpha)
	if st := alpha.status(t, "bravo"); st.GetPartnerEpoch() != 2 {
		t.Fatalf("alpha holds epoch %d of bravo's index, want the rebuilt 2", st.GetPartnerEpoch())
	}
	if hit, _ := alpha.askDocument(t, "bravo", "E1234567", "CHN"); !hit {
		t.Error("the readable lead is not in the rebuilt index")
	}
}

// TestMatch_AnswerUnderAnotherKeyIsRefused: bravo's node answers blind
// queries under a key other than the one of the index it published (here
// its secret was replaced behind its back, between two starts); alpha's
// query carries the epoch's canary, which does not come back, and the
// answer is refused instead of read as "no hit".
func TestMatch_AnswerUnderAnotherKeyIsRefused(t *testing.T) {
	t.Parallel()
	a, b := nodetest.Pair(t, matchWithAll)
	alpha, bravo := matchClients(t, a), matchClients(t, b)
	ctx := context.Background()
	l := newLead("canary")
	l.Subjects = []*liaisonv1.Person{{Names: []*liaisonv1.PersonName{{FamilyName: "Chen", GivenNames: "Wei"}}, Documents: passport("E1234567", "CHN")}}
	if _, err := bravo.leads.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: l}); err != nil {
		t.Fatal(err)
	}
	waitInSync(t, bravo, alpha)
	if hit, _ := alpha.askDocument(t, "bravo", "E1234567", "CHN"); !hit {
		t.Fatal("no hit before the key changed")
	}
	b.Stop(t)
	if _, err := openDB(t, b.Cfg.Database.Path).Exec(`UPDATE meta SET value = CASE WHEN substr(value, 1, 2) = '00' THEN 'ff' ELSE '00' END || substr(value, 3) WHERE key = 'secret/match_oprf'`); err != nil {
		t.Fatal(err)
	}
	b.Restart(t)
	var err error
	nodetest.Eventually(t, 20*time.Second, func() error {
		_, err = alpha.analyst.MatchPersons(ctx, &liaisonv1.MatchPersonsRequest{Partner: "bravo", Persons: []*liaisonv1.Person{
			{Names: []*liaisonv1.PersonName{{FamilyName: "X"}}, Documents: passport("E1234567", "CHN")}}})
		if status.Code(err) == codes.Unavailable {
			return err // alpha reconnects to the restarted bravo
		}
		return nil
	})
	if got := permViolations(t, err); len(got) != 1 || got[0] != "match.bad_evaluation match_indexes/bravo" {
		t.Errorf("a query answered under another key: %v, want FAILED_PRECONDITION match.bad_evaluation", err)
	}
}

// TestMatch_EpochNotInUseIsRefused plays alpha with its own node key
// asking bravo for evaluations under epochs bravo does not use — one not
// yet started, one made up, one retired two rotations ago (whose key bravo
// still has at hand, having built that epoch's index): each is refused
// with its rule, spends nothing of the budget and is audited; the current
// epoch's call then goes through. (bravo checks the epoch in the
// transaction that spends the budget, while it already evaluates a small
// query under a key it holds.)
func TestMatch_EpochNotInUseIsRefused(t *testing.T) {
	t.Parallel()
	a, b := nodetest.Pair(t, matchWithAll)
	alpha, bravo := matchClients(t, a), matchClients(t, b)
	waitInSync(t, bravo, alpha)
	ctx := context.Background()
	for range 2 {
		if _, err := bravo.supervisor.RotateMatchKey(ctx, &liaisonv1.RotateMatchKeyRequest{Partner: "alpha"}); err != nil {
			t.Fatal(err)
		}
		waitInSync(t, bravo, alpha)
	}
	peer := liaisonv1.NewMatchPeerServiceClient(b.ConnAs(t, "alpha", "node"))
	element, err := oprf.SuiteRistretto255.Group().Generator().MarshalBinaryCompress()
	if err != nil {
		t.Fatal(err)
	}
	ask := func(epoch uint32) (*liaisonv1.EvaluateBlindedResponse, error) {
		return peer.EvaluateBlinded(ctx, &liaisonv1.EvaluateBlindedRequest{Epoch: epoch,
			Batches: []*liaisonv1.BlindedBatch{{Elements: [][]byte{element, element}}}})
	}
	cur := bravo.status(t, "alpha").GetOwnEpoch()
	for _, epoch := range []uint32{cur + 1, cur + 1000, cur - 2} {
		_, err := ask(epoch)
		if got := permViolations(t, err); status.Code(err) != codes.FailedPrecondition || len(got) != 1 || got[0] != "match.epoch_retired match_indexes/alpha" {
			t.Errorf("epoch %d (current %d): %v, want match.epoch_retired", epoch, cur, err)
		}
	}
	if used := bravo.status(t, "alpha").GetEvaluationsToday(); used != 0 {
		t.Errorf("refused epochs spent %d evaluations", used)
	}
	r, err := ask(cur)
	if err != nil || len(r.GetBatches()) != 1 || len(r.GetBatches()[0].GetElements()) != 2 {
		t.Fatalf("the current epoch %d: %v, %v", cur, r, err)
	}
	if used := bravo.status(t, "alpha").GetEvaluationsToday(); used != 2 {
		t.Errorf("%d evaluations counted, want 2", used)
	}
	ev, err := liaisonv1.NewAuditServiceClient(b.Conn(t, "auditor")).ListAuditEvents(ctx,
		&liaisonv1.ListAuditEventsRequest{Action: liaisonv1.MatchPeerService_EvaluateBlinded_FullMethodName})
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	for _, e := range ev.GetEvents() {
		if e.GetOutcome() == errs.CodeName(status.Error(codes.FailedPrecondition, "")) {
			refused++
		}
	}
	if refused != 3 || len(ev.GetEvents()) != 4 {
		t.Errorf("bravo's audit log: %d refused of %d evaluation calls, want 3 of 4: %v", refused, len(ev.GetEvents()), ev.GetEvents())
	}
}
