package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/authz"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/identity"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// The authorization matrix: who may call every method of every liaison.v1
// service, written out independently of authz.Table. One row a method;
// a method the services have and the matrix does not fails
// TestAuthz_MatrixCoversEveryMethod, so a new RPC cannot go untested.
// TestAuthz_Matrix calls every method as every principal of the own agency
// and of a partner (authzPrincipals); TestAuthz_TableMatchesMatrix checks
// authz.Table says the same.

// authzRow is who may call one method: roles of the own agency, or a
// partner's node and nobody else. Partner principals (any role, their node
// included) may call no method that is not a partner node's.
type authzRow struct {
	own         []identity.Role
	partnerNode bool
}

var (
	authzOfficers           = []identity.Role{identity.Analyst, identity.Supervisor}
	authzOfficersAndSystems = []identity.Role{identity.Analyst, identity.Supervisor, identity.Service}
	authzSupervisor         = []identity.Role{identity.Supervisor}
	authzAuditor            = []identity.Role{identity.Auditor}
)

var authzMatrix = map[string]authzRow{
	liaisonv1.LeadService_CreateLead_FullMethodName:   {own: authzOfficersAndSystems},
	liaisonv1.LeadService_GetLead_FullMethodName:      {own: authzOfficersAndSystems},
	liaisonv1.LeadService_ListLeads_FullMethodName:    {own: authzOfficersAndSystems},
	liaisonv1.LeadService_UpdateLead_FullMethodName:   {own: authzOfficers},
	liaisonv1.LeadService_ReleaseLead_FullMethodName:  {own: authzSupervisor},
	liaisonv1.LeadService_WithdrawLead_FullMethodName: {own: authzSupervisor},
	// Reads, like GetLead: delivery receipts, and the export to the own
	// agency's systems.
	liaisonv1.LeadService_ListLeadReceipts_FullMethodName: {own: authzOfficersAndSystems},
	liaisonv1.LeadService_ExportLeads_FullMethodName:      {own: authzOfficersAndSystems},
	// Bulk import: like CreateLead.
	liaisonv1.LeadService_ImportLeads_FullMethodName: {own: authzOfficersAndSystems},

	liaisonv1.AuditService_ListAuditEvents_FullMethodName: {own: authzAuditor},
	liaisonv1.AuditService_VerifyAuditLog_FullMethodName:  {own: authzAuditor},
	liaisonv1.AuditService_ProveAuditEvent_FullMethodName: {own: authzAuditor},

	// Analysts (and supervisors, who may do all an analyst may) and the
	// agency's systems may watch; auditors and the node's own identity may
	// not.
	liaisonv1.ChangeFeedService_Watch_FullMethodName: {own: authzOfficersAndSystems},

	liaisonv1.CaseService_CreateCase_FullMethodName:       {own: authzOfficersAndSystems},
	liaisonv1.CaseService_GetCase_FullMethodName:          {own: authzOfficersAndSystems},
	liaisonv1.CaseService_ListCases_FullMethodName:        {own: authzOfficersAndSystems},
	liaisonv1.CaseService_AddCaseEntry_FullMethodName:     {own: authzOfficersAndSystems},
	liaisonv1.CaseService_ListCaseEntries_FullMethodName:  {own: authzOfficersAndSystems},
	liaisonv1.CaseService_ListOpenRequests_FullMethodName: {own: authzOfficersAndSystems},
	liaisonv1.CaseService_UpdateCase_FullMethodName:       {own: authzOfficers},
	liaisonv1.CaseService_LinkLead_FullMethodName:         {own: authzOfficers},
	liaisonv1.CaseService_UnlinkLead_FullMethodName:       {own: authzOfficers},
	liaisonv1.CaseService_ShareCase_FullMethodName:        {own: authzSupervisor},
	liaisonv1.CaseService_CloseCase_FullMethodName:        {own: authzSupervisor},
	liaisonv1.CaseService_ReopenCase_FullMethodName:       {own: authzSupervisor},

	liaisonv1.SearchService_SearchPersons_FullMethodName: {own: authzOfficersAndSystems},

	liaisonv1.PermissionService_RequestPermission_FullMethodName:       {own: authzOfficers},
	liaisonv1.PermissionService_ListPermissionRequests_FullMethodName:  {own: authzOfficers},
	liaisonv1.PermissionService_DecidePermissionRequest_FullMethodName: {own: authzSupervisor},

	// Auditors reach the audit log only (DESIGN.md); the channels' state is
	// for the authzOfficers and systems that run the exchange.
	liaisonv1.FederationAdminService_GetFederationStatus_FullMethodName:      {own: authzOfficersAndSystems},
	liaisonv1.FederationAdminService_CheckDrift_FullMethodName:               {own: authzOfficersAndSystems},
	liaisonv1.FederationAdminService_FetchWitnessedCheckpoint_FullMethodName: {own: authzOfficersAndSystems},

	// Retention: the preview lists lead titles and the purge is a
	// supervisor's decision, so both are a supervisor's (issue 13).
	liaisonv1.RetentionService_PreviewPurge_FullMethodName: {own: authzSupervisor},
	liaisonv1.RetentionService_RunPurge_FullMethodName:     {own: authzSupervisor},

	// The federation channel: a partner's node only, not even the own
	// node.
	liaisonv1.FederationService_Exchange_FullMethodName:               {partnerNode: true},
	liaisonv1.FederationService_GetDigest_FullMethodName:              {partnerNode: true},
	liaisonv1.FederationService_ListDigestItems_FullMethodName:        {partnerNode: true},
	liaisonv1.FederationService_Cosign_FullMethodName:                 {partnerNode: true},
	liaisonv1.FederationService_GetWitnessedCheckpoint_FullMethodName: {partnerNode: true},

	// Manifests: drafts, persons and screenings by the authzOfficers of the own
	// agency (analysts and supervisors), every transition by a supervisor,
	// reads also by the agency's systems; holds may be placed by an
	// analyst (protection comes first) but lifted only by a supervisor.
	liaisonv1.ManifestService_CreateManifest_FullMethodName:      {own: authzOfficers},
	liaisonv1.ManifestService_GetManifest_FullMethodName:         {own: authzOfficersAndSystems},
	liaisonv1.ManifestService_ListManifests_FullMethodName:       {own: authzOfficersAndSystems},
	liaisonv1.ManifestService_UpdateManifest_FullMethodName:      {own: authzOfficers},
	liaisonv1.ManifestService_AddPerson_FullMethodName:           {own: authzOfficers},
	liaisonv1.ManifestService_UpdatePerson_FullMethodName:        {own: authzOfficers},
	liaisonv1.ManifestService_RemovePerson_FullMethodName:        {own: authzOfficers},
	liaisonv1.ManifestService_RecordScreening_FullMethodName:     {own: authzOfficers},
	liaisonv1.ManifestService_ProposeManifest_FullMethodName:     {own: authzSupervisor},
	liaisonv1.ManifestService_ReviewPerson_FullMethodName:        {own: authzSupervisor},
	liaisonv1.ManifestService_AcceptManifest_FullMethodName:      {own: authzSupervisor},
	liaisonv1.ManifestService_ScheduleManifest_FullMethodName:    {own: authzSupervisor},
	liaisonv1.ManifestService_DepartManifest_FullMethodName:      {own: authzSupervisor},
	liaisonv1.ManifestService_RecordHandover_FullMethodName:      {own: authzSupervisor},
	liaisonv1.ManifestService_CancelManifest_FullMethodName:      {own: authzSupervisor},
	liaisonv1.ManifestService_WithdrawPerson_FullMethodName:      {own: authzSupervisor},
	liaisonv1.ManifestService_PlaceHold_FullMethodName:           {own: authzOfficers},
	liaisonv1.ManifestService_LiftHold_FullMethodName:            {own: authzSupervisor},
	liaisonv1.ManifestService_ListManifestHistory_FullMethodName: {own: authzOfficersAndSystems},
	liaisonv1.ManifestService_SeparatePersons_FullMethodName:     {own: authzSupervisor},

	// Blind hit/no-hit: asking as a search is asked (the agency's systems
	// too: a batch screening), following up and reading follow-ups by
	// officers, deciding them and the policy of the index by supervisors;
	// a partner's node evaluates blinded keys and nobody else.
	liaisonv1.MatchService_MatchPersons_FullMethodName:        {own: authzOfficersAndSystems},
	liaisonv1.MatchService_FollowUpHit_FullMethodName:         {own: authzOfficers},
	liaisonv1.MatchService_ListMatchFollowUps_FullMethodName:  {own: authzOfficers},
	liaisonv1.MatchService_DecideMatchFollowUp_FullMethodName: {own: authzSupervisor},
	liaisonv1.MatchService_GetMatchStatus_FullMethodName:      {own: authzOfficersAndSystems},
	liaisonv1.MatchService_RotateMatchKey_FullMethodName:      {own: authzSupervisor},
	liaisonv1.MatchService_SetDiscoverability_FullMethodName:  {own: authzSupervisor},
	liaisonv1.MatchPeerService_EvaluateBlinded_FullMethodName: {partnerNode: true},
}

