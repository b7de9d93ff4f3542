package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
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
	"github.com/liaison-exchange/liaison/server/authz"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/identity"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// The authorization matrix of the services not in authz_test.go: every
// method of CaseService, SearchService, PermissionService and
// FederationAdminService (officers and systems of the own agency), and of
// FederationService (a partner's node only).

// amWant is who may call each method of amServices, written out
// independently of authz.Table. Partner principals (any role, their node
// included) may call none of them.
var amWant = map[string][]identity.Role{
	liaisonv1.CaseService_CreateCase_FullMethodName:       {identity.Analyst, identity.Supervisor, identity.Service},
	liaisonv1.CaseService_GetCase_FullMethodName:          {identity.Analyst, identity.Supervisor, identity.Service},
	liaisonv1.CaseService_ListCases_FullMethodName:        {identity.Analyst, identity.Supervisor, identity.Service},
	liaisonv1.CaseService_AddCaseEntry_FullMethodName:     {identity.Analyst, identity.Supervisor, identity.Service},
	liaisonv1.CaseService_ListCaseEntries_FullMethodName:  {identity.Analyst, identity.Supervisor, identity.Service},
	liaisonv1.CaseService_ListOpenRequests_FullMethodName: {identity.Analyst, identity.Supervisor, identity.Service},
	liaisonv1.CaseService_UpdateCase_FullMethodName:       {identity.Analyst, identity.Supervisor},
	liaisonv1.CaseService_LinkLead_FullMethodName:         {identity.Analyst, identity.Supervisor},
	liaisonv1.CaseService_UnlinkLead_FullMethodName:       {identity.Analyst, identity.Supervisor},
	liaisonv1.CaseService_ShareCase_FullMethodName:        {identity.Supervisor},
	liaisonv1.CaseService_CloseCase_FullMethodName:        {identity.Supervisor},
	liaisonv1.CaseService_ReopenCase_FullMethodName:       {identity.Supervisor},

	liaisonv1.SearchService_SearchPersons_FullMethodName: {identity.Analyst, identity.Supervisor, identity.Service},

	liaisonv1.PermissionService_RequestPermission_FullMethodName:       {identity.Analyst, identity.Supervisor},
	liaisonv1.PermissionService_ListPermissionRequests_FullMethodName:  {identity.Analyst, identity.Supervisor},
	liaisonv1.PermissionService_DecidePermissionRequest_FullMethodName: {identity.Supervisor},

	// Auditors reach the audit log only (DESIGN.md); the channels' state is
	// for the officers and systems that run the exchange.
	liaisonv1.FederationAdminService_GetFederationStatus_FullMethodName:      {identity.Analyst, identity.Supervisor, identity.Service},
	liaisonv1.FederationAdminService_CheckDrift_FullMethodName:               {identity.Analyst, identity.Supervisor, identity.Service},
	liaisonv1.FederationAdminService_FetchWitnessedCheckpoint_FullMethodName: {identity.Analyst, identity.Supervisor, identity.Service},

	// Retention: the preview lists lead titles and the purge is a
	// supervisor's decision, so both are a supervisor's (issue 13).
	liaisonv1.RetentionService_PreviewPurge_FullMethodName: {identity.Supervisor},
	liaisonv1.RetentionService_RunPurge_FullMethodName:     {identity.Supervisor},
}

// amServices are the services of this file's own-agency matrix.
var amServices = []grpc.ServiceDesc{
	liaisonv1.CaseService_ServiceDesc, liaisonv1.SearchService_ServiceDesc,
	liaisonv1.PermissionService_ServiceDesc, liaisonv1.FederationAdminService_ServiceDesc,
	liaisonv1.RetentionService_ServiceDesc,
}

// amMethods lists every method (unary and streaming) of services from
// their generated descriptors, so a new method cannot be left out.
func amMethods(services ...grpc.ServiceDesc) []string {
	var out []string
	for _, sd := range services {
		for _, m := range sd.Methods {
			out = append(out, "/"+sd.ServiceName+"/"+m.MethodName)
		}
		for _, st := range sd.Streams {
			out = append(out, "/"+sd.ServiceName+"/"+st.StreamName)
		}
	}
	return out
}

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

