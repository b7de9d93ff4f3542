package interceptors

import (
	"context"

	middleware "github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/identity"
)

func (c *chain) identify(ctx context.Context) (context.Context, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil, errs.New(errs.Unauthenticated, "no peer")
	}
	tlsInfo, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return nil, errs.New(errs.Unauthenticated, "not a TLS connection")
	}
	id, err := c.o.Identify(tlsInfo)
	if err != nil {
		return nil, errs.New(errs.Unauthenticated, "%v", err)
	}
	return identity.NewContext(ctx, id), nil
}

// unidentified records a call refused because its caller could not be
// identified. The TLS handshake already refuses certificates that do not
// verify, so this is a connection opened before its certificate was
// revoked or its CA removed: worth an audit event, under what the
// certificate claims (marked unverified), never under an identity.
func (c *chain) unidentified(ctx context.Context, method string, req any, refused error) error {
	principal := "unverified: no certificate"
	if p, ok := peer.FromContext(ctx); ok {
		if t, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(t.State.PeerCertificates) > 0 {
			leaf := t.State.PeerCertificates[0]
			principal = "unverified: serial " + leaf.SerialNumber.Text(16)
			if len(leaf.URIs) > 0 {
				principal = "unverified: " + leaf.URIs[0].String() + " (serial " + leaf.SerialNumber.Text(16) + ")"
			}
		}
	}
	call := &audit.Call{Principal: principal, Action: method, RequestID: RequestID(ctx)}
	call.SetResource(resourceOf(method, req))
	call.SetDetail("refused before identification: " + refused.Error())
	if c.o.Refusals.Coalesce(call, refused) {
		return refused
	}
	if err := c.record(audit.NewContext(ctx, call), call, refused); err != nil {
		return err
	}
	return refused
}

func (c *chain) unaryIdentity(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	idCtx, err := c.identify(ctx)
	if err != nil {
		return nil, c.unidentified(ctx, info.FullMethod, req, err)
	}
	return h(idCtx, req)
}

func (c *chain) streamIdentity(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	ctx, err := c.identify(ss.Context())
	if err != nil {
		return c.unidentified(ss.Context(), info.FullMethod, nil, err)
	}
	w := middleware.WrapServerStream(ss)
	w.WrappedContext = ctx
	return h(srv, w)
}
