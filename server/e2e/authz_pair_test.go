package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	signednote "golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/identity"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// ---- the pair bench: cases, search, permissions, federation admin, retention ---

// amFixture holds the records the matrix's requests name, on alpha (the
// node under test) of an alpha–bravo pair.
type amFixture struct {
	alpha *nodetest.Node
	// Setup clients of alpha's own officers.
	cases, casesSup liaisonv1.CaseServiceClient
	// caseID is a case the reads and AddCaseEntry use; methods that change
	// a case get a fresh one per call, so that an allowed call cannot
	// change what the next caller finds.
	caseID string
	// leadID is an alpha lead to link.
	leadID string
	// replicaID is a bravo lead coded H2 and released to alpha: what
	// RequestPermission asks about.
	replicaID string
	// incoming are pending permission requests of bravo's about an alpha
	// lead, one per caller: DecidePermissionRequest decides one.
	incoming map[authzPrincipal]string
}

func amSetup(t *testing.T) authzFixture {
	t.Helper()
	ctx := context.Background()
	a, b := nodetest.Pair(t, nil)
	alpha, bravo := clients(t, a), clients(t, b)
	f := &amFixture{
		alpha:    a,
		cases:    liaisonv1.NewCaseServiceClient(a.Conn(t, "analyst")),
		casesSup: liaisonv1.NewCaseServiceClient(a.Conn(t, "supervisor")),
		incoming: map[authzPrincipal]string{},
	}
	f.caseID = f.freshCase(t, "authz reads").GetId()
	if _, err := f.cases.AddCaseEntry(ctx, &liaisonv1.AddCaseEntryRequest{CaseId: f.caseID, Entry: note("authz setup")}); err != nil {
		t.Fatal(err)
	}
	l, err := alpha.analyst.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: newLead("authz link")})
	if err != nil {
		t.Fatal(err)
	}
	f.leadID = l.GetLead().GetId()

	h2 := func(title string) *liaisonv1.Lead {
		l := newLead(title)
		l.Handling = &liaisonv1.Handling{Code: liaisonv1.HandlingCode_HANDLING_CODE_H2}
		return l
	}
	replica := bravo.createReleased(t, h2("bravo's H2 lead"), "alpha")
	alpha.waitVersion(t, replica.GetId(), replica.GetVersion())
	f.replicaID = replica.GetId()

	ours := alpha.createReleased(t, h2("alpha's H2 lead"), "bravo")
	bravo.waitVersion(t, ours.GetId(), ours.GetVersion())
	want := map[string]bool{}
	for _, p := range authzPrincipals() {
		r, err := bravo.perms.RequestPermission(ctx, &liaisonv1.RequestPermissionRequest{
			RecordId: ours.GetId(), Purpose: liaisonv1.PermissionPurpose_PERMISSION_PURPOSE_EXPORT, Justification: "authz matrix: " + p.String(),
		})
		if err != nil {
			t.Fatal(err)
		}
		f.incoming[p] = r.GetRequest().GetId()
		want[r.GetRequest().GetId()] = true
	}
	nodetest.Eventually(t, 15*time.Second, func() error {
		r, err := alpha.permsSup.ListPermissionRequests(ctx, &liaisonv1.ListPermissionRequestsRequest{
			Direction: liaisonv1.PermissionDirection_PERMISSION_DIRECTION_INCOMING,
			Status:    liaisonv1.PermissionStatus_PERMISSION_STATUS_PENDING, PageSize: 1000,
		})
		if err != nil {
			return err
		}
		got := 0
		for _, pr := range r.GetRequests() {
			if want[pr.GetId()] {
				got++
			}
		}
		if got != len(want) {
			return fmt.Errorf("alpha holds %d of bravo's %d permission requests", got, len(want))
		}
		return nil
	})
	return f
}

