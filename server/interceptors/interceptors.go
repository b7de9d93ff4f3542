// Package interceptors assembles the node's gRPC interceptor chain, the
// same for unary and streaming calls, outermost first:
//
//	recovery → request id → logging → error mapping → metrics → identity →
//	admission (rate limit, then authorization) → audit → validation →
//	(recovery) → handler
//
// Identity comes from the verified client certificate. Admission refuses
// cheaply, before the audit interceptor: a refused call costs a token
// bucket, a table lookup and, for the first of a run of equal refusals, an
// audit write (the rest are counted into one event; see Refusals). Every
// call admitted is recorded in the audit log before the caller gets its
// answer, whether a later layer refuses it or not.
package interceptors

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"runtime/debug"
	"strings"

	middleware "github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/identity"
	"github.com/liaison-exchange/liaison/server/ids"
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
	c := &chain{o: o, limiter: newLimiter(newLimit(o.RatePerSecond, o.Burst), newLimit(o.PartnerRatePerSecond, o.PartnerBurst))}
	rec := recovery.WithRecoveryHandlerContext(c.recovered)
	logOpts := []logging.Option{
		logging.WithLogOnEvents(logging.FinishCall),
		logging.WithLevels(logLevel),
		logging.WithFieldsFromContext(func(ctx context.Context) logging.Fields {
			f := logging.Fields{"request_id", RequestID(ctx)}
			if id, ok := identity.FromContext(ctx); ok {
				f = append(f, "principal", id.ID)
			}
			return f
		}),
	}
	logger := logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		o.Logger.Log(ctx, slog.Level(lvl), msg, fields...)
	})
	unary := []grpc.UnaryServerInterceptor{
		recovery.UnaryServerInterceptor(rec),
		c.unaryRequestID,
		logging.UnaryServerInterceptor(logger, logOpts...),
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
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(unary...), grpc.ChainStreamInterceptor(stream...)}
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

// ---- request id --------------------------------------------------------

type requestIDKey struct{}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// RequestID returns the request id of the call in ctx.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

func withRequestID(ctx context.Context) context.Context {
	id := ""
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get(RequestIDHeader); len(v) == 1 && requestIDPattern.MatchString(v[0]) {
			id = v[0]
		}
	}
	if id == "" {
		id = ids.New()
	}
	_ = grpc.SetHeader(ctx, metadata.Pairs(RequestIDHeader, id))
	return context.WithValue(ctx, requestIDKey{}, id)
}

func (c *chain) unaryRequestID(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	return h(withRequestID(ctx), req)
}

func (c *chain) streamRequestID(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	w := middleware.WrapServerStream(ss)
	w.WrappedContext = withRequestID(ss.Context())
	return h(srv, w)
}

// ---- errors: the one mapping to statuses --------------------------------

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

// ---- identity -------------------------------------------------------------

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

// ---- audit ------------------------------------------------------------------

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

// collections name what each service's "id" refers to.
var collections = map[string]string{
	"LeadService":            "leads",
	"CaseService":            "cases",
	"ManifestService":        "manifests",
	"PermissionService":      "permission_requests",
	"AuditService":           "audit_events",
	"SearchService":          "persons",
	"FederationAdminService": "channels",
	"FederationService":      "channels",
	"ChangeFeedService":      "feed",
	"RetentionService":       "leads",
}

// refFields are request fields that name a record of a fixed collection,
// whatever the service.
var refFields = []struct{ field, collection string }{
	{"case_id", "cases"}, {"manifest_id", "manifests"}, {"record_id", "leads"}, {"lead_id", "leads"},
	{"lead", "leads"}, {"case", "cases"}, {"manifest", "manifests"},
}

// resourceOf names the record a request is aimed at — its "id", or the id
// of the record it names (case_id, the updated lead, …) — so that even a
// refused call is filed under what it targeted.
func resourceOf(method string, req any) string {
	m, ok := req.(proto.Message)
	if !ok {
		return ""
	}
	r := m.ProtoReflect()
	svc, _, _ := strings.Cut(strings.TrimPrefix(method, "/"), "/")
	if j := strings.LastIndexByte(svc, '.'); j >= 0 {
		svc = svc[j+1:]
	}
	if id := stringField(r, "id"); id != "" {
		if c, ok := collections[svc]; ok {
			return c + "/" + id
		}
	}
	for _, f := range refFields {
		fd := r.Descriptor().Fields().ByName(protoreflect.Name(f.field))
		switch {
		case fd == nil:
		case fd.Kind() == protoreflect.StringKind && !fd.IsList():
			if id := r.Get(fd).String(); id != "" {
				return f.collection + "/" + id
			}
		case fd.Kind() == protoreflect.MessageKind && !fd.IsList() && r.Has(fd):
			if id := stringField(r.Get(fd).Message(), "id"); id != "" {
				return f.collection + "/" + id
			}
		}
	}
	return ""
}

func stringField(m protoreflect.Message, name string) string {
	fd := m.Descriptor().Fields().ByName(protoreflect.Name(name))
	if fd == nil || fd.Kind() != protoreflect.StringKind || fd.IsList() {
		return ""
	}
	return m.Get(fd).String()
}

// ---- validation ---------------------------------------------------------------

func (c *chain) unaryValidate(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if m, ok := req.(proto.Message); ok {
		if err := c.o.Validator.Validate(m, ""); err != nil {
			return nil, err
		}
	}
	return h(ctx, req)
}

func (c *chain) streamValidate(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	return h(srv, &validatingStream{ServerStream: ss, v: c.o.Validator})
}

type validatingStream struct {
	grpc.ServerStream
	v *validate.Validator
}

func (s *validatingStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if pm, ok := m.(proto.Message); ok {
		return s.v.Validate(pm, "")
	}
	return nil
}
