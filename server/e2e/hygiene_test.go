package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// These tests each reproduce one gap of "connection hygiene" (issue 11,
// finding 8) against a real node: real mTLS, real SQLite, loopback TCP.

// TestHygiene_HealthAndReflectionOwnOnly: health checks and reflection
// answer every principal of the node's own agency and no principal of a
// partner — not even its node, which reaches only the federation service.
// (They told a partner which services the node runs and whether it is up.)
func TestHygiene_HealthAndReflectionOwnOnly(t *testing.T) {
	t.Parallel()
	pki := nodetest.NewPKI(t, "alpha", "bravo")
	n := nodetest.Start(t, pki, pki.Config("alpha", t.TempDir(), "bravo"), nil)
	for _, p := range authzPrincipals() {
		t.Run(p.String(), func(t *testing.T) {
			t.Parallel()
			conn := n.ConnAs(t, p.agency, string(p.role))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
			refl := reflectionErr(ctx, conn)
			if p.isPartner() {
				if status.Code(err) != codes.PermissionDenied {
					t.Errorf("health check as %s: %v %v, want PermissionDenied", p.id(), resp, err)
				}
				if status.Code(refl) != codes.PermissionDenied {
					t.Errorf("reflection as %s: %v, want PermissionDenied", p.id(), refl)
				}
				return
			}
			if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("health check as %s: %v %v", p.id(), resp, err)
			}
			if refl != nil {
				t.Errorf("reflection as %s: %v", p.id(), refl)
			}
		})
	}
}

// reflectionErr lists services by reflection and returns the error, if any.
func reflectionErr(ctx context.Context, conn *grpc.ClientConn) error {
	stream, err := reflectionv1.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		return err
	}
	defer stream.CloseSend()
	if err := stream.Send(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_ListServices{}}); err != nil {
		_, err = stream.Recv()
		return err
	}
	resp, err := stream.Recv()
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(resp.GetListServicesResponse().GetService(), func(s *reflectionv1.ServiceResponse) bool {
		return s.GetName() == liaisonv1.LeadService_ServiceDesc.ServiceName
	}) {
		return status.Errorf(codes.Unknown, "reflection lists %v", resp.GetListServicesResponse().GetService())
	}
	return nil
}
