package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/liaison-exchange/liaison/client"
)

// Exit statuses.
const (
	exitOK           = 0
	exitFailed       = 1 // the node refused the call, or could not be reached
	exitUsage        = 2
	exitVerifyFailed = 3 // the audit chain does not verify
)

const (
	defaultTimeout = 30 * time.Second
	// requestIDHeader is the response header in which the node returns the
	// id it logged and audited the call under.
	requestIDHeader = "x-request-id"
)

// run is the whole program; main only adds signals and os.Exit.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	inv, err := parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n\n", err)
		inv.usage(stderr)
		return exitUsage
	}
	if inv.help {
		inv.usage(stdout)
		return exitOK
	}
	if inv.cmd == nil {
		inv.usage(stderr)
		return exitUsage
	}
	c := newCLI(inv.globals, stdin, stdout, stderr)
	defer c.close()
	err = inv.run(ctx, c, inv.args)
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "error: %v\n\n", err)
		inv.usage(stderr)
		return exitUsage
	}
	return c.report(err)
}

// cli is what a command works with: its streams, output format and the
// connection to the node.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	opts           client.Options
	output         string
	timeout        time.Duration

	conn *grpc.ClientConn
}

func newCLI(g globals, stdin io.Reader, stdout, stderr io.Writer) *cli {
	opts := client.OptionsFromEnv()
	override := func(env *string, flag string) {
		if flag != "" {
			*env = flag
		}
	}
	override(&opts.Addr, g.addr)
	override(&opts.CA, g.ca)
	override(&opts.Cert, g.cert)
	override(&opts.Key, g.key)
	return &cli{stdin: stdin, stdout: stdout, stderr: stderr, opts: opts, output: g.output, timeout: g.timeout}
}

func (c *cli) close() {
	if c.conn != nil {
		c.conn.Close()
	}
}

// dial connects on first use, so that usage errors never need a node.
func (c *cli) dial() (*grpc.ClientConn, error) {
	if c.conn != nil {
		return c.conn, nil
	}
	var missing []string
	for _, o := range []struct{ val, flag, env string }{
		{c.opts.Addr, "--addr", client.EnvAddr}, {c.opts.CA, "--ca", client.EnvCA},
		{c.opts.Cert, "--cert", client.EnvCert}, {c.opts.Key, "--key", client.EnvKey},
	} {
		if o.val == "" {
			missing = append(missing, o.flag+" (or "+o.env+")")
		}
	}
	if len(missing) > 0 {
		return nil, usageErrorf("missing %s", strings.Join(missing, ", "))
	}
	conn, err := client.Dial(c.opts, grpc.WithChainUnaryInterceptor(c.intercept), grpc.WithChainStreamInterceptor(c.interceptStream))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", c.opts.Addr, err)
	}
	c.conn = conn
	return conn, nil
}

// intercept gives each unary call its deadline and turns its failure into
// an *rpcError carrying the node's request id.
func (c *cli) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoke grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	var header metadata.MD
	err := invoke(ctx, method, req, reply, cc, append(opts, grpc.Header(&header))...)
	if err == nil {
		return nil
	}
	e := &rpcError{st: status.Convert(err)}
	if v := header.Get(requestIDHeader); len(v) > 0 {
		e.requestID = v[0]
	}
	return e
}

// interceptStream does for a stream what intercept does for a unary call:
// the deadline covers the whole stream, and a failure becomes an *rpcError
// with the request id the node sent in the stream's header.
func (c *cli) interceptStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cancel := context.CancelFunc(func() {})
	if c.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
	}
	s, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		cancel()
		return nil, &rpcError{st: status.Convert(err)}
	}
	return &clientStream{ClientStream: s, cancel: cancel}, nil
}

// clientStream ends its deadline's timer once the stream is over.
type clientStream struct {
	grpc.ClientStream
	cancel context.CancelFunc
}

func (s *clientStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err == nil {
		return nil
	}
	defer s.cancel()
	if err == io.EOF {
		return err
	}
	e := &rpcError{st: status.Convert(err)}
	// After a failure the header is there if the node sent one, alone or
	// (when nothing else was sent) with the trailer.
	for _, md := range []metadata.MD{headerOf(s.ClientStream), s.ClientStream.Trailer()} {
		if v := md.Get(requestIDHeader); len(v) > 0 {
			e.requestID = v[0]
			break
		}
	}
	return e
}

