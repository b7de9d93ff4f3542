package interceptors

import (
	"context"

	middleware "github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"google.golang.org/grpc"

	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/identity"
)

func (c *chain) newCall(ctx context.Context, method string, req any) *audit.Call {
	id, _ := identity.FromContext(ctx)
	call := &audit.Call{Agency: id.Agency, Principal: id.ID, Role: string(id.Role), Action: method, RequestID: RequestID(ctx)}
	call.SetResource(resourceOf(method, req))
	return call
}

// record appends the call's event if nothing below did. If that fails the
// call fails: nothing is answered that is not in the audit log.
func (c *chain) record(ctx context.Context, call *audit.Call, outcome error) error {
	if call.Recorded() {
		return nil
	}
	// The event is written even if the caller hung up meanwhile.
	if err := c.o.Recorder.RecordCall(context.WithoutCancel(ctx), outcome); err != nil || !call.Recorded() {
		c.o.Logger.Error("audit event not recorded", "request_id", call.RequestID, "action", call.Action, "err", err)
		return errs.New(errs.Unavailable, "the call could not be recorded in the audit log; try again (request id %s)", call.RequestID)
	}
	return nil
}

func (c *chain) unaryAudit(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	call := c.newCall(ctx, info.FullMethod, req)
	ctx = audit.NewContext(ctx, call)
	resp, err := h(ctx, req)
	if rerr := c.record(ctx, call, err); rerr != nil {
		return nil, rerr
	}
	return resp, err
}

func (c *chain) streamAudit(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	call := c.newCall(ss.Context(), info.FullMethod, nil)
	w := middleware.WrapServerStream(ss)
	w.WrappedContext = audit.NewContext(ss.Context(), call)
	err := h(srv, w)
	if call.Recorded() {
		// The opening was recorded; record the close too, with its outcome
		// and whatever the handler noted (e.g. how much it exported).
		call.SetRecorded(false)
	}
	if rerr := c.record(w.WrappedContext, call, err); rerr != nil {
		return rerr
	}
	return err
}

// streamOpened records a stream as soon as every check passed, so a
// long-lived stream is in the audit log from its start.
func (c *chain) streamOpened(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if call := audit.FromContext(ss.Context()); call != nil {
		if err := c.record(ss.Context(), call, nil); err != nil {
			return err
		}
	}
	return h(srv, ss)
}
