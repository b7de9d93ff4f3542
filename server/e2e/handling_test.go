package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/handling"
	"github.com/liaison-exchange/liaison/server/identity"
)

// The handling-code policy (README "Handling codes"), every cell, against
// a real pair: alpha releases leads coded H0–H3 to bravo, twice over (one
// set bravo has alpha's permission for, one it has not), and every role of
// bravo reads them through every surface.

// Cells as the README writes them.
const (
	hShown = "shown"      // allowed with the restriction shown
	hPerm  = "permission" // needs the originator's permission
	hRef   = "refused"
)

// handlingWant is the README table, written out independently of
// handling.Rule: surface → role → H0, H1, H2, H3.
var handlingWant = map[handling.Surface]map[identity.Role][4]string{
	handling.GetLead: {
		identity.Analyst: {hShown, hShown, hShown, hShown}, identity.Supervisor: {hShown, hShown, hShown, hShown},
		identity.Service: {hShown, hShown, hPerm, hPerm}, identity.Auditor: {hRef, hRef, hRef, hRef}, identity.Node: {hRef, hRef, hRef, hRef},
	},
	handling.ListLeads: {
		identity.Analyst: {hShown, hShown, hShown, hShown}, identity.Supervisor: {hShown, hShown, hShown, hShown},
		identity.Service: {hShown, hShown, hPerm, hPerm}, identity.Auditor: {hRef, hRef, hRef, hRef}, identity.Node: {hRef, hRef, hRef, hRef},
	},
	handling.Watch: {
		identity.Analyst: {hShown, hShown, hShown, hShown}, identity.Supervisor: {hShown, hShown, hShown, hShown},
		identity.Service: {hShown, hShown, hPerm, hPerm}, identity.Auditor: {hRef, hRef, hRef, hRef}, identity.Node: {hRef, hRef, hRef, hRef},
	},
	handling.SearchPersons: {
		identity.Analyst: {hShown, hShown, hShown, hShown}, identity.Supervisor: {hShown, hShown, hShown, hShown},
		identity.Service: {hShown, hShown, hPerm, hPerm}, identity.Auditor: {hRef, hRef, hRef, hRef}, identity.Node: {hRef, hRef, hRef, hRef},
	},
	handling.ExportLeads: {
		identity.Analyst: {hShown, hPerm, hPerm, hPerm}, identity.Supervisor: {hShown, hPerm, hPerm, hPerm},
		identity.Service: {hShown, hPerm, hPerm, hPerm}, identity.Auditor: {hRef, hRef, hRef, hRef}, identity.Node: {hRef, hRef, hRef, hRef},
	},
	handling.OnwardRelease: {
		identity.Analyst: {hRef, hRef, hRef, hRef}, identity.Supervisor: {hRef, hRef, hRef, hRef},
		identity.Service: {hRef, hRef, hRef, hRef}, identity.Auditor: {hRef, hRef, hRef, hRef}, identity.Node: {hRef, hRef, hRef, hRef},
	},
}

var handlingCodes = [4]liaisonv1.HandlingCode{
	liaisonv1.HandlingCode_HANDLING_CODE_H0, liaisonv1.HandlingCode_HANDLING_CODE_H1,
	liaisonv1.HandlingCode_HANDLING_CODE_H2, liaisonv1.HandlingCode_HANDLING_CODE_H3,
}

// TestHandling_RuleIsTheREADMETable: the policy function is the table.
func TestHandling_RuleIsTheREADMETable(t *testing.T) {
	t.Parallel()
	for _, s := range handling.Surfaces {
		for _, r := range identity.Roles {
			for i, code := range handlingCodes {
				want := handlingWant[s][r][i]
				got := map[handling.Verdict]string{handling.Shown: hShown, handling.NeedsPermission: hPerm, handling.Refused: hRef}[handling.Rule(s, r, code)]
				if got != want {
					t.Errorf("%s × %s × %s: handling.Rule says %s, the table %s", s, r, handling.Name(code), got, want)
				}
			}
		}
	}
}

// What a caller got of one lead on one surface.
const (
	gotShown    = "shown"    // full content, restriction attached and not withheld
	gotWithheld = "withheld" // no content; the restriction says why (or FAILED_PRECONDITION handling.hN by id)
	gotRefused  = "refused"  // PERMISSION_DENIED, or a refusal whatever the permission
)

type handlingLead struct {
	lead    *liaisonv1.Lead
	code    int // index into handlingCodes
	granted bool
	doc     string
}

