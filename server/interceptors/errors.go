package interceptors

import (
	"context"

	"google.golang.org/grpc"

	"github.com/liaison-exchange/liaison/server/errs"
)

// The one mapping from errors to statuses.

func (c *chain) mapError(ctx context.Context, method string, err error) error {
	if err == nil {
		return nil
	}
	st, internal := errs.Status(err, RequestID(ctx))
	if internal {
		c.o.Logger.Error("internal error", "request_id", RequestID(ctx), "method", method, "err", err)
	}
	return st.Err()
}

func (c *chain) unaryErrors(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	resp, err := h(ctx, req)
	if err != nil {
		return nil, c.mapError(ctx, info.FullMethod, err)
	}
	return resp, nil
}

func (c *chain) streamErrors(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	return c.mapError(ss.Context(), info.FullMethod, h(srv, ss))
}