// allows says whether the row lets p call its method.
func (r authzRow) allows(p authzPrincipal) bool {
	if r.partnerNode {
		return p == authzPrincipal{"bravo", identity.Node}
	}
	return !p.isPartner() && slices.Contains(r.own, p.role)
}

// authzFixture is what one bench of the matrix calls through: a node
// under test (alpha) holding the records the requests name.
type authzFixture interface {
	node() *nodetest.Node
	// call calls method as p over conn with a request naming real records;
	// for a caller the method is open to (allowed) the request is valid in
	// every respect, so that nothing but authorization can refuse it. It
	// returns the resource a refusal must be filed under in the audit log
	// ("" if not checked) and the call's error.
	call(t *testing.T, conn *grpc.ClientConn, method string, p authzPrincipal, allowed bool) (resource string, err error)
}

// authzBench is a node setup the matrix runs some services' rows on. Each
// runs in parallel with the others, on its own nodes.
type authzBench struct {
	name     string
	services []string
	setup    func(t *testing.T) authzFixture
}

var authzBenches = []authzBench{
	// One node, a fresh lead per call.
	{"lone", []string{"liaison.v1.LeadService", "liaison.v1.AuditService", "liaison.v1.ChangeFeedService"}, leadsFixture},
	// An alpha–bravo pair with cases, a lead, a partner's replica and
	// partner's permission requests.
	{"pair", []string{"liaison.v1.CaseService", "liaison.v1.SearchService", "liaison.v1.PermissionService",
		"liaison.v1.FederationAdminService", "liaison.v1.RetentionService"}, amSetup},
	// One node, called by bravo's certificates as if over the channel.
	{"channel", []string{"liaison.v1.FederationService"}, channelFixture},
	// An alpha–bravo pair with manifests in every state, either way.
	{"manifests", []string{"liaison.v1.ManifestService"}, amfSetup},
	// An alpha–bravo pair holding each other's blind index.
	{"match", []string{"liaison.v1.MatchService", "liaison.v1.MatchPeerService"}, matchAuthzSetup},
}

