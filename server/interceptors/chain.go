// Package interceptors assembles the node's gRPC interceptor chain, the
// same for unary and streaming calls, outermost first:
//
//	recovery → request id → logging → error mapping → metrics → identity →
//	admission (rate limit, then authorization) → audit → validation →
//	(recovery) → handler
//
// Logging writes a call's line only if the logger writes its level (a
// unary call's line is built only then: logging.go).
//
// Identity comes from the verified client certificate. Admission refuses
// cheaply, before the audit interceptor: a refused call costs a token
// bucket, a table lookup and, for the first of a run of equal refusals, an
// audit write (the rest are counted into one event; see Refusals). Every
// call admitted is recorded in the audit log before the caller gets its
// answer, whether a later layer refuses it or not.
//
// One file per layer: chain.go (the order), requestid.go, logging.go,
// errors.go, identity.go, admit.go (with ratelimit.go and refusals.go),
// audit.go (with resources.go, which names the record a call targets),
// validate.go and revoked.go.
package interceptors

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/liaison-exchange/liaison/server/identity"
	"github.com/liaison-exchange/liaison/server/validate"
)

// RequestIDHeader is the metadata key of the request id, read from the
// caller if it sends a well-formed one and always returned in the header.
const RequestIDHeader = "x-request-id"

// Recorder appends the audit event of a call that the handler did not
// record itself (reads, refused calls).
type Recorder interface {
	RecordCall(ctx context.Context, outcome error) error
}

// Options configure the chain.
type Options struct {
	Logger *slog.Logger
	// Identify resolves the caller from its verified TLS connection.
	Identify  func(credentials.TLSInfo) (identity.Identity, error)
	Recorder  Recorder
	Validator *validate.Validator
	// RatePerSecond and Burst limit each principal of the own agency, and
	// each partner's node.
	RatePerSecond float64
	Burst         int
	// PartnerRatePerSecond and PartnerBurst limit each partner agency's
	// other principals, all together.
	PartnerRatePerSecond float64
	PartnerBurst         int
	// Refusals coalesces repeated refusals in the audit log (nil: each is
	// written).
	Refusals *Refusals
	// Metrics interceptors, if any, run just outside identity.
	MetricsUnary  grpc.UnaryServerInterceptor
	MetricsStream grpc.StreamServerInterceptor
	// Revocations, if set, returns a channel closed when the revocation
	// list next changes: open streams are then checked again (revoked.go).
	Revocations func() <-chan struct{}
}

// Chain returns the server options installing the chain.
func Chain(o Options) []grpc.ServerOption {
	unary, stream := interceptorsOf(o)
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(unary...), grpc.ChainStreamInterceptor(stream...)}
}

// interceptorsOf returns the chain's interceptors, outermost first.
func interceptorsOf(o Options) ([]grpc.UnaryServerInterceptor, []grpc.StreamServerInterceptor) {
	c := &chain{o: o, limiter: newLimiter(newLimit(o.RatePerSecond, o.Burst), newLimit(o.PartnerRatePerSecond, o.PartnerBurst))}
	rec := recovery.WithRecoveryHandlerContext(c.recovered)
	logOpts := []logging.Option{
		logging.WithLogOnEvents(logging.FinishCall),
		logging.WithLevels(logLevel),
		logging.WithFieldsFromContext(logFields),
	}
	logger := logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		o.Logger.Log(ctx, slog.Level(lvl), msg, fields...)
	})
	unary := []grpc.UnaryServerInterceptor{
		recovery.UnaryServerInterceptor(rec),
		c.unaryRequestID,
		c.unaryLogging,
		c.unaryErrors,
	}
	stream := []grpc.StreamServerInterceptor{
		recovery.StreamServerInterceptor(rec),
		c.streamRequestID,
		logging.StreamServerInterceptor(logger, logOpts...),
		c.streamErrors,
	}
	if o.MetricsUnary != nil {
		unary = append(unary, o.MetricsUnary)
	}
	if o.MetricsStream != nil {
		stream = append(stream, o.MetricsStream)
	}
	unary = append(unary,
		c.unaryIdentity,
		c.unaryAdmit,
		c.unaryAudit,
		c.unaryValidate,
		recovery.UnaryServerInterceptor(rec),
	)
	stream = append(stream,
		c.streamIdentity,
		c.streamAdmit,
		c.streamAudit,
		c.streamValidate,
		c.streamOpened,
		c.streamRevoked,
		recovery.StreamServerInterceptor(rec),
	)
	return unary, stream
}

type chain struct {
	o       Options
	limiter *limiter
}

func logLevel(c codes.Code) logging.Level {
	switch c {
	case codes.OK:
		return logging.LevelDebug
	case codes.Internal, codes.Unknown, codes.DataLoss, codes.Unimplemented:
		return logging.LevelError
	default:
		return logging.LevelInfo
	}
}

// recovered turns a panic into an internal error; the stack goes to the
// log, never to the caller.
func (c *chain) recovered(ctx context.Context, p any) error {
	c.o.Logger.Error("panic in call", "request_id", RequestID(ctx), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	return status.Errorf(codes.Internal, "internal error (request id %s)", RequestID(ctx))
}
