package interceptors

import (
	"context"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"google.golang.org/grpc"
)

// funcName names an interceptor by its function: a method of chain by its
// name, one of go-grpc-middleware by its package.
func funcName(f any) string {
	name := runtime.FuncForPC(reflect.ValueOf(f).Pointer()).Name()
	if i := strings.Index(name, "(*chain)."); i >= 0 {
		return strings.TrimSuffix(name[i+len("(*chain)."):], "-fm")
	}
	for _, pkg := range []string{"recovery", "logging"} {
		if strings.Contains(name, "/interceptors/"+pkg+".") {
			return pkg
		}
	}
	return name
}

// The chain's order, outermost first, is the package's contract (see its
// doc): recovery, request id, logging, error mapping, metrics, identity,
// admission, audit, validation, (for streams: the opening recorded, then
// revocation), recovery.
func TestChain_Order(t *testing.T) {
	t.Parallel()
	metricsU := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		return h(ctx, req)
	}
	metricsS := func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		return h(srv, ss)
	}
	for _, tc := range []struct {
		name                  string
		o                     Options
		wantUnary, wantStream []string
	}{
		{"WithoutMetrics", Options{},
			[]string{"recovery", "unaryRequestID", "unaryLogging", "unaryErrors", "unaryIdentity", "unaryAdmit", "unaryAudit", "unaryValidate", "recovery"},
			[]string{"recovery", "streamRequestID", "logging", "streamErrors", "streamIdentity", "streamAdmit", "streamAudit", "streamValidate", "streamOpened", "streamRevoked", "recovery"}},
		{"WithMetrics", Options{MetricsUnary: metricsU, MetricsStream: metricsS},
			[]string{"recovery", "unaryRequestID", "unaryLogging", "unaryErrors", "metrics", "unaryIdentity", "unaryAdmit", "unaryAudit", "unaryValidate", "recovery"},
			[]string{"recovery", "streamRequestID", "logging", "streamErrors", "metrics", "streamIdentity", "streamAdmit", "streamAudit", "streamValidate", "streamOpened", "streamRevoked", "recovery"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unary, stream := interceptorsOf(tc.o)
			var gotU, gotS []string
			for _, u := range unary {
				n := funcName(u)
				if tc.o.MetricsUnary != nil && n == funcName(tc.o.MetricsUnary) {
					n = "metrics"
				}
				gotU = append(gotU, n)
			}
			for _, s := range stream {
				n := funcName(s)
				if tc.o.MetricsStream != nil && n == funcName(tc.o.MetricsStream) {
					n = "metrics"
				}
				gotS = append(gotS, n)
			}
			if !reflect.DeepEqual(gotU, tc.wantUnary) {
				t.Errorf("unary chain\n%v\nwant\n%v", gotU, tc.wantUnary)
			}
			if !reflect.DeepEqual(gotS, tc.wantStream) {
				t.Errorf("stream chain\n%v\nwant\n%v", gotS, tc.wantStream)
			}
		})
	}
}