func (f *amFixture) freshCase(t *testing.T, title string) *liaisonv1.Case {
	t.Helper()
	r, err := f.cases.CreateCase(context.Background(), &liaisonv1.CreateCaseRequest{Case: newCase(title)})
	if err != nil {
		t.Fatal(err)
	}
	return r.GetCase()
}

// request is a valid request for method, as p calls it, so that neither
// validation nor a business rule can be what refuses an allowed caller.
func (f *amFixture) request(t *testing.T, method string, p authzPrincipal) proto.Message {
	t.Helper()
	ctx := context.Background()
	title := "authz " + p.String()
	switch method {
	case liaisonv1.CaseService_CreateCase_FullMethodName:
		return &liaisonv1.CreateCaseRequest{Case: newCase(title)}
	case liaisonv1.CaseService_GetCase_FullMethodName:
		return &liaisonv1.GetCaseRequest{Id: f.caseID}
	case liaisonv1.CaseService_ListCases_FullMethodName:
		return &liaisonv1.ListCasesRequest{PageSize: 5}
	case liaisonv1.CaseService_UpdateCase_FullMethodName:
		c := f.freshCase(t, title)
		return &liaisonv1.UpdateCaseRequest{
			Case:       &liaisonv1.Case{Id: c.GetId(), Etag: c.GetEtag(), Title: title + " (updated)"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
		}
	case liaisonv1.CaseService_ShareCase_FullMethodName:
		return &liaisonv1.ShareCaseRequest{Id: f.freshCase(t, title).GetId(), Partners: []string{"bravo"}}
	case liaisonv1.CaseService_AddCaseEntry_FullMethodName:
		return &liaisonv1.AddCaseEntryRequest{CaseId: f.caseID, Entry: note(title)}
	case liaisonv1.CaseService_ListCaseEntries_FullMethodName:
		return &liaisonv1.ListCaseEntriesRequest{CaseId: f.caseID, PageSize: 5}
	case liaisonv1.CaseService_LinkLead_FullMethodName:
		return &liaisonv1.LinkLeadRequest{CaseId: f.freshCase(t, title).GetId(), LeadId: f.leadID}
	case liaisonv1.CaseService_UnlinkLead_FullMethodName:
		c := f.freshCase(t, title)
		if _, err := f.cases.LinkLead(ctx, &liaisonv1.LinkLeadRequest{CaseId: c.GetId(), LeadId: f.leadID}); err != nil {
			t.Fatal(err)
		}
		return &liaisonv1.UnlinkLeadRequest{CaseId: c.GetId(), LeadId: f.leadID}
	case liaisonv1.CaseService_CloseCase_FullMethodName:
		return &liaisonv1.CloseCaseRequest{Id: f.freshCase(t, title).GetId(), Reason: "authz matrix"}
	case liaisonv1.CaseService_ReopenCase_FullMethodName:
		c := f.freshCase(t, title)
		if _, err := f.casesSup.CloseCase(ctx, &liaisonv1.CloseCaseRequest{Id: c.GetId(), Reason: "to be reopened"}); err != nil {
			t.Fatal(err)
		}
		return &liaisonv1.ReopenCaseRequest{Id: c.GetId(), Reason: "authz matrix"}
	case liaisonv1.CaseService_ListOpenRequests_FullMethodName:
		return &liaisonv1.ListOpenRequestsRequest{PageSize: 5}
	case liaisonv1.SearchService_SearchPersons_FullMethodName:
		return &liaisonv1.SearchPersonsRequest{Name: "Chen Wei"}
	case liaisonv1.PermissionService_RequestPermission_FullMethodName:
		return &liaisonv1.RequestPermissionRequest{
			RecordId: f.replicaID, Purpose: liaisonv1.PermissionPurpose_PERMISSION_PURPOSE_EXPORT, Justification: "authz matrix",
		}
	case liaisonv1.PermissionService_ListPermissionRequests_FullMethodName:
		return &liaisonv1.ListPermissionRequestsRequest{PageSize: 5}
	case liaisonv1.PermissionService_DecidePermissionRequest_FullMethodName:
		return &liaisonv1.DecidePermissionRequestRequest{Id: f.incoming[p], Grant: true, Reason: "authz matrix"}
	case liaisonv1.FederationAdminService_GetFederationStatus_FullMethodName:
		return &liaisonv1.GetFederationStatusRequest{}
	case liaisonv1.FederationAdminService_CheckDrift_FullMethodName:
		return &liaisonv1.CheckDriftRequest{}
	case liaisonv1.FederationAdminService_FetchWitnessedCheckpoint_FullMethodName:
		return &liaisonv1.FetchWitnessedCheckpointRequest{Partner: "bravo"}
	case liaisonv1.RetentionService_PreviewPurge_FullMethodName:
		return &liaisonv1.PreviewPurgeRequest{}
	case liaisonv1.RetentionService_RunPurge_FullMethodName:
		return &liaisonv1.RunPurgeRequest{}
	}
	t.Fatalf("no valid request for %s: add one to amFixture.request", method)
	return nil
}

// requestID is the "id" field of a request, if it has one.
func requestID(req proto.Message) string {
	fd := req.ProtoReflect().Descriptor().Fields().ByName("id")
	if fd == nil || fd.Kind() != protoreflect.StringKind {
		return ""
	}
	return req.ProtoReflect().Get(fd).String()
}

func (f *amFixture) node() *nodetest.Node { return f.alpha }

// amCollections name what a request's "id" field refers to, by service.
var amCollections = map[string]string{
	"liaison.v1.CaseService":       "cases",
	"liaison.v1.PermissionService": "permission_requests",
}

func (f *amFixture) call(t *testing.T, conn *grpc.ClientConn, method string, p authzPrincipal, _ bool) (string, error) {
	t.Helper()
	req := f.request(t, method, p)
	err := invoke(t, conn, method, req)
	res := ""
	if id := requestID(req); id != "" {
		svc, _, _ := strings.Cut(strings.TrimPrefix(method, "/"), "/")
		c, ok := amCollections[svc]
		if !ok {
			t.Fatalf("test bug: %s names a record by id; add its service to amCollections", method)
		}
		res = c + "/" + id
	}
	return res, err
}

// amExchange opens FederationService.Exchange with a valid Hello from
// bravo to alpha and returns the first answer's error — where a refusal
// arrives: the stream opens and takes the Hello whoever the caller is. A
// Welcome is followed by closing the channel cleanly.
func amExchange(t *testing.T, conn *grpc.ClientConn) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := liaisonv1.NewFederationServiceClient(conn).Exchange(ctx)
	if err != nil {
		t.Fatalf("opening the stream failed before the first Recv: %v", err)
	}
	hello := &liaisonv1.ExchangeRequest{Msg: &liaisonv1.ExchangeRequest_Hello{Hello: &liaisonv1.Hello{Sender: "bravo", Receiver: "alpha"}}}
	// io.EOF means the server already ended the call; its status comes
	// with Recv.
	if err := stream.Send(hello); err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("sending the Hello failed before the first Recv: %v", err)
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	if first.GetWelcome() == nil {
		t.Errorf("first answer %v, want a Welcome", first)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("closing the channel: %v, want a clean end", err)
	}
	return nil
}

