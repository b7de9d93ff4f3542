package e2e

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

func newLead(title string) *liaisonv1.Lead {
	return &liaisonv1.Lead{
		Title:      title,
		Summary:    "Recruiter advertises crossings on messaging apps",
		CrimeAreas: []liaisonv1.CrimeArea{liaisonv1.CrimeArea_CRIME_AREA_MIGRANT_SMUGGLING},
		Evaluation: &liaisonv1.Evaluation{
			SourceReliability:   liaisonv1.SourceReliability_SOURCE_RELIABILITY_B,
			InformationAccuracy: liaisonv1.InformationAccuracy_INFORMATION_ACCURACY_2,
		},
		Handling: &liaisonv1.Handling{Code: liaisonv1.HandlingCode_HANDLING_CODE_H0},
	}
}

func startAlpha(t *testing.T) *nodetest.Node {
	pki := nodetest.NewPKI(t, "alpha", "bravo")
	return nodetest.Start(t, pki, pki.Config("alpha", t.TempDir(), "bravo"), nil)
}

func TestLeads_IdempotentCreate(t *testing.T) {
	t.Parallel()
	n := startAlpha(t)
	leads := liaisonv1.NewLeadServiceClient(n.Conn(t, "analyst"))
	ctx := context.Background()
	req := &liaisonv1.CreateLeadRequest{Lead: newLead("Kupang boats"), RequestId: "0190f1c2-0000-7000-8000-000000000001"}
	first, err := leads.CreateLead(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := leads.CreateLead(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first.GetLead(), again.GetLead(), protocmp.Transform()); diff != "" {
		t.Errorf("retry returned another lead (-first +retry):\n%s", diff)
	}
	list, err := leads.ListLeads(ctx, &liaisonv1.ListLeadsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(list.GetLeads()); got != 1 {
		t.Errorf("after a retried create there are %d leads, want 1", got)
	}
	req.Lead.Title = "Something else"
	_, err = leads.CreateLead(ctx, req)
	if status.Code(err) != codes.AlreadyExists {
		t.Errorf("same request_id, other payload: got %v, want AlreadyExists", err)
	}
}

func TestLeads_StaleEtag(t *testing.T) {
	t.Parallel()
	n := startAlpha(t)
	leads := liaisonv1.NewLeadServiceClient(n.Conn(t, "analyst"))
	ctx := context.Background()
	created, err := leads.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: newLead("v1")})
	if err != nil {
		t.Fatal(err)
	}
	l := created.GetLead()
	upd := func(title, etag string) error {
		_, err := leads.UpdateLead(ctx, &liaisonv1.UpdateLeadRequest{
			Lead:       &liaisonv1.Lead{Id: l.GetId(), Etag: etag, Title: title},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
		})
		return err
	}
	if err := upd("v2", l.GetEtag()); err != nil {
		t.Fatalf("update with current etag: %v", err)
	}
	if err := upd("v3", l.GetEtag()); status.Code(err) != codes.Aborted {
		t.Fatalf("update with stale etag: got %v, want Aborted", err)
	}
	got, err := leads.GetLead(ctx, &liaisonv1.GetLeadRequest{Id: l.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetLead().GetTitle() != "v2" || got.GetLead().GetVersion() != 2 {
		t.Errorf("after one good and one stale update: title %q version %d, want v2 / 2", got.GetLead().GetTitle(), got.GetLead().GetVersion())
	}
}
