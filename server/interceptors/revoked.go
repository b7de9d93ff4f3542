package interceptors

import (
	"context"
	"errors"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"github.com/liaison-exchange/liaison/server/errs"
)

// revokedError is why a stream was ended: its caller's certificate stopped
// being acceptable while it was open.
type revokedError struct{ err error }

func (e revokedError) Error() string { return e.err.Error() }

// streamRevoked ends an open stream when the revocation list changes and
// its caller's certificate no longer identifies (revoked, or its CA no
// longer trusted). A handshake and every new call are checked anyway; this
// is for the stream that was opened before, and would otherwise outlive the
// revocation for as long as its caller keeps it open (Watch, Exchange).
//
// The stream's context is cancelled, which ends a handler that waits on it,
// and its next RecvMsg or SendMsg fails, which ends one that does not; the
// caller gets UNAUTHENTICATED saying why, and the audit event of the close
// says the same.
func (c *chain) streamRevoked(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if c.o.Revocations == nil {
		return h(srv, ss)
	}
	p, ok := peer.FromContext(ss.Context())
	if !ok {
		return h(srv, ss)
	}
	tlsInfo, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return h(srv, ss)
	}
	ctx, cancel := context.WithCancelCause(ss.Context())
	defer cancel(nil)
	go func() {
		for {
			// Subscribe before checking, so that a change between the
			// check at the start of the call and here is not missed.
			changed := c.o.Revocations()
			if _, err := c.o.Identify(tlsInfo); err != nil {
				cancel(revokedError{errs.New(errs.Unauthenticated, "%v; the stream was closed", err)})
				return
			}
			select {
			case <-changed:
			case <-ctx.Done():
				return
			}
		}
	}()
	err := h(srv, &revocableStream{ServerStream: ss, ctx: ctx})
	if rerr, ok := revokedCause(ctx); ok {
		return rerr
	}
	return err
}

// revokedCause returns the revocation error that ended ctx, if any.
func revokedCause(ctx context.Context) (error, bool) {
	var re revokedError
	if ctx.Err() != nil && errors.As(context.Cause(ctx), &re) {
		return re.err, true
	}
	return nil, false
}

// revocableStream is a stream whose context ends on revocation, and whose
// messages stop flowing then.
type revocableStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *revocableStream) Context() context.Context { return s.ctx }

func (s *revocableStream) RecvMsg(m any) error {
	if err, ok := revokedCause(s.ctx); ok {
		return err
	}
	return s.ServerStream.RecvMsg(m)
}

func (s *revocableStream) SendMsg(m any) error {
	if err, ok := revokedCause(s.ctx); ok {
		return err
	}
	return s.ServerStream.SendMsg(m)
}
