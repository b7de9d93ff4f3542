package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// permLead is a lead with a handling code.
func permLead(title string, code liaisonv1.HandlingCode) *liaisonv1.Lead {
	l := newLead(title)
	l.Handling = &liaisonv1.Handling{Code: code}
	if code == liaisonv1.HandlingCode_HANDLING_CODE_H3 {
		l.Handling.Conditions = "not to be shared with immigration services"
	}
	return l
}

// permExport runs ExportLeads and collects what it streams.
func permExport(t *testing.T, leads liaisonv1.LeadServiceClient, req *liaisonv1.ExportLeadsRequest) (exported []string, refused []*liaisonv1.ExportRefusal, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := leads.ExportLeads(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return exported, refused, nil
		}
		if err != nil {
			return exported, refused, err
		}
		switch it := resp.GetItem().(type) {
		case *liaisonv1.ExportLeadsResponse_Lead:
			exported = append(exported, it.Lead.GetId())
		case *liaisonv1.ExportLeadsResponse_Refused:
			refused = append(refused, it.Refused)
		default:
			t.Fatalf("export streamed %v", resp)
		}
	}
}

// permViolations returns the precondition violations of err as
// "type subject" strings.
func permViolations(t *testing.T, err error) []string {
	t.Helper()
	var out []string
	for _, d := range status.Convert(err).Details() {
		if pf, ok := d.(*errdetails.PreconditionFailure); ok {
			for _, v := range pf.GetViolations() {
				out = append(out, v.GetType()+" "+v.GetSubject())
			}
		}
	}
	return out
}

// permWantBlocked checks that exporting ids is FAILED_PRECONDITION naming
// exactly the given violations, and that nothing was streamed.
func permWantBlocked(t *testing.T, leads liaisonv1.LeadServiceClient, ids []string, want ...string) {
	t.Helper()
	exported, _, err := permExport(t, leads, &liaisonv1.ExportLeadsRequest{Ids: ids})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("export of %v: %v, want FailedPrecondition", ids, err)
	}
	if len(exported) != 0 {
		t.Errorf("a refused export streamed %d leads first", len(exported))
	}
	got := permViolations(t, err)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("export of %v refused with violations %q, want %q", ids, got, want)
	}
}

// permWaitStatus waits until n lists its outgoing request id with status.
func permWaitStatus(t *testing.T, n *fedNode, id string, want liaisonv1.PermissionStatus) *liaisonv1.PermissionRequest {
	t.Helper()
	var got *liaisonv1.PermissionRequest
	nodetest.Eventually(t, 10*time.Second, func() error {
		r, err := n.perms.ListPermissionRequests(context.Background(), &liaisonv1.ListPermissionRequestsRequest{Direction: liaisonv1.PermissionDirection_PERMISSION_DIRECTION_OUTGOING})
		if err != nil {
			return err
		}
		for _, pr := range r.GetRequests() {
			if pr.GetId() == id {
				got = pr
				if pr.GetStatus() == want {
					return nil
				}
				return fmt.Errorf("request %s is %s on %s, want %s", id, pr.GetStatus(), n.Agency, want)
			}
		}
		return fmt.Errorf("%s does not list request %s", n.Agency, id)
	})
	return got
}

// permWaitIncoming waits until the originator n lists request id as
// incoming and pending.
func permWaitIncoming(t *testing.T, n *fedNode, id string) *liaisonv1.PermissionRequest {
	t.Helper()
	var got *liaisonv1.PermissionRequest
	nodetest.Eventually(t, 10*time.Second, func() error {
		r, err := n.permsSup.ListPermissionRequests(context.Background(), &liaisonv1.ListPermissionRequestsRequest{
			Direction: liaisonv1.PermissionDirection_PERMISSION_DIRECTION_INCOMING, Status: liaisonv1.PermissionStatus_PERMISSION_STATUS_PENDING,
		})
		if err != nil {
			return err
		}
		for _, pr := range r.GetRequests() {
			if pr.GetId() == id {
				got = pr
				return nil
			}
		}
		return fmt.Errorf("%s does not list request %s as incoming and pending: %v", n.Agency, id, r.GetRequests())
	})
	return got
}