// TestHandling_EverySurfaceEveryRoleEveryCode is the table test.
func TestHandling_EverySurfaceEveryRoleEveryCode(t *testing.T) {
	t.Parallel()
	alpha, bravo := pair(t)
	ctx := context.Background()
	var leads []*handlingLead
	for _, granted := range []bool{false, true} {
		for i, code := range handlingCodes {
			l := permLead(fmt.Sprintf("%s lead, granted %v", handling.Name(code), granted), code)
			doc := fmt.Sprintf("HX%d%d%d", i, map[bool]int{false: 0, true: 1}[granted], time.Now().UnixNano()%1000)
			l.Subjects = []*liaisonv1.Person{{
				Names:     []*liaisonv1.PersonName{{FamilyName: "Handling", GivenNames: "Subject"}},
				Documents: []*liaisonv1.IdentityDocument{{Type: liaisonv1.DocumentType_DOCUMENT_TYPE_PASSPORT, Number: doc, IssuingCountry: "CHN"}},
			}}
			leads = append(leads, &handlingLead{lead: alpha.createReleased(t, l, "bravo"), code: i, granted: granted, doc: doc})
		}
	}
	for _, hl := range leads {
		bravo.waitVersion(t, hl.lead.GetId(), hl.lead.GetVersion())
	}
	// Bravo asks alpha's permission for the granted set (H1–H3; H0 needs
	// none), alpha grants, and bravo learns it.
	for _, hl := range leads {
		if !hl.granted || hl.code == 0 {
			continue
		}
		asked, err := bravo.perms.RequestPermission(ctx, &liaisonv1.RequestPermissionRequest{
			RecordId: hl.lead.GetId(), Purpose: liaisonv1.PermissionPurpose_PERMISSION_PURPOSE_EXPORT, Justification: "handling table",
		})
		if err != nil {
			t.Fatal(err)
		}
		permWaitIncoming(t, alpha, asked.GetRequest().GetId())
		if _, err := alpha.permsSup.DecidePermissionRequest(ctx, &liaisonv1.DecidePermissionRequestRequest{Id: asked.GetRequest().GetId(), Grant: true, Reason: "ok"}); err != nil {
			t.Fatal(err)
		}
		permWaitStatus(t, bravo, asked.GetRequest().GetId(), liaisonv1.PermissionStatus_PERMISSION_STATUS_GRANTED)
	}

	for _, role := range identity.Roles {
		conn := bravo.Conn(t, string(role))
		leadsC, feed, search := liaisonv1.NewLeadServiceClient(conn), liaisonv1.NewChangeFeedServiceClient(conn), liaisonv1.NewSearchServiceClient(conn)
		got := map[handling.Surface]func(t *testing.T, hl *handlingLead) string{
			handling.GetLead: func(t *testing.T, hl *handlingLead) string {
				r, err := leadsC.GetLead(ctx, &liaisonv1.GetLeadRequest{Id: hl.lead.GetId()})
				return handlingOutcome(t, hl, r.GetLead(), err)
			},
			handling.ListLeads: func(t *testing.T, hl *handlingLead) string {
				var page string
				for {
					r, err := leadsC.ListLeads(ctx, &liaisonv1.ListLeadsRequest{OriginAgency: "alpha", PageSize: 3, PageToken: page})
					if err != nil {
						return handlingOutcome(t, hl, nil, err)
					}
					for _, l := range r.GetLeads() {
						if l.GetId() == hl.lead.GetId() {
							return handlingOutcome(t, hl, l, nil)
						}
					}
					if page = r.GetNextPageToken(); page == "" {
						t.Fatalf("ListLeads does not list %s", hl.lead.GetId())
					}
				}
			},
			handling.Watch: func(t *testing.T, hl *handlingLead) string {
				changes, err := handlingFeed(feed)
				if err != nil {
					return handlingOutcome(t, hl, nil, err)
				}
				var last *liaisonv1.Lead
				for _, c := range changes {
					if c.GetRecordId() == hl.lead.GetId() && c.GetLead() != nil {
						last = c.GetLead()
					}
				}
				if last == nil {
					t.Fatalf("the feed has no change with lead %s", hl.lead.GetId())
				}
				return handlingOutcome(t, hl, last, nil)
			},
			handling.SearchPersons: func(t *testing.T, hl *handlingLead) string {
				r, err := search.SearchPersons(ctx, &liaisonv1.SearchPersonsRequest{Document: hl.doc})
				if err != nil {
					return handlingOutcome(t, hl, nil, err)
				}
				for _, h := range r.GetHits() {
					if h.GetRecordId() != hl.lead.GetId() {
						continue
					}
					rs := h.GetRestriction()
					switch {
					case rs.GetCode() != handlingCodes[hl.code] || rs.GetOriginator() != "alpha" || rs.GetMeaning() == "":
						t.Errorf("hit on %s carries restriction %v", hl.lead.GetId(), rs)
					case rs.GetWithheld() && h.GetPerson() == nil && h.GetRecordTitle() == "" && len(h.GetReasons()) == 0:
						return gotWithheld
					case !rs.GetWithheld() && h.GetPerson() != nil && h.GetRecordTitle() == hl.lead.GetTitle():
						return gotShown
					}
					t.Fatalf("hit %v", h)
				}
				t.Fatalf("search for %s does not find lead %s", hl.doc, hl.lead.GetId())
				return ""
			},
			handling.ExportLeads: func(t *testing.T, hl *handlingLead) string {
				stream, err := leadsC.ExportLeads(ctx, &liaisonv1.ExportLeadsRequest{Ids: []string{hl.lead.GetId()}})
				if err != nil {
					return handlingOutcome(t, hl, nil, err)
				}
				var l *liaisonv1.Lead
				for {
					resp, err := stream.Recv()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						return handlingOutcome(t, hl, nil, err)
					}
					l = resp.GetLead()
				}
				return handlingOutcome(t, hl, l, nil)
			},
			handling.OnwardRelease: func(t *testing.T, hl *handlingLead) string {
				r, err := leadsC.ReleaseLead(ctx, &liaisonv1.ReleaseLeadRequest{Id: hl.lead.GetId(), Partners: []string{"alpha"}})
				if err == nil {
					t.Fatalf("bravo's %s released alpha's lead onward: %v", role, r.GetLead())
				}
				return handlingOutcome(t, hl, nil, err)
			},
		}
		for _, s := range handling.Surfaces {
			for _, hl := range leads {
				name := fmt.Sprintf("%s/%s/%s/granted=%v", strings.ReplaceAll(string(s), " ", "_"), role, handling.Name(handlingCodes[hl.code]), hl.granted)
				t.Run(name, func(t *testing.T) {
					cell := handlingWant[s][role][hl.code]
					want := map[string]string{hShown: gotShown, hRef: gotRefused, hPerm: gotWithheld}[cell]
					if cell == hPerm && hl.granted {
						want = gotShown
					}
					if got := got[s](t, hl); got != want {
						t.Errorf("table says %s: got %s, want %s", cell, got, want)
					}
				})
			}
		}
	}

	t.Run("OwnRecordsAreNotRestricted", func(t *testing.T) {
		for _, role := range []string{"analyst", "service"} {
			c := liaisonv1.NewLeadServiceClient(alpha.Conn(t, role))
			for _, hl := range leads {
				r, err := c.GetLead(ctx, &liaisonv1.GetLeadRequest{Id: hl.lead.GetId()})
				if err != nil || r.GetLead().GetTitle() != hl.lead.GetTitle() || r.GetLead().GetRestriction() != nil {
					t.Errorf("alpha's %s reading its own %s lead: %v %v", role, handling.Name(handlingCodes[hl.code]), r.GetLead(), err)
				}
			}
		}
	})
}