func amSetup(t *testing.T) *amFixture {
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

// amDenial is a refused call whose audit event is checked.
type amDenial struct {
	p      authzPrincipal
	method string
	// id is the request's "id" field, if it has one: the resource of
	// the event must name it.
	id string
}

// amCheckDenialsAudited: every refusal is in n's audit log exactly once,
// under the caller and the method, with the outcome the audit log gives a
// PERMISSION_DENIED call; and the chain still verifies. (The same checks
// TestAuthz_Matrix makes, as a helper.)
func amCheckDenialsAudited(t *testing.T, n *nodetest.Node, denied []amDenial) {
	t.Helper()
	if len(denied) == 0 {
		t.Fatal("no call was denied: the matrix did not run")
	}
	deniedOutcome := errs.CodeName(status.Error(codes.PermissionDenied, ""))
	audit := liaisonv1.NewAuditServiceClient(n.Conn(t, "auditor"))
	for _, d := range denied {
		resp, err := audit.ListAuditEvents(context.Background(), &liaisonv1.ListAuditEventsRequest{
			Principal: d.p.id(), Action: d.method, PageSize: 10,
		})
		if err != nil {
			t.Fatal(err)
		}
		var refused []*liaisonv1.AuditEvent
		for _, e := range resp.GetEvents() {
			if e.GetOutcome() == deniedOutcome {
				refused = append(refused, e)
			}
		}
		if len(refused) != 1 {
			t.Errorf("audit: %d %s events for %s calling %s, want 1 (all events: %v)", len(refused), deniedOutcome, d.p.id(), d.method, resp.GetEvents())
			continue
		}
		e := refused[0]
		if e.GetAgency() != d.p.agency || e.GetRole() != string(d.p.role) || e.GetPrincipal() != d.p.id() || e.GetAction() != d.method {
			t.Errorf("audit event of %s calling %s: agency %q role %q principal %q action %q", d.p.id(), d.method, e.GetAgency(), e.GetRole(), e.GetPrincipal(), e.GetAction())
		}
		if d.id != "" && !strings.HasSuffix(e.GetResource(), "/"+d.id) {
			t.Errorf("audit event of %s calling %s names resource %q, want the record %s", d.p.id(), d.method, e.GetResource(), d.id)
		}
	}
	v, err := audit.VerifyAuditLog(context.Background(), &liaisonv1.VerifyAuditLogRequest{})
	if err != nil || !v.GetOk() {
		t.Errorf("audit chain after the matrix: %v %v", v, err)
	}
}

// requestID is the "id" field of a request, if it has one.
func requestID(req proto.Message) string {
	fd := req.ProtoReflect().Descriptor().Fields().ByName("id")
	if fd == nil || fd.Kind() != protoreflect.StringKind {
		return ""
	}
	return req.ProtoReflect().Get(fd).String()
}

// TestAuthz_MoreMatrix calls every method of CaseService, SearchService,
// PermissionService and FederationAdminService as every role of the own
// agency and of the partner agency, with valid requests naming real
// records: allowed calls are not refused, all others are PERMISSION_DENIED
// and leave an audit event saying so.
func TestAuthz_MoreMatrix(t *testing.T) {
	t.Parallel()
	f := amSetup(t)
	conns := map[authzPrincipal]*grpc.ClientConn{}
	for _, p := range authzPrincipals() {
		conns[p] = f.alpha.ConnAs(t, p.agency, string(p.role))
	}

	var denied []amDenial
	for _, method := range amMethods(amServices...) {
		allowed, ok := amWant[method]
		if !ok {
			t.Errorf("%s is not in this test's expectation table (amWant)", method)
			continue
		}
		for _, p := range authzPrincipals() {
			t.Run(strings.TrimPrefix(method, "/liaison.v1.")+"/"+p.String(), func(t *testing.T) {
				req := f.request(t, method, p)
				err := invoke(t, conns[p], method, req)
				if !p.isPartner() && slices.Contains(allowed, p.role) {
					if err != nil {
						t.Errorf("%s may call it, got %v", p.id(), err)
					}
					return
				}
				if status.Code(err) != codes.PermissionDenied {
					t.Errorf("%s may not call it: got %v, want PermissionDenied", p.id(), err)
				}
				denied = append(denied, amDenial{p, method, requestID(req)})
			})
		}
	}
	amCheckDenialsAudited(t, f.alpha, denied)
}

// TestAuthz_MoreTableMatchesExpectation: authz.Table says exactly what
// amWant says for every method of amServices (by an entry of its own, not
// a service-wide one), opens none of them to partners, and lets only a
// partner's node, and no own role, call any FederationService method.
func TestAuthz_MoreTableMatchesExpectation(t *testing.T) {
	t.Parallel()
	methods := amMethods(amServices...)
	for _, m := range methods {
		rule, ok := authz.Table[m]
		if !ok {
			t.Errorf("authz.Table has no entry for %s", m)
			continue
		}
		got, want := slices.Clone(rule.Own), slices.Clone(amWant[m])
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: authz.Table allows %v, want %v", m, got, want)
		}
		if rule.PartnerNode {
			t.Errorf("%s: authz.Table opens it to partners", m)
		}
	}
	for m := range amWant {
		if !slices.Contains(methods, m) {
			t.Errorf("expectation for %s, which the services do not have", m)
		}
	}
	for _, m := range amMethods(liaisonv1.FederationService_ServiceDesc) {
		rule, ok := authz.Lookup(m)
		if !ok {
			t.Errorf("authz.Table has no rule for %s", m)
			continue
		}
		if !rule.PartnerNode || len(rule.Own) != 0 {
			t.Errorf("%s: rule %+v, want a partner's node only", m, rule)
		}
	}
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

// TestAuthz_FederationServiceOnlyPartnerNode: bravo's node, and no other
// principal of bravo or of alpha (alpha's own node included), may call
// FederationService on alpha's node; every refusal is audited.
func TestAuthz_FederationServiceOnlyPartnerNode(t *testing.T) {
	t.Parallel()
	n := startAlpha(t)
	partnerNode := authzPrincipal{"bravo", identity.Node}
	var denied []amDenial
	for _, method := range amMethods(liaisonv1.FederationService_ServiceDesc) {
		for _, p := range authzPrincipals() {
			t.Run(strings.TrimPrefix(method, "/liaison.v1.")+"/"+p.String(), func(t *testing.T) {
				conn := n.ConnAs(t, p.agency, string(p.role))
				var err error
				switch method {
				case liaisonv1.FederationService_Exchange_FullMethodName:
					err = amExchange(t, conn)
				case liaisonv1.FederationService_GetDigest_FullMethodName:
					err = invoke(t, conn, method, &liaisonv1.GetDigestRequest{Kind: liaisonv1.RecordKind_RECORD_KIND_LEAD})
				case liaisonv1.FederationService_ListDigestItems_FullMethodName:
					err = invoke(t, conn, method, &liaisonv1.ListDigestItemsRequest{
						Kind: liaisonv1.RecordKind_RECORD_KIND_CASE, Bucket: time.Now().UTC().Format("2006-01-02T15"),
					})
				case liaisonv1.FederationService_Cosign_FullMethodName:
					err = invoke(t, conn, method, &liaisonv1.CosignRequest{Checkpoint: bravoCheckpoint(t, n)})
				case liaisonv1.FederationService_GetWitnessedCheckpoint_FullMethodName:
					err = invoke(t, conn, method, &liaisonv1.GetWitnessedCheckpointRequest{})
				default:
					t.Fatalf("no valid call of %s: add one to this test", method)
				}
				if p == partnerNode {
					if err != nil {
						t.Errorf("%s may call it, got %v", p.id(), err)
					}
					return
				}
				if status.Code(err) != codes.PermissionDenied {
					t.Errorf("%s may not call it: got %v, want PermissionDenied", p.id(), err)
				}
				denied = append(denied, amDenial{p: p, method: method})
			})
		}
	}
	amCheckDenialsAudited(t, n, denied)
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
