package interceptors

import (
	"context"

	"google.golang.org/grpc"

	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/authz"
	"github.com/liaison-exchange/liaison/server/identity"
)

// ---- admission: rate limit, then authorization ---------------------------------
//
// Admission runs before the audit interceptor, so that the calls it
// refuses are the cheapest the node answers: a token bucket, a table
// lookup, and an audit write only for the first of a run of equal refusals
// (see Refusals). A caller over its limit is refused before authorization
// is even asked; a caller refused by authorization never reaches the audit
// interceptor, the validator or a handler.

// admit refuses the call if its caller is over its rate or may not call
// the method; the refusal is recorded (or counted) in the audit log.
func (c *chain) admit(ctx context.Context, method string, req any) error {
	id, _ := identity.FromContext(ctx)
	err := c.limiter.allow(id)
	if err == nil {
		err = authz.Check(method, id)
	}
	if err == nil {
		return nil
	}
	call := c.newCall(ctx, method, req)
	if c.o.Refusals.Coalesce(call, err) {
		return err
	}
	if rerr := c.record(audit.NewContext(ctx, call), call, err); rerr != nil {
		return rerr
	}
	return err
}

func (c *chain) unaryAdmit(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if err := c.admit(ctx, info.FullMethod, req); err != nil {
		return nil, err
	}
	return h(ctx, req)
}

func (c *chain) streamAdmit(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if err := c.admit(ss.Context(), info.FullMethod, nil); err != nil {
		return err
	}
	return h(srv, ss)
}
