package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/liaison-exchange/liaison/certs"
	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/authz"
	"github.com/liaison-exchange/liaison/server/identity"
	"github.com/liaison-exchange/liaison/server/ids"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// authzPrincipal is a caller of the matrix: a certificate of nodetest's PKI.
type authzPrincipal struct {
	agency string
	role   identity.Role
}

func (p authzPrincipal) id() string {
	if p.role == identity.Node {
		return certs.NodeID(p.agency)
	}
	for _, dp := range certs.DevPrincipals {
		if dp.Role == string(p.role) {
			return certs.PrincipalID(p.agency, dp.Role, dp.Name)
		}
	}
	panic("no dev principal for role " + p.role)
}

func (p authzPrincipal) String() string { return p.agency + "/" + string(p.role) }

func (p authzPrincipal) isPartner() bool { return p.agency != "alpha" }

// authzPrincipals: every role of the own agency (alpha) and of its partner
// (bravo).
func authzPrincipals() []authzPrincipal {
	var out []authzPrincipal
	for _, agency := range []string{"alpha", "bravo"} {
		for _, r := range identity.Roles {
			out = append(out, authzPrincipal{agency, r})
		}
	}
	return out
}

// authzRequest is a valid request for method about lead, so that
// validation and business rules cannot be what refuses an allowed caller.
func authzRequest(t *testing.T, method string, lead *liaisonv1.Lead) proto.Message {
	t.Helper()
	switch method {
	case liaisonv1.LeadService_CreateLead_FullMethodName:
		return &liaisonv1.CreateLeadRequest{Lead: newLead("authz create")}
	case liaisonv1.LeadService_GetLead_FullMethodName:
		return &liaisonv1.GetLeadRequest{Id: lead.GetId()}
	case liaisonv1.LeadService_ListLeads_FullMethodName:
		return &liaisonv1.ListLeadsRequest{PageSize: 5}
	case liaisonv1.LeadService_UpdateLead_FullMethodName:
		return &liaisonv1.UpdateLeadRequest{
			Lead:       &liaisonv1.Lead{Id: lead.GetId(), Etag: lead.GetEtag(), Title: "authz update"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
		}
	case liaisonv1.LeadService_ReleaseLead_FullMethodName:
		return &liaisonv1.ReleaseLeadRequest{Id: lead.GetId(), Partners: []string{"bravo"}}
	case liaisonv1.LeadService_WithdrawLead_FullMethodName:
		return &liaisonv1.WithdrawLeadRequest{Id: lead.GetId(), Reason: "authz matrix"}
	case liaisonv1.LeadService_ListLeadReceipts_FullMethodName:
		return &liaisonv1.ListLeadReceiptsRequest{Id: lead.GetId()}
	case liaisonv1.LeadService_ExportLeads_FullMethodName:
		return &liaisonv1.ExportLeadsRequest{Ids: []string{lead.GetId()}}
	case liaisonv1.LeadService_ImportLeads_FullMethodName:
		return &liaisonv1.ImportLeadsRequest{Items: []*liaisonv1.ImportItem{{Line: 1, RequestId: ids.New(), Lead: newLead("authz import")}}}
	case liaisonv1.AuditService_ListAuditEvents_FullMethodName:
		return &liaisonv1.ListAuditEventsRequest{PageSize: 5}
	case liaisonv1.AuditService_VerifyAuditLog_FullMethodName:
		return &liaisonv1.VerifyAuditLogRequest{}
	case liaisonv1.AuditService_ProveAuditEvent_FullMethodName:
		// The node's first event (its start-up) is always there.
		return &liaisonv1.ProveAuditEventRequest{Sequence: 1}
	}
	t.Fatalf("no valid request for %s: add one to authzRequest", method)
	return nil
}

// methodDescriptor finds a method by its full gRPC name.
func methodDescriptor(t *testing.T, fullMethod string) protoreflect.MethodDescriptor {
	t.Helper()
	svc, name, _ := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
	if err != nil {
		t.Fatalf("%s: %v", fullMethod, err)
	}
	md := d.(protoreflect.ServiceDescriptor).Methods().ByName(protoreflect.Name(name))
	if md == nil {
		t.Fatalf("%s: no such method", fullMethod)
	}
	return md
}

// invoke calls a unary or server-streaming method with req (checking req
// is its input type) and returns the call's error; of a stream, the error
// that ends it (nil if it ends normally).
func invoke(t *testing.T, conn *grpc.ClientConn, method string, req proto.Message) error {
	t.Helper()
	md := methodDescriptor(t, method)
	if got := req.ProtoReflect().Descriptor().FullName(); got != md.Input().FullName() {
		t.Fatalf("test bug: %s takes %s, not %s", method, md.Input().FullName(), got)
	}
	out, err := protoregistry.GlobalTypes.FindMessageByName(md.Output().FullName())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !md.IsStreamingServer() && !md.IsStreamingClient() {
		return conn.Invoke(ctx, method, req, out.New().Interface())
	}
	if md.IsStreamingClient() {
		t.Fatalf("%s streams from the client; invoke cannot call it", method)
	}
	stream, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, method)
	if err != nil {
		return err
	}
	if err := stream.SendMsg(req); err != nil {
		return err
	}
	if err := stream.CloseSend(); err != nil {
		return err
	}
	for {
		if err := stream.RecvMsg(out.New().Interface()); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// ---- the lone bench: one node, a fresh lead per call ---------------------------

// loneFixture is alpha alone, for the services about the own agency's
// leads, its audit log and its change feed.
type loneFixture struct {
	n     *nodetest.Node
	setup liaisonv1.LeadServiceClient
}

func leadsFixture(t *testing.T) authzFixture {
	t.Helper()
	n := startAlpha(t)
	return &loneFixture{n: n, setup: liaisonv1.NewLeadServiceClient(n.Conn(t, "analyst"))}
}

func (f *loneFixture) node() *nodetest.Node { return f.n }

func (f *loneFixture) call(t *testing.T, conn *grpc.ClientConn, method string, p authzPrincipal, allowed bool) (string, error) {
	t.Helper()
	// A fresh lead per call: an allowed release or withdrawal must not
	// change what the next caller finds.
	created, err := f.setup.CreateLead(context.Background(), &liaisonv1.CreateLeadRequest{Lead: newLead("authz " + p.String())})
	if err != nil {
		t.Fatal(err)
	}
	lead := created.GetLead()
	if method == liaisonv1.ChangeFeedService_Watch_FullMethodName {
		return "", authzWatch(t, conn)
	}
	err = invoke(t, conn, method, authzRequest(t, method, lead))
	// An event is proven once a checkpoint covers it, every few seconds:
	// FAILED_PRECONDITION before that is the service answering, past
	// authorization.
	if allowed && method == liaisonv1.AuditService_ProveAuditEvent_FullMethodName && status.Code(err) == codes.FailedPrecondition {
		err = nil
	}
	res := ""
	if md := methodDescriptor(t, method); md.Input().Fields().ByName("id") != nil {
		res = "leads/" + lead.GetId()
	}
	return res, err
}

// authzWatch opens a watch of the change feed and returns the error of its
// first message: a change (or the heartbeat of an empty feed), or the
// refusal.
func authzWatch(t *testing.T, conn *grpc.ClientConn) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := liaisonv1.NewChangeFeedServiceClient(conn).Watch(ctx, &liaisonv1.WatchRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	return err
}

// TestAuthz_EveryRegisteredMethodHasRule: every method a started node
// serves (as its reflection service lists them), and every method of
// every generated liaison.v1 service, has a rule. A method without one is
// refused to everybody, which is safe but means it was forgotten.
func TestAuthz_EveryRegisteredMethodHasRule(t *testing.T) {
	t.Parallel()
	pki := nodetest.NewPKI(t, "alpha", "bravo")
	n := nodetest.Start(t, pki, pki.Config("alpha", t.TempDir(), "bravo"), nil)

	served := listServices(t, n.Conn(t, "analyst"))
	for _, want := range []string{
		liaisonv1.LeadService_ServiceDesc.ServiceName, liaisonv1.AuditService_ServiceDesc.ServiceName,
		healthpb.Health_ServiceDesc.ServiceName,
		reflectionv1.ServerReflection_ServiceDesc.ServiceName, reflectionv1alpha.ServerReflection_ServiceDesc.ServiceName,
	} {
		if !slices.Contains(served, want) {
			t.Errorf("the node does not serve %s (serves %v)", want, served)
		}
	}

	services := slices.Clone(served)
	protoregistry.GlobalFiles.RangeFilesByPackage("liaison.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			if name := string(fd.Services().Get(i).FullName()); !slices.Contains(services, name) {
				services = append(services, name)
			}
		}
		return true
	})
	for _, svc := range services {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
		if err != nil {
			t.Errorf("service %s: %v", svc, err)
			continue
		}
		sd := d.(protoreflect.ServiceDescriptor)
		for i := 0; i < sd.Methods().Len(); i++ {
			m := fmt.Sprintf("/%s/%s", svc, sd.Methods().Get(i).Name())
			if _, ok := authz.Lookup(m); !ok {
				t.Errorf("%s has no rule in authz.Table", m)
			}
		}
	}
}

// listServices asks the node's reflection service what it serves.
func listServices(t *testing.T, conn *grpc.ClientConn) []string {
	t.Helper()
	stream, err := reflectionv1.NewServerReflectionClient(conn).ServerReflectionInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer stream.CloseSend()
	if err := stream.Send(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		out = append(out, s.GetName())
	}
	return out
}