// handlingOutcome classifies what a surface gave of hl: the lead served
// (nil if none) or the call's error.
func handlingOutcome(t *testing.T, hl *handlingLead, l *liaisonv1.Lead, err error) string {
	t.Helper()
	code := handlingCodes[hl.code]
	if err != nil {
		switch status.Code(err) {
		case codes.PermissionDenied:
			return gotRefused
		case codes.FailedPrecondition:
			v := permViolations(t, err)
			if len(v) == 1 && v[0] == "handling.no_onward_release leads/"+hl.lead.GetId() {
				return gotRefused
			}
			if len(v) == 1 && v[0] == "handling."+strings.ToLower(handling.Name(code))+" leads/"+hl.lead.GetId() {
				return gotWithheld
			}
		}
		t.Fatalf("error %v", err)
	}
	rs := l.GetRestriction()
	if rs.GetCode() != code || rs.GetOriginator() != "alpha" || rs.GetMeaning() == "" || rs.GetPermissionGranted() != (hl.granted && hl.code > 0) {
		t.Errorf("lead %s served with restriction %v", l.GetId(), rs)
	}
	if code == liaisonv1.HandlingCode_HANDLING_CODE_H3 && rs.GetConditions() != "not to be shared with immigration services" {
		t.Errorf("H3 conditions served as %q", rs.GetConditions())
	}
	if l.GetHandling().GetCode() != code {
		t.Errorf("lead %s served with handling %v", l.GetId(), l.GetHandling())
	}
	switch {
	case rs.GetWithheld() && l.GetTitle() == "" && len(l.GetSubjects()) == 0 && l.GetSummary() == "" && l.GetId() == hl.lead.GetId():
		return gotWithheld
	case !rs.GetWithheld() && l.GetTitle() == hl.lead.GetTitle() && len(l.GetSubjects()) == 1:
		return gotShown
	}
	t.Fatalf("served %v", l)
	return ""
}

// handlingFeed reads the lead changes of a feed until it caught up.
func handlingFeed(feed liaisonv1.ChangeFeedServiceClient) ([]*liaisonv1.Change, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := feed.Watch(ctx, &liaisonv1.WatchRequest{Kinds: []liaisonv1.ChangeKind{liaisonv1.ChangeKind_CHANGE_KIND_LEAD}})
	if err != nil {
		return nil, err
	}
	var out []*liaisonv1.Change
	for {
		resp, err := stream.Recv()
		if err != nil {
			return nil, err
		}
		if resp.GetChange() == nil {
			return out, nil
		}
		out = append(out, resp.GetChange())
	}
}
