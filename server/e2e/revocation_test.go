package e2e

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"io"
	"os"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/mtls"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// TestRevocation_OpenConnectionRefusedAndAudited: a certificate revoked
// while its connection is open is refused on the next call and the next
// stream (UNAUTHENTICATED), and each refusal is in the audit log under what
// the certificate claims, marked unverified — a refused call is audited
// even when nobody could be identified.
func TestRevocation_OpenConnectionRefusedAndAudited(t *testing.T) {
	t.Parallel()
	pki := nodetest.NewPKI(t, "alpha")
	n := nodetest.Start(t, pki, pki.Config("alpha", t.TempDir()), nil)
	ctx := context.Background()
	conn := n.Conn(t, "analyst")
	leads := liaisonv1.NewLeadServiceClient(conn)
	created, err := leads.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: newLead("before revocation")})
	if err != nil {
		t.Fatal(err)
	}

	b, err := os.ReadFile(pki.Path("alpha", "analyst.crt"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	serial := cert.SerialNumber.Text(16)
	if err := n.Material.SetRevoked([]mtls.Revoked{{Agency: "alpha", Serial: serial}}); err != nil {
		t.Fatal(err)
	}

	// The same connection: its handshake predates the revocation.
	_, err = leads.GetLead(ctx, &liaisonv1.GetLeadRequest{Id: created.GetLead().GetId()})
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("GetLead after revocation: %v, want UNAUTHENTICATED naming the revocation", err)
	}
	st, err := liaisonv1.NewChangeFeedServiceClient(conn).Watch(ctx, &liaisonv1.WatchRequest{})
	if err == nil {
		_, err = st.Recv()
	}
	if status.Code(err) != codes.Unauthenticated || err == io.EOF {
		t.Fatalf("Watch after revocation: %v, want UNAUTHENTICATED", err)
	}

	events, err := liaisonv1.NewAuditServiceClient(n.Conn(t, "auditor")).ListAuditEvents(ctx, &liaisonv1.ListAuditEventsRequest{Outcome: "UNAUTHENTICATED"})
	if err != nil {
		t.Fatal(err)
	}
	wantPrincipal := "unverified: spiffe://alpha.liaison.test/analyst/"
	got := map[string]*liaisonv1.AuditEvent{}
	for _, e := range events.GetEvents() {
		got[e.GetAction()] = e
	}
	for _, action := range []string{liaisonv1.LeadService_GetLead_FullMethodName, liaisonv1.ChangeFeedService_Watch_FullMethodName} {
		e := got[action]
		switch {
		case e == nil:
			t.Errorf("no UNAUTHENTICATED audit event for %s; events: %v", action, events.GetEvents())
		case !strings.HasPrefix(e.GetPrincipal(), wantPrincipal) || !strings.Contains(e.GetPrincipal(), serial):
			t.Errorf("%s: principal %q, want %q… with serial %s", action, e.GetPrincipal(), wantPrincipal, serial)
		case e.GetRole() != "":
			t.Errorf("%s: refused caller recorded with role %q; it was never identified", action, e.GetRole())
		case !strings.Contains(e.GetDetail(), "revoked"):
			t.Errorf("%s: detail %q does not say why", action, e.GetDetail())
		}
	}
	if e := got[liaisonv1.LeadService_GetLead_FullMethodName]; e != nil && e.GetResource() != "leads/"+created.GetLead().GetId() {
		t.Errorf("GetLead refusal filed under %q, want the lead it targeted", e.GetResource())
	}
	v, err := liaisonv1.NewAuditServiceClient(n.Conn(t, "auditor")).VerifyAuditLog(ctx, &liaisonv1.VerifyAuditLogRequest{})
	if err != nil || !v.GetOk() {
		t.Fatalf("audit chain after the refusals: %v %v", v, err)
	}
}