// serviceMethods lists the full names of every method of the named
// services, from their proto descriptors.
func serviceMethods(t *testing.T, services ...string) []string {
	t.Helper()
	var out []string
	for _, svc := range services {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
		if err != nil {
			t.Fatalf("service %s: %v", svc, err)
		}
		ms := d.(protoreflect.ServiceDescriptor).Methods()
		for i := range ms.Len() {
			out = append(out, "/"+svc+"/"+string(ms.Get(i).Name()))
		}
	}
	return out
}

// liaisonServices are the services of every liaison.v1 proto file.
func liaisonServices() []string {
	var out []string
	protoregistry.GlobalFiles.RangeFilesByPackage("liaison.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := range fd.Services().Len() {
			out = append(out, string(fd.Services().Get(i).FullName()))
		}
		return true
	})
	slices.Sort(out)
	return out
}

// TestAuthz_MatrixCoversEveryMethod: every method of every liaison.v1
// service has a row in the matrix and runs on a bench; every row names a
// method that exists.
func TestAuthz_MatrixCoversEveryMethod(t *testing.T) {
	t.Parallel()
	services := liaisonServices()
	if len(services) < 10 {
		t.Fatalf("found only the services %v in the liaison.v1 descriptors", services)
	}
	methods := serviceMethods(t, services...)
	for _, m := range methods {
		if _, ok := authzMatrix[m]; !ok {
			t.Errorf("%s has no row in the authorization matrix (authzMatrix)", m)
		}
	}
	for m := range authzMatrix {
		if !slices.Contains(methods, m) {
			t.Errorf("the matrix has a row for %s, which the services do not have", m)
		}
	}
	benched := map[string]string{}
	for _, b := range authzBenches {
		for _, svc := range b.services {
			if other, ok := benched[svc]; ok {
				t.Errorf("%s runs on benches %s and %s", svc, other, b.name)
			}
			benched[svc] = b.name
		}
	}
	for _, svc := range services {
		if _, ok := benched[svc]; !ok {
			t.Errorf("%s runs on no bench of the matrix (authzBenches)", svc)
		}
	}
	if len(methods) != len(authzMatrix) {
		t.Errorf("%d methods, %d rows", len(methods), len(authzMatrix))
	}
}

