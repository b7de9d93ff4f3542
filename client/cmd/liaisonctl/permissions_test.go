package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// permission is a line of the detail view of a request, aligned at the
// width of "JUSTIFICATION:".
func permission(key, value string) string { return kv(16, key, value) }

// listPermissions lists the requests on p with the flags given.
func listPermissions(p *peer, role string, args ...string) ([]*liaisonv1.PermissionRequest, error) {
	var resp liaisonv1.ListPermissionRequestsResponse
	err := p.tryJSON(role, &resp, append([]string{"permissions", "list"}, args...)...)
	return resp.GetRequests(), err
}

// waitPermission waits until p lists request id in status.
func waitPermission(t *testing.T, p *peer, id string, status liaisonv1.PermissionStatus) *liaisonv1.PermissionRequest {
	t.Helper()
	var got *liaisonv1.PermissionRequest
	eventually(t, func() error {
		rs, err := listPermissions(p, "analyst")
		if err != nil {
			return err
		}
		for _, r := range rs {
			if r.GetId() == id && r.GetStatus() == status {
				got = r
				return nil
			}
		}
		return fmt.Errorf("%s does not list request %s as %v: %v", p.Agency, id, status, rs)
	})
	return got
}

func TestPermissions_RoundTrip(t *testing.T) {
	t.Parallel()
	alpha, bravo := startPair(t)
	h2 := bravo.waitLead(t, alpha.createReleased(t, "needs permission", "H2", "bravo"))
	h1 := bravo.waitLead(t, alpha.createReleased(t, "to be refused", "H1", "bravo"))
	bravo.ctl(t, "analyst", "leads", "export", "--id", h2.GetId()).wantCode(t, exitFailed)

	// bravo asks alpha, once in each output format.
	var asked liaisonv1.RequestPermissionResponse
	bravo.ctl(t, "analyst", "permissions", "request", h2.GetId(), "--purpose", "export", "--justification", "needed in the case file", "-o", "json").
		wantCode(t, exitOK).decode(t, &asked)
	grantID := asked.GetRequest().GetId()
	if r := asked.GetRequest(); r.GetRecordId() != h2.GetId() || r.GetOriginAgency() != "alpha" || r.GetRequestingAgency() != "bravo" ||
		r.GetStatus() != liaisonv1.PermissionStatus_PERMISSION_STATUS_PENDING || r.GetPurpose() != liaisonv1.PermissionPurpose_PERMISSION_PURPOSE_EXPORT ||
		r.GetJustification() != "needed in the case file" || !strings.HasPrefix(r.GetRequestedBy(), "spiffe://bravo.liaison.test/analyst/") {
		t.Errorf("request: %v", r)
	}
	r := bravo.ctl(t, "analyst", "permissions", "request", h1.GetId(), "--purpose", "EXPORT", "--justification", "court case").wantCode(t, exitOK)
	wantContains(t, "stdout", r.stdout,
		permission("LEAD:", h1.GetId()),
		permission("PURPOSE:", "export"),
		permission("FROM:", "bravo (requester)"),
		permission("TO:", "alpha (originator, decides)"),
		permission("STATUS:", "pending"),
		permission("JUSTIFICATION:", "court case"),
		permission("REQUESTED BY:", "spiffe://bravo.liaison.test/analyst/"),
	)
	if strings.Contains(r.stdout, "DECIDED BY:") {
		t.Errorf("a pending request shows a decision:\n%s", r.stdout)
	}
	refuseID := uuidPattern.FindString(strings.SplitN(r.stdout, "\n", 2)[0])
	if refuseID == "" {
		t.Fatalf("first line is not the request's ID:\n%s", r.stdout)
	}

	t.Run("OwnLead", func(t *testing.T) {
		r := alpha.ctl(t, "analyst", "permissions", "request", h2.GetId(), "--purpose", "export", "--justification", "x").wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: FAILED_PRECONDITION: ", "rule permission.own_record on leads/"+h2.GetId())
	})

	// The requests travel to alpha.
	eventually(t, func() error {
		rs, err := listPermissions(alpha, "supervisor", "--direction", "incoming", "--status", "pending")
		if err != nil || len(rs) != 2 {
			return fmt.Errorf("alpha's pending incoming requests: %v %v", rs, err)
		}
		return nil
	})
	t.Run("ListIncoming", func(t *testing.T) {
		r := alpha.ctl(t, "supervisor", "permissions", "list", "--direction", "incoming").wantCode(t, exitOK)
		ls := lines(r.stdout)
		if len(ls) != 3 {
			t.Fatalf("want a header and 2 requests:\n%s", r.stdout)
		}
		if got := strings.Fields(ls[0]); !cmp.Equal(got, []string{"ID", "LEAD", "PURPOSE", "FROM", "TO", "STATUS", "REQUESTED", "BY", "CREATED", "DECIDED", "BY", "REASON", "JUSTIFICATION"}) {
			t.Errorf("header %q", ls[0])
		}
		// Newest first.
		got := strings.Fields(ls[1])
		if len(got) < 11 || got[0] != refuseID || got[1] != h1.GetId() || got[2] != "export" || got[3] != "bravo" || got[4] != "alpha" ||
			got[5] != "pending" || got[8] != "-" || got[9] != "-" || strings.Join(got[10:], " ") != "court case" {
			t.Errorf("row %q", ls[1])
		}
		wantContains(t, "row", ls[2], grantID, h2.GetId(), "needed in the case file")
	})
	t.Run("ListFilters", func(t *testing.T) {
		for _, tc := range []struct {
			node *peer
			args []string
			want []string
		}{
			{bravo, nil, []string{refuseID, grantID}},
			{bravo, []string{"--direction", "outgoing"}, []string{refuseID, grantID}},
			{bravo, []string{"--direction", "incoming"}, nil},
			{alpha, []string{"--direction", "outgoing"}, nil},
			{alpha, []string{"--lead", h2.GetId()}, []string{grantID}},
			{alpha, []string{"--status", "granted"}, nil},
			{alpha, []string{"--page-size", "1", "--all"}, []string{refuseID, grantID}},
		} {
			rs, err := listPermissions(tc.node, "analyst", tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rs {
				got = append(got, r.GetId())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s: permissions list %v (-want +got):\n%s", tc.node.Agency, tc.args, diff)
			}
		}
		r := alpha.ctl(t, "analyst", "permissions", "list", "--page-size", "1").wantCode(t, exitOK)
		wantContains(t, "stdout", r.stdout, refuseID, "\nnext page: --page-token ")
	})
	t.Run("OnlySupervisorsOfTheOriginatorDecide", func(t *testing.T) {
		r := alpha.ctl(t, "analyst", "permissions", "grant", grantID, "--reason", "fine").wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: PERMISSION_DENIED: ")
		r = bravo.ctl(t, "supervisor", "permissions", "grant", grantID, "--reason", "fine").wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: FAILED_PRECONDITION: ", "rule permission.originator_decides on permission_requests/"+grantID)
	})

	// alpha decides, once in each output format.
	r = alpha.ctl(t, "supervisor", "permissions", "grant", grantID, "--reason", "for the case file only").wantCode(t, exitOK)
	wantContains(t, "stdout", r.stdout,
		permission("ID:", grantID),
		permission("STATUS:", "granted"),
		permission("DECIDED BY:", "spiffe://alpha.liaison.test/supervisor/"),
		permission("REASON:", "for the case file only"),
	)
	var refused liaisonv1.DecidePermissionRequestResponse
	alpha.ctl(t, "supervisor", "permissions", "refuse", refuseID, "--reason", "not as evidence", "-o", "json").wantCode(t, exitOK).decode(t, &refused)
	if r := refused.GetRequest(); r.GetStatus() != liaisonv1.PermissionStatus_PERMISSION_STATUS_REFUSED || r.GetDecisionReason() != "not as evidence" || r.GetDecideTime() == nil {
		t.Errorf("refused request: %v", r)
	}
	r = alpha.ctl(t, "supervisor", "permissions", "refuse", grantID, "--reason", "changed my mind").wantCode(t, exitFailed)
	wantContains(t, "stderr", r.stderr, "error: FAILED_PRECONDITION: ", "rule permission.decided on permission_requests/"+grantID)

	// The decisions travel back to bravo.
	got := waitPermission(t, bravo, grantID, liaisonv1.PermissionStatus_PERMISSION_STATUS_GRANTED)
	if got.GetDecisionReason() != "for the case file only" || !regexp.MustCompile(`^alpha/supervisor/[0-9a-f]{16}$`).MatchString(got.GetDecidedBy()) {
		t.Errorf("granted request on bravo: %v", got)
	}
	waitPermission(t, bravo, refuseID, liaisonv1.PermissionStatus_PERMISSION_STATUS_REFUSED)
	r = bravo.ctl(t, "analyst", "permissions", "list", "--status", "granted").wantCode(t, exitOK)
	if ls := lines(r.stdout); len(ls) != 2 || !strings.Contains(ls[1], " granted ") || !strings.Contains(ls[1], " for the case file only ") {
		t.Errorf("bravo's granted requests:\n%s", r.stdout)
	}

	// Now bravo may export the granted lead, and still not the other.
	r = bravo.ctl(t, "analyst", "leads", "export", "--id", h2.GetId()).wantCode(t, exitOK)
	if l := lines(r.stdout); len(l) != 1 || !strings.Contains(l[0], `"id":"`+h2.GetId()+`"`) {
		t.Errorf("export of the granted lead:\n%s", r.stdout)
	}
	r = bravo.ctl(t, "analyst", "leads", "export", "--id", h1.GetId()).wantCode(t, exitFailed)
	wantContains(t, "stderr", r.stderr, "rule handling.h1 on leads/"+h1.GetId()+": handling code H1 of alpha")
	r = bravo.ctl(t, "analyst", "leads", "export").wantCode(t, exitFailed)
	wantContains(t, "stderr", r.stderr, "refused "+h1.GetId()+" (alpha, H1): ", "exported 1, refused 1")
}