// ---- the channel bench: FederationService ------------------------------------

// channelFixture is alpha alone, called over FederationService by bravo's
// certificates (its node may; no other principal of bravo or of alpha,
// alpha's own node included, may).
type chanFixture struct{ n *nodetest.Node }

func channelFixture(t *testing.T) authzFixture { return chanFixture{startAlpha(t)} }

func (f chanFixture) node() *nodetest.Node { return f.n }

// call makes a valid call of method on a connection of its own.
func (f chanFixture) call(t *testing.T, _ *grpc.ClientConn, method string, p authzPrincipal, _ bool) (string, error) {
	t.Helper()
	conn := f.n.ConnAs(t, p.agency, string(p.role))
	switch method {
	case liaisonv1.FederationService_Exchange_FullMethodName:
		return "", amExchange(t, conn)
	case liaisonv1.FederationService_GetDigest_FullMethodName:
		return "", invoke(t, conn, method, &liaisonv1.GetDigestRequest{Kind: liaisonv1.RecordKind_RECORD_KIND_LEAD})
	case liaisonv1.FederationService_ListDigestItems_FullMethodName:
		return "", invoke(t, conn, method, &liaisonv1.ListDigestItemsRequest{
			Kind: liaisonv1.RecordKind_RECORD_KIND_CASE, Bucket: time.Now().UTC().Format("2006-01-02T15"),
		})
	case liaisonv1.FederationService_Cosign_FullMethodName:
		return "", invoke(t, conn, method, &liaisonv1.CosignRequest{Checkpoint: bravoCheckpoint(t, f.n)})
	case liaisonv1.FederationService_GetWitnessedCheckpoint_FullMethodName:
		return "", invoke(t, conn, method, &liaisonv1.GetWitnessedCheckpointRequest{})
	}
	t.Fatalf("no valid call of %s: add one to chanFixture.call", method)
	return "", nil
}

