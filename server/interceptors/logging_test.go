package interceptors

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// logLine is one JSON log line's keys in order and its values.
func logLine(t *testing.T, line string) ([]string, map[string]any) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("log line %q: %v", line, err)
	}
	var keys []string
	dec := json.NewDecoder(strings.NewReader(line))
	dec.Token() // {
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var v json.RawMessage
		dec.Decode(&v)
	}
	return keys, m
}

// The unary logging layer writes, for every code, the line the
// go-grpc-middleware interceptor it replaced wrote, field for field (only
// the start time and duration differ, being measured), at the same level;
// a logger that does not write the level gets no line.
func TestUnaryLogging_SameLineAsTheMiddleware(t *testing.T) {
	t.Parallel()
	info := &grpc.UnaryServerInfo{FullMethod: "/liaison.v1.LeadService/GetLead"}
	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4242}})
	ctx = context.WithValue(ctx, requestIDKey{}, "req-1")
	dctx, cancel := context.WithDeadline(ctx, time.Now().Add(time.Hour))
	defer cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
	}{
		{"OK", ctx, nil},
		{"NotFound", ctx, status.Error(codes.NotFound, "no such lead")},
		{"InternalWithDeadline", dctx, status.Error(codes.Internal, "boom")},
		{"PlainError", ctx, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := func(context.Context, any) (any, error) { return "resp", tc.err }
			run := func(level slog.Level, middleware bool) string {
				var buf bytes.Buffer
				log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: level}))
				unary, _ := interceptorsOf(Options{Logger: log})
				var got any
				var err error
				if middleware {
					mw := logging.UnaryServerInterceptor(logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
						log.Log(ctx, slog.Level(lvl), msg, fields...)
					}), logging.WithLogOnEvents(logging.FinishCall), logging.WithLevels(logLevel), logging.WithFieldsFromContext(logFields))
					got, err = mw(tc.ctx, "req", info, h)
				} else {
					if funcName(unary[2]) != "unaryLogging" {
						t.Fatalf("the chain's third layer is %s, want unaryLogging", funcName(unary[2]))
					}
					got, err = unary[2](tc.ctx, "req", info, h)
				}
				if got != "resp" || err != tc.err {
					t.Fatalf("the layer returned %v, %v; want the handler's resp, %v", got, err, tc.err)
				}
				return buf.String()
			}
			want, got := run(slog.LevelDebug, true), run(slog.LevelDebug, false)
			wantKeys, wantVals := logLine(t, want)
			gotKeys, gotVals := logLine(t, got)
			if !reflect.DeepEqual(gotKeys, wantKeys) {
				t.Fatalf("keys\n%v\nwant\n%v", gotKeys, wantKeys)
			}
			for _, k := range []string{"time", "grpc.start_time", "grpc.time_ms"} {
				if _, ok := gotVals[k]; !ok {
					t.Fatalf("line has no %s: %s", k, got)
				}
				delete(gotVals, k)
				delete(wantVals, k)
			}
			if !reflect.DeepEqual(gotVals, wantVals) {
				t.Fatalf("line\n%s\nwant\n%s", got, want)
			}
			if !strings.Contains(got, `"peer.address":"127.0.0.1:4242"`) || !strings.Contains(got, `"request_id":"req-1"`) {
				t.Fatalf("line lacks the peer or request id: %s", got)
			}
			// Above the call's level: no line from either.
			quiet := slog.Level(logLevel(status.Code(tc.err))) + 1
			if w, g := run(quiet, true), run(quiet, false); w != "" || g != "" {
				t.Fatalf("logger above the level wrote %q (middleware %q)", g, w)
			}
		})
	}
}