// TestFederationPermission_HandlingCodesBindRecipient checks that a
// partner's H1/H2/H3 lead leaves the recipient's node only with the
// originator's permission, and that the permission travels both ways.
func TestFederationPermission_HandlingCodesBindRecipient(t *testing.T) {
	t.Parallel()
	alpha, bravo := pair(t)
	ctx := context.Background()
	h0 := alpha.createReleased(t, permLead("H0 lead", liaisonv1.HandlingCode_HANDLING_CODE_H0), "bravo")
	h1 := alpha.createReleased(t, permLead("H1 lead", liaisonv1.HandlingCode_HANDLING_CODE_H1), "bravo")
	h2 := alpha.createReleased(t, permLead("H2 lead", liaisonv1.HandlingCode_HANDLING_CODE_H2), "bravo")
	h3 := alpha.createReleased(t, permLead("H3 lead", liaisonv1.HandlingCode_HANDLING_CODE_H3), "bravo")
	h2b := alpha.createReleased(t, permLead("second H2 lead", liaisonv1.HandlingCode_HANDLING_CODE_H2), "bravo")
	for _, l := range []*liaisonv1.Lead{h0, h1, h2, h3, h2b} {
		bravo.waitVersion(t, l.GetId(), l.GetVersion())
	}
	res := func(l *liaisonv1.Lead) string { return "leads/" + l.GetId() }

	t.Run("H2 by id is refused naming the handling code", func(t *testing.T) {
		permWantBlocked(t, bravo.analyst, []string{h2.GetId()}, "handling.h2 "+res(h2))
	})
	t.Run("H1 and H3 by id are refused too", func(t *testing.T) {
		permWantBlocked(t, bravo.analyst, []string{h1.GetId(), h3.GetId()}, "handling.h1 "+res(h1), "handling.h3 "+res(h3))
	})
	t.Run("H0 by id is exported", func(t *testing.T) {
		got, refused, err := permExport(t, bravo.analyst, &liaisonv1.ExportLeadsRequest{Ids: []string{h0.GetId()}})
		if err != nil || !slices.Equal(got, []string{h0.GetId()}) || len(refused) != 0 {
			t.Fatalf("export of the H0 lead: %v %v %v", got, refused, err)
		}
	})
	t.Run("by id is all or nothing", func(t *testing.T) {
		permWantBlocked(t, bravo.analyst, []string{h0.GetId(), h2.GetId()}, "handling.h2 "+res(h2))
	})
	t.Run("bulk export reports the refusals", func(t *testing.T) {
		got, refused, err := permExport(t, bravo.analyst, &liaisonv1.ExportLeadsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, []string{h0.GetId()}) {
			t.Errorf("bulk export streamed %v, want only the H0 lead %s", got, h0.GetId())
		}
		want := map[string]liaisonv1.HandlingCode{
			h1.GetId(): liaisonv1.HandlingCode_HANDLING_CODE_H1, h2.GetId(): liaisonv1.HandlingCode_HANDLING_CODE_H2,
			h3.GetId(): liaisonv1.HandlingCode_HANDLING_CODE_H3, h2b.GetId(): liaisonv1.HandlingCode_HANDLING_CODE_H2,
		}
		if len(refused) != len(want) {
			t.Errorf("bulk export refused %d leads, want %d: %v", len(refused), len(want), refused)
		}
		for _, r := range refused {
			if code, ok := want[r.GetId()]; !ok || r.GetHandlingCode() != code || r.GetOriginAgency() != "alpha" || r.GetReason() == "" {
				t.Errorf("refusal %v", r)
			}
		}
	})
	t.Run("the originator exports its own H2 lead", func(t *testing.T) {
		got, _, err := permExport(t, alpha.analyst, &liaisonv1.ExportLeadsRequest{Ids: []string{h2.GetId()}})
		if err != nil || len(got) != 1 {
			t.Fatalf("alpha exporting its own H2 lead: %v %v", got, err)
		}
	})
	t.Run("a replica is never released onward", func(t *testing.T) {
		_, err := bravo.supervisor.ReleaseLead(ctx, &liaisonv1.ReleaseLeadRequest{Id: h2.GetId(), Partners: []string{"alpha"}})
		if status.Code(err) != codes.FailedPrecondition {
			t.Fatalf("bravo releasing alpha's lead: %v, want FailedPrecondition", err)
		}
		if v := permViolations(t, err); !slices.Equal(v, []string{"handling.no_onward_release " + res(h2)}) {
			t.Errorf("violations %q", v)
		}
		_, err = bravo.supervisor.ReleaseLead(ctx, &liaisonv1.ReleaseLeadRequest{Id: h0.GetId(), Partners: []string{"alpha"}})
		if status.Code(err) != codes.FailedPrecondition {
			t.Fatalf("bravo releasing alpha's H0 lead: %v, want FailedPrecondition", err)
		}
	})
	t.Run("permission for an H0 lead is not asked", func(t *testing.T) {
		_, err := bravo.perms.RequestPermission(ctx, &liaisonv1.RequestPermissionRequest{RecordId: h0.GetId(), Purpose: liaisonv1.PermissionPurpose_PERMISSION_PURPOSE_EXPORT, Justification: "needless"})
		if status.Code(err) != codes.FailedPrecondition {
			t.Fatalf("bravo asking permission for an H0 lead: %v, want FailedPrecondition", err)
		}
	})
	t.Run("permission for the own record is not asked", func(t *testing.T) {
		_, err := alpha.perms.RequestPermission(ctx, &liaisonv1.RequestPermissionRequest{RecordId: h2.GetId(), Purpose: liaisonv1.PermissionPurpose_PERMISSION_PURPOSE_EXPORT, Justification: "mine"})
		if status.Code(err) != codes.FailedPrecondition {
			t.Fatalf("alpha asking permission for its own lead: %v, want FailedPrecondition", err)
		}
	})

	// Bravo asks alpha for permission to export the H2 lead; alpha grants.
	asked, err := bravo.perms.RequestPermission(ctx, &liaisonv1.RequestPermissionRequest{
		RecordId: h2.GetId(), Purpose: liaisonv1.PermissionPurpose_PERMISSION_PURPOSE_EXPORT, Justification: "joint case file for the prosecutor",
	})
	if err != nil {
		t.Fatal(err)
	}
	req := asked.GetRequest()
	if req.GetStatus() != liaisonv1.PermissionStatus_PERMISSION_STATUS_PENDING || req.GetOriginAgency() != "alpha" || req.GetRequestingAgency() != "bravo" || req.GetRecordId() != h2.GetId() {
		t.Fatalf("request as made: %v", req)
	}
	in := permWaitIncoming(t, alpha, req.GetId())
	if in.GetJustification() != "joint case file for the prosecutor" || in.GetRequestingAgency() != "bravo" || in.GetRecordId() != h2.GetId() {
		t.Errorf("request as alpha received it: %v", in)
	}
	t.Run("bravo's analyst cannot decide", func(t *testing.T) {
		_, err := bravo.perms.DecidePermissionRequest(ctx, &liaisonv1.DecidePermissionRequestRequest{Id: req.GetId(), Grant: true, Reason: "self-service"})
		if status.Code(err) != codes.PermissionDenied {
			t.Fatalf("bravo's analyst deciding: %v, want PermissionDenied", err)
		}
	})
	t.Run("bravo's supervisor cannot decide its own request", func(t *testing.T) {
		_, err := bravo.permsSup.DecidePermissionRequest(ctx, &liaisonv1.DecidePermissionRequestRequest{Id: req.GetId(), Grant: true, Reason: "self-service"})
		if status.Code(err) != codes.FailedPrecondition {
			t.Fatalf("bravo's supervisor deciding its own request: %v, want FailedPrecondition", err)
		}
		permWantBlocked(t, bravo.analyst, []string{h2.GetId()}, "handling.h2 "+res(h2))
	})
	t.Run("alpha's analyst cannot decide", func(t *testing.T) {
		_, err := alpha.perms.DecidePermissionRequest(ctx, &liaisonv1.DecidePermissionRequestRequest{Id: req.GetId(), Grant: true, Reason: "ok"})
		if status.Code(err) != codes.PermissionDenied {
			t.Fatalf("alpha's analyst deciding: %v, want PermissionDenied", err)
		}
	})
	dec, err := alpha.permsSup.DecidePermissionRequest(ctx, &liaisonv1.DecidePermissionRequestRequest{Id: req.GetId(), Grant: true, Reason: "for the joint case only"})
	if err != nil {
		t.Fatal(err)
	}
	if dec.GetRequest().GetStatus() != liaisonv1.PermissionStatus_PERMISSION_STATUS_GRANTED {
		t.Fatalf("decision: %v", dec.GetRequest())
	}
	t.Run("a decided request is not decided again", func(t *testing.T) {
		_, err := alpha.permsSup.DecidePermissionRequest(ctx, &liaisonv1.DecidePermissionRequestRequest{Id: req.GetId(), Grant: false, Reason: "changed my mind"})
		if status.Code(err) != codes.FailedPrecondition {
			t.Fatalf("deciding again: %v, want FailedPrecondition", err)
		}
	})
	granted := permWaitStatus(t, bravo, req.GetId(), liaisonv1.PermissionStatus_PERMISSION_STATUS_GRANTED)
	if granted.GetDecisionReason() != "for the joint case only" || granted.GetDecidedBy() == "" || granted.GetDecideTime() == nil {
		t.Errorf("decision as bravo received it: %v", granted)
	}
	t.Run("granted H2 lead is exported", func(t *testing.T) {
		got, _, err := permExport(t, bravo.analyst, &liaisonv1.ExportLeadsRequest{Ids: []string{h2.GetId()}})
		if err != nil || !slices.Equal(got, []string{h2.GetId()}) {
			t.Fatalf("export of the granted H2 lead: %v %v", got, err)
		}
	})

	// A second H2 lead whose request alpha refuses stays blocked.
	asked2, err := bravo.perms.RequestPermission(ctx, &liaisonv1.RequestPermissionRequest{
		RecordId: h2b.GetId(), Purpose: liaisonv1.PermissionPurpose_PERMISSION_PURPOSE_EXPORT, Justification: "same again",
	})
	if err != nil {
		t.Fatal(err)
	}
	permWaitIncoming(t, alpha, asked2.GetRequest().GetId())
	if _, err := alpha.permsSup.DecidePermissionRequest(ctx, &liaisonv1.DecidePermissionRequestRequest{Id: asked2.GetRequest().GetId(), Grant: false, Reason: "source protection"}); err != nil {
		t.Fatal(err)
	}
	refused := permWaitStatus(t, bravo, asked2.GetRequest().GetId(), liaisonv1.PermissionStatus_PERMISSION_STATUS_REFUSED)
	if refused.GetDecisionReason() != "source protection" {
		t.Errorf("refusal as bravo received it: %v", refused)
	}
	t.Run("refused H2 lead stays blocked", func(t *testing.T) {
		permWantBlocked(t, bravo.analyst, []string{h2b.GetId()}, "handling.h2 "+res(h2b))
		permWantBlocked(t, bravo.analyst, []string{h2.GetId(), h2b.GetId()}, "handling.h2 "+res(h2b))
	})
	t.Run("bulk export after the decisions", func(t *testing.T) {
		got, refusals, err := permExport(t, bravo.analyst, &liaisonv1.ExportLeadsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		want := []string{h0.GetId(), h2.GetId()}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("bulk export streamed %v, want %v (H0 and the granted H2)", got, want)
		}
		var ids []string
		for _, r := range refusals {
			ids = append(ids, r.GetId())
		}
		slices.Sort(ids)
		wantRefused := []string{h1.GetId(), h3.GetId(), h2b.GetId()}
		slices.Sort(wantRefused)
		if !slices.Equal(ids, wantRefused) {
			t.Errorf("bulk export refused %v, want %v", ids, wantRefused)
		}
	})
	t.Run("the permission envelopes were applied on both sides", func(t *testing.T) {
		nodetest.Eventually(t, 10*time.Second, func() error {
			// bravo → alpha: two requests; alpha → bravo: five leads, two decisions.
			if n := countRows(t, alpha.Cfg.Database.Path, "SELECT count(*) FROM inbox WHERE sender = 'bravo' AND kind = 3 AND status = 1"); n != 2 {
				return fmt.Errorf("alpha applied %d permission requests, want 2", n)
			}
			if n := countRows(t, bravo.Cfg.Database.Path, "SELECT count(*) FROM inbox WHERE sender = 'alpha' AND kind = 4 AND status = 1"); n != 2 {
				return fmt.Errorf("bravo applied %d permission decisions, want 2", n)
			}
			return nil
		})
	})
}

