package e2e

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/cloudflare/circl/group"
	"google.golang.org/grpc"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/config"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// ---- the match bench: MatchService and MatchPeerService -------------------------

// matchFixture is an alpha–bravo pair, each holding a lead on the same
// person and the other's complete blind index: alpha can ask bravo and
// follow a hit up, and bravo's follow-ups reach alpha to be decided.
type matchFixture struct {
	alpha, bravo *matchNode
	lead         string // alpha's lead
	person       *liaisonv1.Person
	token        string // a hit of alpha's query in bravo's index
	bravoToken   string // a hit of bravo's query in alpha's index
}

func matchAuthzSetup(t *testing.T) authzFixture {
	t.Helper()
	a, b := nodetest.Pair(t, func(c *config.Config) { matchWithAll(c) })
	f := &matchFixture{alpha: matchClients(t, a), bravo: matchClients(t, b),
		person: &liaisonv1.Person{Names: []*liaisonv1.PersonName{{FamilyName: "Chen", GivenNames: "Wei"}}, Documents: passport("E1234567", "CHN")}}
	ctx := context.Background()
	for _, n := range []*matchNode{f.alpha, f.bravo} {
		l := newLead("authz match")
		l.Subjects = []*liaisonv1.Person{f.person}
		c, err := n.leads.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: l})
		if err != nil {
			t.Fatal(err)
		}
		if n == f.alpha {
			f.lead = c.GetLead().GetId()
		}
	}
	waitInSync(t, f.bravo, f.alpha)
	waitInSync(t, f.alpha, f.bravo)
	f.token = f.hitToken(t, f.alpha)
	f.bravoToken = f.hitToken(t, f.bravo)
	return f
}

// hitToken asks the other node about the fixture's person and returns the
// document hit's token.
func (f *matchFixture) hitToken(t *testing.T, n *matchNode) string {
	t.Helper()
	other := "bravo"
	if n == f.bravo {
		other = "alpha"
	}
	r, err := n.analyst.MatchPersons(context.Background(), &liaisonv1.MatchPersonsRequest{Partner: other, Persons: []*liaisonv1.Person{f.person}})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range r.GetResults()[0].GetKeys() {
		if k.GetHit() {
			return k.GetHitToken()
		}
	}
	t.Fatalf("%s's query found no hit in %s's index: %v", n.Agency, other, r)
	return ""
}

func (f *matchFixture) node() *nodetest.Node { return f.alpha.Node }

// pendingFollowUp has bravo follow up a hit in alpha's index and returns
// the follow-up once alpha holds it.
func (f *matchFixture) pendingFollowUp(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	fu, err := f.bravo.analyst.FollowUpHit(ctx, &liaisonv1.FollowUpHitRequest{Partner: "alpha", HitToken: f.bravoToken,
		KeyKind: liaisonv1.MatchKeyKind_MATCH_KEY_KIND_DOCUMENT, Justification: "authz"})
	if err != nil {
		t.Fatal(err)
	}
	id := fu.GetFollowUp().GetId()
	nodetest.Eventually(t, 10*time.Second, func() error {
		l, err := f.alpha.supervisor.ListMatchFollowUps(ctx, &liaisonv1.ListMatchFollowUpsRequest{
			Direction: liaisonv1.MatchFollowUpDirection_MATCH_FOLLOW_UP_DIRECTION_INCOMING, PageSize: 1000})
		if err != nil {
			return err
		}
		for _, x := range l.GetFollowUps() {
			if x.GetId() == id {
				return nil
			}
		}
		return fmt.Errorf("alpha does not hold follow-up %s yet", id)
	})
	return id
}

func (f *matchFixture) call(t *testing.T, conn *grpc.ClientConn, method string, p authzPrincipal, allowed bool) (string, error) {
	t.Helper()
	switch method {
	case liaisonv1.MatchService_MatchPersons_FullMethodName:
		return "", invoke(t, conn, method, &liaisonv1.MatchPersonsRequest{Partner: "bravo", Persons: []*liaisonv1.Person{f.person}})
	case liaisonv1.MatchService_FollowUpHit_FullMethodName:
		return "", invoke(t, conn, method, &liaisonv1.FollowUpHitRequest{Partner: "bravo", HitToken: f.token,
			KeyKind: liaisonv1.MatchKeyKind_MATCH_KEY_KIND_DOCUMENT, Justification: "authz " + p.String()})
	case liaisonv1.MatchService_ListMatchFollowUps_FullMethodName:
		return "", invoke(t, conn, method, &liaisonv1.ListMatchFollowUpsRequest{})
	case liaisonv1.MatchService_DecideMatchFollowUp_FullMethodName:
		id := f.pendingFollowUp(t)
		return "match_follow_ups/" + id, invoke(t, conn, method, &liaisonv1.DecideMatchFollowUpRequest{Id: id,
			Status: liaisonv1.MatchFollowUpStatus_MATCH_FOLLOW_UP_STATUS_DECLINED, Reason: "authz " + p.String()})
	case liaisonv1.MatchService_GetMatchStatus_FullMethodName:
		return "", invoke(t, conn, method, &liaisonv1.GetMatchStatusRequest{})
	case liaisonv1.MatchService_RotateMatchKey_FullMethodName:
		return "", invoke(t, conn, method, &liaisonv1.RotateMatchKeyRequest{Partner: "bravo"})
	case liaisonv1.MatchService_SetDiscoverability_FullMethodName:
		return "", invoke(t, conn, method, &liaisonv1.SetDiscoverabilityRequest{RecordId: f.lead, Partner: "bravo", Discoverable: true})
	case liaisonv1.MatchPeerService_EvaluateBlinded_FullMethodName:
		// A valid request of the caller's agency's current epoch (bravo's:
		// the index alpha publishes to it; alpha's own principals name the
		// same epoch and are refused before it matters).
		el, err := group.Ristretto255.RandomElement(rand.Reader).MarshalBinaryCompress()
		if err != nil {
			t.Fatal(err)
		}
		epoch := f.alpha.status(t, "bravo").GetOwnEpoch()
		return "", invoke(t, conn, method, &liaisonv1.EvaluateBlindedRequest{Epoch: epoch, Batches: []*liaisonv1.BlindedBatch{{Elements: [][]byte{el}}}})
	}
	t.Fatalf("no valid call of %s: add one to matchFixture.call", method)
	return "", nil
}