// TestAuthz_RefusalsNameTheirTarget: a refused call aimed at one record is
// filed in the audit log under that record, by the same name an allowed
// call on it is filed under, so that a record's audit trail
// (ListAuditEvents by resource) shows the attempts refused on it too.
// Cases are filed as "cases/<id>" (the case service's own name); a
// permission request as "permission_requests/<id>" (what RequestPermission
// files it under).
func TestAuthz_RefusalsNameTheirTarget(t *testing.T) {
	t.Parallel()
	n := startAlpha(t)
	ctx := context.Background()
	analyst := liaisonv1.NewCaseServiceClient(n.Conn(t, "analyst"))
	sup := liaisonv1.NewCaseServiceClient(n.Conn(t, "supervisor"))
	supConn, refusedConn := n.Conn(t, "supervisor"), n.Conn(t, "auditor")
	audit := liaisonv1.NewAuditServiceClient(n.Conn(t, "auditor"))
	lead, err := liaisonv1.NewLeadServiceClient(n.Conn(t, "analyst")).CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: newLead("to link")})
	if err != nil {
		t.Fatal(err)
	}
	leadID := lead.GetLead().GetId()
	fresh := func() *liaisonv1.Case {
		c, err := analyst.CreateCase(ctx, &liaisonv1.CreateCaseRequest{Case: newCase("audited")})
		if err != nil {
			t.Fatal(err)
		}
		return c.GetCase()
	}

	type target struct {
		method   string
		req      proto.Message
		resource string
	}
	var targets []target
	addCase := func(method string, build func(c *liaisonv1.Case) proto.Message) {
		c := fresh()
		targets = append(targets, target{method, build(c), "cases/" + c.GetId()})
	}
	addCase(liaisonv1.CaseService_GetCase_FullMethodName, func(c *liaisonv1.Case) proto.Message {
		return &liaisonv1.GetCaseRequest{Id: c.GetId()}
	})
	addCase(liaisonv1.CaseService_UpdateCase_FullMethodName, func(c *liaisonv1.Case) proto.Message {
		return &liaisonv1.UpdateCaseRequest{Case: &liaisonv1.Case{Id: c.GetId(), Etag: c.GetEtag(), Title: "renamed"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}}
	})
	addCase(liaisonv1.CaseService_ShareCase_FullMethodName, func(c *liaisonv1.Case) proto.Message {
		return &liaisonv1.ShareCaseRequest{Id: c.GetId(), Partners: []string{"bravo"}}
	})
	addCase(liaisonv1.CaseService_AddCaseEntry_FullMethodName, func(c *liaisonv1.Case) proto.Message {
		return &liaisonv1.AddCaseEntryRequest{CaseId: c.GetId(), Entry: note("audited")}
	})
	addCase(liaisonv1.CaseService_ListCaseEntries_FullMethodName, func(c *liaisonv1.Case) proto.Message {
		return &liaisonv1.ListCaseEntriesRequest{CaseId: c.GetId()}
	})
	addCase(liaisonv1.CaseService_LinkLead_FullMethodName, func(c *liaisonv1.Case) proto.Message {
		return &liaisonv1.LinkLeadRequest{CaseId: c.GetId(), LeadId: leadID}
	})
	addCase(liaisonv1.CaseService_UnlinkLead_FullMethodName, func(c *liaisonv1.Case) proto.Message {
		if _, err := analyst.LinkLead(ctx, &liaisonv1.LinkLeadRequest{CaseId: c.GetId(), LeadId: leadID}); err != nil {
			t.Fatal(err)
		}
		return &liaisonv1.UnlinkLeadRequest{CaseId: c.GetId(), LeadId: leadID}
	})
	addCase(liaisonv1.CaseService_CloseCase_FullMethodName, func(c *liaisonv1.Case) proto.Message {
		return &liaisonv1.CloseCaseRequest{Id: c.GetId(), Reason: "audited"}
	})
	addCase(liaisonv1.CaseService_ReopenCase_FullMethodName, func(c *liaisonv1.Case) proto.Message {
		if _, err := sup.CloseCase(ctx, &liaisonv1.CloseCaseRequest{Id: c.GetId(), Reason: "to reopen"}); err != nil {
			t.Fatal(err)
		}
		return &liaisonv1.ReopenCaseRequest{Id: c.GetId(), Reason: "audited"}
	})
	// No partner here to ask: the allowed call is NOT_FOUND, which is
	// audited like any other outcome.
	pr := uuid.Must(uuid.NewV7()).String()
	targets = append(targets, target{liaisonv1.PermissionService_DecidePermissionRequest_FullMethodName,
		&liaisonv1.DecidePermissionRequestRequest{Id: pr, Reason: "audited"}, "permission_requests/" + pr})

	events := func(principal, method, resource string) []*liaisonv1.AuditEvent {
		t.Helper()
		r, err := audit.ListAuditEvents(ctx, &liaisonv1.ListAuditEventsRequest{Principal: principal, Action: method, Resource: resource, PageSize: 10})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetEvents()
	}
	for _, tg := range targets {
		t.Run(strings.TrimPrefix(tg.method, "/liaison.v1."), func(t *testing.T) {
			if err := invoke(t, refusedConn, tg.method, tg.req); status.Code(err) != codes.PermissionDenied {
				t.Fatalf("the auditor: %v, want PermissionDenied", err)
			}
			_ = invoke(t, supConn, tg.method, tg.req) // allowed; the outcome does not matter here
			supID, refusedID := authzPrincipal{"alpha", identity.Supervisor}.id(), authzPrincipal{"alpha", identity.Auditor}.id()
			all := events(refusedID, tg.method, "")
			if len(all) != 1 {
				t.Fatalf("%d events of the refused call, want 1: %v", len(all), all)
			}
			if got := all[0].GetResource(); got != tg.resource {
				t.Errorf("the refused call is filed under %q, want %q", got, tg.resource)
			}
			if got := events(supID, tg.method, tg.resource); len(got) != 1 {
				t.Errorf("the allowed call is not filed under %q: its events are %v", tg.resource, events(supID, tg.method, ""))
			}
		})
	}
}

// bravoCheckpoint is a checkpoint of a one-event log signed with bravo's
// log key: one alpha, its witness, cosigns.
func bravoCheckpoint(t *testing.T, n *nodetest.Node) []byte {
	t.Helper()
	skey, err := os.ReadFile(n.PKI.Path("bravo", "log.key"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := signednote.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		t.Fatal(err)
	}
	cp, err := audit.SignCheckpoint(audit.Origin(signer.Name()), 1, tlog.RecordHash([]byte("one event")), signer)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}
