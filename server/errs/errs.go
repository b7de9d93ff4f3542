// Package errs is the project's error vocabulary and the one table that
// turns it into gRPC statuses.
//
// Services and the store return *Error for anything a caller did; every
// other error is internal and reaches the caller only as a short generic
// message with the request id, its detail going to the log.
package errs

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Code classifies an error by what the caller can do about it.
type Code int

// The error codes of Liaison.
const (
	Internal           Code = iota // a fault of the node, not the caller
	InvalidArgument                // bad input; see FieldViolations
	NotFound                       // no such record
	AlreadyExists                  // request_id reused with another payload
	FailedPrecondition             // a state rule forbids it; see Violations
	Aborted                        // stale etag: re-read and retry
	PermissionDenied               // the caller's role or agency may not
	Unauthenticated                // no usable identity
	ResourceExhausted              // rate limit
	Unavailable                    // shutting down, partner unreachable, a stream to resume
	OutOfRange                     // a change-feed cursor no longer (or never) kept
)

// grpcCodes is the one table from project codes to gRPC codes.
var grpcCodes = map[Code]codes.Code{
	Internal:           codes.Internal,
	InvalidArgument:    codes.InvalidArgument,
	NotFound:           codes.NotFound,
	AlreadyExists:      codes.AlreadyExists,
	FailedPrecondition: codes.FailedPrecondition,
	Aborted:            codes.Aborted,
	PermissionDenied:   codes.PermissionDenied,
	Unauthenticated:    codes.Unauthenticated,
	ResourceExhausted:  codes.ResourceExhausted,
	Unavailable:        codes.Unavailable,
	OutOfRange:         codes.OutOfRange,
}

// FieldViolation names a bad field by its path ("lead.subjects[0].names")
// and says what is wrong with it.
type FieldViolation struct {
	Field       string
	Description string
}

// Violation is a broken state rule: its type (a stable rule id), the
// subject it concerns and what would clear it.
type Violation struct {
	Type        string
	Subject     string
	Description string
}

// Info is machine-readable detail of an error (google.rpc.ErrorInfo): a
// stable reason, its domain, and values such as the cursor to resume from.
type Info struct {
	Reason, Domain string
	Metadata       map[string]string
}

// Error is an error the caller caused or can act on.
type Error struct {
	Code            Code
	Message         string
	FieldViolations []FieldViolation
	Violations      []Violation
	Info            *Info
}

func (e *Error) Error() string { return e.Message }

// GRPCStatus lets status.Code and status.FromError read an *Error directly,
// so code that never passes through the interceptors (a stream helper, a
// unit test) sees the same code the caller would.
func (e *Error) GRPCStatus() *status.Status { return e.status() }

// New returns an error with a code and message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid is INVALID_ARGUMENT for one field.
func Invalid(field, format string, args ...any) *Error {
	d := fmt.Sprintf(format, args...)
	return InvalidFields([]FieldViolation{{field, d}}).(*Error)
}

// InvalidFields is INVALID_ARGUMENT for several fields; nil if there are none.
func InvalidFields(vs []FieldViolation) error {
	if len(vs) == 0 {
		return nil
	}
	msg := vs[0].Description
	if vs[0].Field != "" {
		msg = vs[0].Field + ": " + msg
	}
	if len(vs) > 1 {
		msg = fmt.Sprintf("%s (and %d more)", msg, len(vs)-1)
	}
	return &Error{Code: InvalidArgument, Message: msg, FieldViolations: vs}
}

// Precondition is FAILED_PRECONDITION for one broken rule.
func Precondition(rule, subject, format string, args ...any) *Error {
	d := fmt.Sprintf(format, args...)
	return &Error{Code: FailedPrecondition, Message: d, Violations: []Violation{{rule, subject, d}}}
}

// Preconditions is FAILED_PRECONDITION listing every broken rule; nil if
// there are none.
func Preconditions(summary string, vs []Violation) error {
	if len(vs) == 0 {
		return nil
	}
	return &Error{Code: FailedPrecondition, Message: fmt.Sprintf("%s: %d rule(s) broken", summary, len(vs)), Violations: vs}
}

// NotFoundf is NOT_FOUND.
func NotFoundf(format string, args ...any) *Error { return New(NotFound, format, args...) }

// CodeOf returns the code of err (Internal for foreign errors).
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// CodeName is the canonical name of the gRPC code an error will reach the
// caller with ("OK" for nil, "PERMISSION_DENIED", …). The audit log records
// it as the outcome of a call.
func CodeName(err error) string {
	return code.Code(grpcCode(err)).String()
}

func grpcCode(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	var e *Error
	if errors.As(err, &e) {
		return grpcCodes[e.Code]
	}
	if s, ok := status.FromError(err); ok {
		return s.Code()
	}
	switch {
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	}
	return codes.Internal
}

// Status converts any error into the status the caller sees. Internal
// errors become a generic message naming the request id; internal says
// whether the error's detail should be logged.
func Status(err error, requestID string) (st *status.Status, internal bool) {
	if err == nil {
		return status.New(codes.OK, ""), false
	}
	var e *Error
	if errors.As(err, &e) && e.Code != Internal {
		return e.status(), false
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.New(codes.Canceled, "call cancelled"), false
	case errors.Is(err, context.DeadlineExceeded):
		return status.New(codes.DeadlineExceeded, "deadline exceeded"), false
	}
	// A status made by gRPC itself or by an interceptor passes through,
	// unless it is an internal one, whose text may say too much.
	if s, ok := status.FromError(err); ok && s.Code() != codes.Internal && s.Code() != codes.Unknown {
		return s, false
	}
	return status.Newf(codes.Internal, "internal error (request id %s)", requestID), true
}

func (e *Error) status() *status.Status {
	st := status.New(grpcCodes[e.Code], e.Message)
	if len(e.FieldViolations) > 0 {
		br := &errdetails.BadRequest{}
		for _, v := range e.FieldViolations {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: v.Field, Description: v.Description})
		}
		if with, err := st.WithDetails(br); err == nil {
			st = with
		}
	}
	if e.Info != nil {
		if with, err := st.WithDetails(&errdetails.ErrorInfo{Reason: e.Info.Reason, Domain: e.Info.Domain, Metadata: e.Info.Metadata}); err == nil {
			st = with
		}
	}
	if len(e.Violations) > 0 {
		pf := &errdetails.PreconditionFailure{}
		for _, v := range e.Violations {
			pf.Violations = append(pf.Violations, &errdetails.PreconditionFailure_Violation{Type: v.Type, Subject: v.Subject, Description: v.Description})
		}
		if with, err := st.WithDetails(pf); err == nil {
			st = with
		}
	}
	return st
}