// TestFederationPermission_WithdrawnLeadIsNotExported checks that a
// withdrawn replica cannot be exported even with a permission granted
// before the withdrawal.
func TestFederationPermission_WithdrawnLeadIsNotExported(t *testing.T) {
	t.Parallel()
	alpha, bravo := pair(t)
	ctx := context.Background()
	h2 := alpha.createReleased(t, permLead("H2 to withdraw", liaisonv1.HandlingCode_HANDLING_CODE_H2), "bravo")
	bravo.waitVersion(t, h2.GetId(), h2.GetVersion())
	asked, err := bravo.perms.RequestPermission(ctx, &liaisonv1.RequestPermissionRequest{RecordId: h2.GetId(), Purpose: liaisonv1.PermissionPurpose_PERMISSION_PURPOSE_EXPORT, Justification: "case"})
	if err != nil {
		t.Fatal(err)
	}
	permWaitIncoming(t, alpha, asked.GetRequest().GetId())
	if _, err := alpha.permsSup.DecidePermissionRequest(ctx, &liaisonv1.DecidePermissionRequestRequest{Id: asked.GetRequest().GetId(), Grant: true, Reason: "ok"}); err != nil {
		t.Fatal(err)
	}
	permWaitStatus(t, bravo, asked.GetRequest().GetId(), liaisonv1.PermissionStatus_PERMISSION_STATUS_GRANTED)
	if got, _, err := permExport(t, bravo.analyst, &liaisonv1.ExportLeadsRequest{Ids: []string{h2.GetId()}}); err != nil || len(got) != 1 {
		t.Fatalf("export with permission: %v %v", got, err)
	}
	wd, err := alpha.supervisor.WithdrawLead(ctx, &liaisonv1.WithdrawLeadRequest{Id: h2.GetId(), Reason: "source burned"})
	if err != nil {
		t.Fatal(err)
	}
	bravo.waitVersion(t, h2.GetId(), wd.GetLead().GetVersion())
	exported, _, err := permExport(t, bravo.analyst, &liaisonv1.ExportLeadsRequest{Ids: []string{h2.GetId()}})
	if status.Code(err) != codes.FailedPrecondition || len(exported) != 0 {
		t.Fatalf("export of the withdrawn lead: %v %v, want FailedPrecondition", exported, err)
	}
	// The refusal names why: the lead was withdrawn (it has no handling
	// code any more, its content is gone).
	if v := permViolations(t, err); !slices.Equal(v, []string{"lead.withdrawn leads/" + h2.GetId()}) {
		t.Errorf("export of the withdrawn lead refused with violations %q, want [\"lead.withdrawn leads/%s\"]", v, h2.GetId())
	}
	// A bulk export leaves the withdrawn lead out: neither exported nor
	// reported, its content is gone.
	all, refusals, err := permExport(t, bravo.analyst, &liaisonv1.ExportLeadsRequest{})
	if err != nil || len(all) != 0 || len(refusals) != 0 {
		t.Errorf("bulk export after the withdrawal: exported %v, refused %v, err %v; want nothing", all, refusals, err)
	}
	if _, err := bravo.perms.RequestPermission(ctx, &liaisonv1.RequestPermissionRequest{RecordId: h2.GetId(), Purpose: liaisonv1.PermissionPurpose_PERMISSION_PURPOSE_EXPORT, Justification: "again"}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("asking permission for a withdrawn lead: %v, want FailedPrecondition", err)
	}
}