// TestAuthz_Matrix calls every method of every liaison.v1 service as every
// role of the own agency and of the partner agency, with requests naming
// real records: exactly the callers the matrix lets in are not refused
// (their calls succeed), all others are PERMISSION_DENIED and leave exactly
// one audit event saying so, filed under the record the call named.
func TestAuthz_Matrix(t *testing.T) {
	t.Parallel()
	for _, b := range authzBenches {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f := b.setup(t)
			conns := map[authzPrincipal]*grpc.ClientConn{}
			for _, p := range authzPrincipals() {
				conns[p] = f.node().ConnAs(t, p.agency, string(p.role))
			}
			var denied []authzDenial
			allowedCalls, wantAllowed, total := 0, 0, 0
			for _, method := range serviceMethods(t, b.services...) {
				row, ok := authzMatrix[method]
				if !ok {
					t.Errorf("%s is not in the authorization matrix (authzMatrix)", method)
					continue
				}
				for _, p := range authzPrincipals() {
					allowed := row.allows(p)
					total++
					if allowed {
						wantAllowed++
					}
					t.Run(strings.TrimPrefix(method, "/liaison.v1.")+"/"+p.String(), func(t *testing.T) {
						resource, err := f.call(t, conns[p], method, p, allowed)
						if allowed {
							allowedCalls++
							if err != nil {
								t.Errorf("%s may call it, got %v", p.id(), err)
							}
							return
						}
						if status.Code(err) != codes.PermissionDenied {
							t.Errorf("%s may not call it: got %v, want PermissionDenied", p.id(), err)
						}
						denied = append(denied, authzDenial{p: p, method: method, resource: resource})
					})
				}
			}
			if allowedCalls != wantAllowed || len(denied) != total-wantAllowed {
				t.Errorf("%d calls allowed and %d denied, want %d and %d", allowedCalls, len(denied), wantAllowed, total-wantAllowed)
			}
			authzCheckDenials(t, f.node(), denied)
		})
	}
}

// authzDenial is a refused call whose audit event is checked.
type authzDenial struct {
	p      authzPrincipal
	method string
	// resource is what the event must be filed under, if not "".
	resource string
}

// authzCheckDenials: every refusal is in n's audit log exactly once,
// under the caller and the method (and the record it named), with the
// outcome the audit log gives a PERMISSION_DENIED call; and the chain
// still verifies.
func authzCheckDenials(t *testing.T, n *nodetest.Node, denied []authzDenial) {
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
		if d.resource != "" && e.GetResource() != d.resource {
			t.Errorf("audit event of %s calling %s names resource %q, want %q", d.p.id(), d.method, e.GetResource(), d.resource)
		}
	}
	v, err := audit.VerifyAuditLog(context.Background(), &liaisonv1.VerifyAuditLogRequest{})
	if err != nil || !v.GetOk() {
		t.Errorf("audit chain after the matrix: %v %v", v, err)
	}
}

// TestAuthz_TableMatchesMatrix: authz.Table says exactly what the matrix
// says. An own-agency method has an entry of its own (not a service-wide
// one) allowing exactly the row's roles and opening it to no partner; a
// partner node's method is open to a partner's node and no own role; and
// no entry names a method or service that does not exist.
func TestAuthz_TableMatchesMatrix(t *testing.T) {
	t.Parallel()
	for _, m := range serviceMethods(t, liaisonServices()...) {
		row, ok := authzMatrix[m]
		if !ok {
			continue // TestAuthz_MatrixCoversEveryMethod says so
		}
		if row.partnerNode {
			rule, ok := authz.Lookup(m)
			if !ok {
				t.Errorf("authz.Table has no rule for %s", m)
				continue
			}
			if !rule.PartnerNode || len(rule.Own) != 0 {
				t.Errorf("%s: rule %+v, want a partner's node only", m, rule)
			}
			continue
		}
		rule, ok := authz.Table[m]
		if !ok {
			t.Errorf("authz.Table has no entry for %s", m)
			continue
		}
		got, want := slices.Clone(rule.Own), slices.Clone(row.own)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: authz.Table allows %v, want %v", m, got, want)
		}
		if rule.PartnerNode {
			t.Errorf("%s: authz.Table opens it to partners", m)
		}
	}
	if n := len(serviceMethods(t, "liaison.v1.ManifestService")); n != 20 {
		t.Errorf("ManifestService has %d methods; this test was written for 20: review its rows", n)
	}
	// No stale entries: each names an existing method or service.
	for key := range authz.Table {
		svc, name, ok := strings.Cut(strings.TrimPrefix(key, "/"), "/")
		if !ok || !strings.HasPrefix(key, "/") {
			t.Errorf("authz.Table key %q is not /<service>/<method> or /<service>/*", key)
			continue
		}
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
		sd, isSvc := d.(protoreflect.ServiceDescriptor)
		if err != nil || !isSvc {
			t.Errorf("authz.Table key %q: no service %s", key, svc)
			continue
		}
		if name != "*" && sd.Methods().ByName(protoreflect.Name(name)) == nil {
			t.Errorf("authz.Table key %q: %s has no method %s", key, svc, name)
		}
	}
}
