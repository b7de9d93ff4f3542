package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/liaison-exchange/liaison/certs"
	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// officerConn dials n as a further officer of agency (role/name), a
// certificate of that agency's CA made for the test.
func officerConn(t *testing.T, n *nodetest.Node, agency, role, name string) *grpc.ClientConn {
	t.Helper()
	crt, key := n.PKI.Issue(t, agency, role+"-"+name, certs.LeafOptions{URI: certs.PrincipalID(agency, role, name)})
	return nodetest.DialFiles(t, n.Addr(), n.PKI.Path(n.Agency, "ca.crt"), crt, key)
}

// pseudonymPattern is how an officer of a partner appears on this node.
var pseudonymPattern = regexp.MustCompile(`^([a-z][a-z0-9-]*)/(analyst|supervisor|service)/[0-9a-f]{16}$`)

// TestOfficers_PseudonymsAcrossTheBorder (issue 13 item 3): after a real
// exchange of leads, a shared case with entries from both sides and a
// permission request, bravo's database holds no name of alpha's officers
// (nor alpha's of bravo's); the same officer has the same pseudonym on
// every record, different officers different ones, also across a restart;
// each node's own views keep the real principals.
func TestOfficers_PseudonymsAcrossTheBorder(t *testing.T) {
	t.Parallel()
	a, b := nodetest.Pair(t, nil)
	ctx := context.Background()
	names := []string{"zoltanmarker", "yrsamarker", "xaviermarker", "wandamarker"}
	zoltanConn := officerConn(t, a, "alpha", "analyst", names[0])
	zoltan := liaisonv1.NewLeadServiceClient(zoltanConn)
	yrsa := liaisonv1.NewLeadServiceClient(officerConn(t, a, "alpha", "analyst", names[1]))
	xavierConn := officerConn(t, a, "alpha", "supervisor", names[2])
	xavier := liaisonv1.NewLeadServiceClient(xavierConn)
	wandaConn := officerConn(t, b, "bravo", "analyst", names[3])
	bravoLeads := liaisonv1.NewLeadServiceClient(b.Conn(t, "analyst"))

	contact := &liaisonv1.ContactPoint{Desk: "Smuggling desk, night duty", Phone: "+6281234567890", Email: "smuggling.desk@alpha.example"}
	release := func(c liaisonv1.LeadServiceClient, title string, code liaisonv1.HandlingCode) *liaisonv1.Lead {
		t.Helper()
		l := permLead(title, code)
		l.Contact = contact
		cr, err := c.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: l})
		if err != nil {
			t.Fatal(err)
		}
		r, err := xavier.ReleaseLead(ctx, &liaisonv1.ReleaseLeadRequest{Id: cr.GetLead().GetId(), Partners: []string{"bravo"}})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetLead()
	}
	bravoCopy := func(l *liaisonv1.Lead) *liaisonv1.Lead {
		t.Helper()
		var got *liaisonv1.Lead
		nodetest.Eventually(t, 10*time.Second, func() error {
			r, err := bravoLeads.GetLead(ctx, &liaisonv1.GetLeadRequest{Id: l.GetId()})
			if err != nil {
				return err
			}
			got = r.GetLead()
			return nil
		})
		return got
	}
	z1 := release(zoltan, "by zoltan, one", liaisonv1.HandlingCode_HANDLING_CODE_H0)
	z2 := release(zoltan, "by zoltan, two", liaisonv1.HandlingCode_HANDLING_CODE_H2)
	y1 := release(yrsa, "by yrsa", liaisonv1.HandlingCode_HANDLING_CODE_H0)

	// A case opened by zoltan, shared by xavier; entries by zoltan, yrsa
	// and, as a proposal to alpha, by bravo's wanda.
	zCases := liaisonv1.NewCaseServiceClient(zoltanConn)
	c, err := zCases.CreateCase(ctx, &liaisonv1.CreateCaseRequest{Case: newCase("officers case")})
	if err != nil {
		t.Fatal(err)
	}
	caseContact := &liaisonv1.ContactPoint{Desk: "Joint case desk", Email: "jit@alpha.example"}
	if _, err := liaisonv1.NewCaseServiceClient(xavierConn).ShareCase(ctx, &liaisonv1.ShareCaseRequest{Id: c.GetCase().GetId(), Partners: []string{"bravo"}, Contact: caseContact}); err != nil {
		t.Fatal(err)
	}
	note := func(cl liaisonv1.CaseServiceClient, text string) {
		t.Helper()
		if _, err := cl.AddCaseEntry(ctx, &liaisonv1.AddCaseEntryRequest{CaseId: c.GetCase().GetId(), Entry: &liaisonv1.CaseEntry{Kind: liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_NOTE, Text: text}}); err != nil {
			t.Fatal(err)
		}
	}
	note(zCases, "note by zoltan")
	note(liaisonv1.NewCaseServiceClient(officerConn(t, a, "alpha", "analyst", names[1])), "note by yrsa")
	nodetest.Eventually(t, 10*time.Second, func() error {
		_, err := liaisonv1.NewCaseServiceClient(wandaConn).GetCase(ctx, &liaisonv1.GetCaseRequest{Id: c.GetCase().GetId()})
		return err
	})
	note(liaisonv1.NewCaseServiceClient(wandaConn), "note by wanda")

	// A permission request by wanda that xavier decides.
	bz2 := bravoCopy(z2)
	asked, err := liaisonv1.NewPermissionServiceClient(wandaConn).RequestPermission(ctx, &liaisonv1.RequestPermissionRequest{
		RecordId: bz2.GetId(), Purpose: liaisonv1.PermissionPurpose_PERMISSION_PURPOSE_EXPORT, Justification: "officers test"})
	if err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 10*time.Second, func() error {
		_, err := liaisonv1.NewPermissionServiceClient(xavierConn).DecidePermissionRequest(ctx, &liaisonv1.DecidePermissionRequestRequest{
			Id: asked.GetRequest().GetId(), Grant: true, Reason: "ok"})
		return err
	})

	// Everything has arrived: three entries applied on both nodes, the
	// decision on bravo.
	entriesOn := func(n *nodetest.Node) []*liaisonv1.CaseEntry {
		t.Helper()
		var out []*liaisonv1.CaseEntry
		nodetest.Eventually(t, 10*time.Second, func() error {
			r, err := liaisonv1.NewCaseServiceClient(n.Conn(t, "analyst")).ListCaseEntries(ctx, &liaisonv1.ListCaseEntriesRequest{CaseId: c.GetCase().GetId()})
			if err != nil {
				return err
			}
			applied := 0
			for _, e := range r.GetEntries() {
				if e.GetState() == liaisonv1.EntryState_ENTRY_STATE_APPLIED {
					applied++
				}
			}
			if applied != 3 {
				return fmt.Errorf("%s: %d entries applied, want 3", n.Agency, applied)
			}
			out = r.GetEntries()
			return nil
		})
		return out
	}
	bEntries, aEntries := entriesOn(b), entriesOn(a)
	var decided *liaisonv1.PermissionRequest
	nodetest.Eventually(t, 10*time.Second, func() error {
		r, err := liaisonv1.NewPermissionServiceClient(b.Conn(t, "analyst")).ListPermissionRequests(ctx, &liaisonv1.ListPermissionRequestsRequest{
			Direction: liaisonv1.PermissionDirection_PERMISSION_DIRECTION_OUTGOING})
		if err != nil {
			return err
		}
		for _, pr := range r.GetRequests() {
			if pr.GetId() == asked.GetRequest().GetId() && pr.GetStatus() == liaisonv1.PermissionStatus_PERMISSION_STATUS_GRANTED {
				decided = pr
				return nil
			}
		}
		return fmt.Errorf("bravo has no decision yet")
	})

	bz1, by1 := bravoCopy(z1), bravoCopy(y1)
	t.Run("SameOfficerSamePseudonym", func(t *testing.T) {
		zp := bz1.GetCreatedBy()
		if m := pseudonymPattern.FindStringSubmatch(zp); m == nil || m[1] != "alpha" || m[2] != "analyst" {
			t.Fatalf("zoltan on bravo: %q, want alpha/analyst/<pseudonym>", zp)
		}
		if bz2.GetCreatedBy() != zp {
			t.Errorf("zoltan's two leads: %q and %q", zp, bz2.GetCreatedBy())
		}
		if by1.GetCreatedBy() == zp || !pseudonymPattern.MatchString(by1.GetCreatedBy()) {
			t.Errorf("yrsa on bravo: %q (zoltan: %q)", by1.GetCreatedBy(), zp)
		}
		bc, err := liaisonv1.NewCaseServiceClient(b.Conn(t, "analyst")).GetCase(ctx, &liaisonv1.GetCaseRequest{Id: c.GetCase().GetId()})
		if err != nil || bc.GetCase().GetCreatedBy() != zp {
			t.Errorf("zoltan's case on bravo: created by %q, want %q (%v)", bc.GetCase().GetCreatedBy(), zp, err)
		}
		authors := map[string]string{}
		for _, e := range bEntries {
			authors[e.GetText()] = e.GetAuthor()
		}
		if authors["note by zoltan"] != zp || authors["note by yrsa"] != by1.GetCreatedBy() {
			t.Errorf("entry authors on bravo: %v", authors)
		}
		if m := pseudonymPattern.FindStringSubmatch(decided.GetDecidedBy()); m == nil || m[1] != "alpha" || m[2] != "supervisor" {
			t.Errorf("decided by %q on bravo", decided.GetDecidedBy())
		}
	})
	t.Run("LocalViewsKeepRealPrincipals", func(t *testing.T) {
		r, err := zoltan.GetLead(ctx, &liaisonv1.GetLeadRequest{Id: z1.GetId()})
		if err != nil || r.GetLead().GetCreatedBy() != certs.PrincipalID("alpha", "analyst", names[0]) {
			t.Errorf("zoltan's lead on alpha: created by %q (%v)", r.GetLead().GetCreatedBy(), err)
		}
		wanda := certs.PrincipalID("bravo", "analyst", names[3])
		for _, e := range bEntries {
			if e.GetText() == "note by wanda" && e.GetAuthor() != wanda {
				t.Errorf("wanda's entry on bravo: author %q, want %q", e.GetAuthor(), wanda)
			}
		}
		for _, e := range aEntries {
			switch e.GetText() {
			case "note by zoltan":
				if e.GetAuthor() != certs.PrincipalID("alpha", "analyst", names[0]) {
					t.Errorf("zoltan's entry on alpha: author %q", e.GetAuthor())
				}
			case "note by wanda":
				if m := pseudonymPattern.FindStringSubmatch(e.GetAuthor()); m == nil || m[1] != "bravo" {
					t.Errorf("wanda's entry on alpha: author %q, want bravo/analyst/<pseudonym>", e.GetAuthor())
				}
			}
		}
		if decided.GetRequestedBy() != wanda {
			t.Errorf("wanda's request on bravo: requested by %q", decided.GetRequestedBy())
		}
	})
	t.Run("ContactPointTravels", func(t *testing.T) {
		if !proto.Equal(bz1.GetContact(), contact) {
			t.Errorf("contact on bravo: %v", bz1.GetContact())
		}
		bc, err := liaisonv1.NewCaseServiceClient(b.Conn(t, "analyst")).GetCase(ctx, &liaisonv1.GetCaseRequest{Id: c.GetCase().GetId()})
		if err != nil || !proto.Equal(bc.GetCase().GetContact(), caseContact) {
			t.Errorf("the case's contact on bravo: %v (%v)", bc.GetCase().GetContact(), err)
		}
		// The releasing officer chooses another contact point for a lead
		// bravo already holds: bravo gets it.
		other := &liaisonv1.ContactPoint{Phone: "+6621234567"}
		r, err := xavier.ReleaseLead(ctx, &liaisonv1.ReleaseLeadRequest{Id: y1.GetId(), Partners: []string{"bravo"}, Contact: other})
		if err != nil || r.GetLead().GetVersion() != y1.GetVersion()+1 {
			t.Fatalf("release with a new contact: %v %v", r.GetLead(), err)
		}
		nodetest.Eventually(t, 10*time.Second, func() error {
			if got := bravoCopy(y1).GetContact(); !proto.Equal(got, other) {
				return fmt.Errorf("bravo's contact: %v", got)
			}
			return nil
		})
		_, err = xavier.ReleaseLead(ctx, &liaisonv1.ReleaseLeadRequest{Id: y1.GetId(), Partners: []string{"bravo"}, Contact: &liaisonv1.ContactPoint{Email: "@"}})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("release with a bad contact: %v, want InvalidArgument", err)
		}
		for _, bad := range []*liaisonv1.ContactPoint{{}, {Phone: "0812345"}, {Email: "not an email"}} {
			l := permLead("bad contact", liaisonv1.HandlingCode_HANDLING_CODE_H0)
			l.Contact = bad
			if _, err := zoltan.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: l}); status.Code(err) != codes.InvalidArgument {
				t.Errorf("contact %v: %v, want InvalidArgument", bad, err)
			}
		}
	})
	t.Run("NoOfficerNameInThePartnersFiles", func(t *testing.T) {
		officersOf := map[*nodetest.Node][]string{
			// What bravo must not hold of alpha's officers, and alpha of bravo's.
			b: {names[0], names[1], names[2], certs.TrustDomain("alpha") + "/analyst/", certs.TrustDomain("alpha") + "/supervisor/"},
			a: {names[3], certs.TrustDomain("bravo") + "/analyst/", certs.TrustDomain("bravo") + "/supervisor/"},
		}
		for n, forbidden := range officersOf {
			for _, suffix := range []string{"", "-wal", "-shm"} {
				path := n.Cfg.Database.Path + suffix
				data, err := os.ReadFile(path)
				if os.IsNotExist(err) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range forbidden {
					if i := bytes.Index(data, []byte(f)); i >= 0 {
						t.Errorf("%s holds %q at byte %d: …%q…", path, f, i, data[max(0, i-60):min(len(data), i+60)])
					}
				}
			}
		}
	})
	t.Run("StableAcrossRestart", func(t *testing.T) {
		a.Stop(t)
		a.Restart(t)
		z3 := release(liaisonv1.NewLeadServiceClient(officerConn(t, a, "alpha", "analyst", names[0])), "by zoltan, after a restart", liaisonv1.HandlingCode_HANDLING_CODE_H0)
		if got := bravoCopy(z3).GetCreatedBy(); got != bz1.GetCreatedBy() {
			t.Errorf("zoltan after alpha's restart: %q, before %q", got, bz1.GetCreatedBy())
		}
		if !strings.HasPrefix(bz1.GetCreatedBy(), "alpha/analyst/") {
			t.Errorf("pseudonym %q", bz1.GetCreatedBy())
		}
	})
}