func headerOf(s grpc.ClientStream) metadata.MD {
	md, _ := s.Header()
	return md
}

// rpcError is a failed call: the node's status, and the request id the
// node returned (empty if the call never reached it).
type rpcError struct {
	st        *status.Status
	requestID string
}

func (e *rpcError) Error() string              { return codeName(e.st.Code()) + ": " + e.st.Message() }
func (e *rpcError) GRPCStatus() *status.Status { return e.st }

// codeName is the canonical name of a gRPC code (PERMISSION_DENIED), as
// the API documents it, rather than Go's PermissionDenied.
func codeName(c codes.Code) string { return code.Code(c).String() }

// usageError is a mistake on the command line: exit status 2, with usage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// exitError ends the program with its own status after its message.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// noteError adds lines of advice below the error it wraps.
type noteError struct {
	err   error
	notes []string
}

func (e *noteError) Error() string { return e.err.Error() }
func (e *noteError) Unwrap() error { return e.err }

// report prints err (if any) on stderr and returns the exit status.
func (c *cli) report(err error) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(c.stderr, "error: %v\n", err)
	exit := exitFailed
	var (
		re *rpcError
		ee *exitError
		ne *noteError
	)
	switch {
	case errors.As(err, &re):
		for _, d := range re.st.Details() {
			switch d := d.(type) {
			case *errdetails.BadRequest:
				for _, v := range d.GetFieldViolations() {
					if v.GetField() == "" {
						// A rule on the request as a whole.
						fmt.Fprintf(c.stderr, "  %s\n", v.GetDescription())
						continue
					}
					fmt.Fprintf(c.stderr, "  field %s: %s\n", v.GetField(), v.GetDescription())
				}
			case *errdetails.PreconditionFailure:
				for _, v := range d.GetViolations() {
					fmt.Fprintf(c.stderr, "  rule %s on %s: %s\n", v.GetType(), v.GetSubject(), v.GetDescription())
				}
			}
		}
		switch {
		case re.requestID != "":
			fmt.Fprintf(c.stderr, "  request id: %s\n", re.requestID)
		case re.st.Code() == codes.Unavailable || re.st.Code() == codes.DeadlineExceeded:
			// The call never reached the node: say where it went and as whom.
			fmt.Fprintf(c.stderr, "  could not reach the node at %s (certificate %s, CA %s)\n", c.opts.Addr, c.opts.Cert, c.opts.CA)
		}
	case errors.As(err, &ee):
		exit = ee.code
	}
	if errors.As(err, &ne) {
		for _, n := range ne.notes {
			fmt.Fprintf(c.stderr, "  %s\n", n)
		}
	}
	return exit
}

// readInput reads a file, or stdin for "-".
func (c *cli) readInput(path string) ([]byte, error) {
	if path == "-" {
		b, err := io.ReadAll(c.stdin)
		if err != nil {
			return nil, fmt.Errorf("read stdin: %w", err)
		}
		return b, nil
	}
	return os.ReadFile(path)
}

// readProtoJSON reads a protojson message from path ("-" for stdin), strictly:
// an unknown field is an error naming it. It returns the raw bytes too.
func (c *cli) readProtoJSON(path string, m proto.Message) ([]byte, error) {
	b, err := c.readInput(path)
	if err != nil {
		return nil, err
	}
	if err := (protojson.UnmarshalOptions{}).Unmarshal(b, m); err != nil {
		name := path
		if path == "-" {
			name = "stdin"
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return b, nil
}

// callerAgency is the agency of the caller's certificate: the first label
// of the trust domain of its SPIFFE ID (spiffe://alpha.liaison.test/…),
// or "" if that cannot be read.
func (c *cli) callerAgency() string {
	b, err := os.ReadFile(c.opts.Cert)
	if err != nil {
		return ""
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return ""
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return ""
	}
	for _, u := range cert.URIs {
		if u.Scheme == "spiffe" {
			agency, _, _ := strings.Cut(u.Host, ".")
			return agency
		}
	}
	return ""
}
