package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/liaison-exchange/liaison/client"
	"github.com/liaison-exchange/liaison/server/config"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// testNode is a node of agency alpha, with partner bravo, started for one
// test.
type testNode struct {
	*nodetest.Node
	cfg *config.Config
}

func startNode(t *testing.T) *testNode {
	t.Helper()
	pki := nodetest.NewPKI(t, "alpha", "bravo")
	cfg := pki.Config("alpha", t.TempDir(), "bravo")
	return &testNode{Node: nodetest.Start(t, pki, cfg, nil), cfg: cfg}
}

// options reach the node with the certificate of a role of an agency.
func (n *testNode) options(agency, role string) client.Options {
	return client.Options{
		Addr: n.Addr(), CA: n.PKI.Path("alpha", "ca.crt"),
		Cert: n.PKI.Path(agency, role+".crt"), Key: n.PKI.Path(agency, role+".key"),
	}
}

// flags are the global flags that reach the node as a role of alpha.
func (n *testNode) flags(role string) []string {
	o := n.options("alpha", role)
	return []string{"--addr", o.Addr, "--ca", o.CA, "--cert", o.Cert, "--key", o.Key}
}

// ctl runs liaisonctl as role with args, the connection flags after them.
func (n *testNode) ctl(t *testing.T, role string, args ...string) result {
	t.Helper()
	return ctl(t, "", append(args, n.flags(role)...)...)
}

type result struct {
	code           int
	stdout, stderr string
}

// ctl runs liaisonctl with args and stdin.
func ctl(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &stdout, &stderr)
	r := result{code, stdout.String(), stderr.String()}
	t.Logf("liaisonctl %s → %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, r.stdout, r.stderr)
	return r
}

// wantCode fails the test unless r exited with code.
func (r result) wantCode(t *testing.T, code int) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit status %d, want %d; stderr:\n%s", r.code, code, r.stderr)
	}
	return r
}

// decode parses r's stdout (from -o json) into m.
func (r result) decode(t *testing.T, m proto.Message) {
	t.Helper()
	if err := protojson.Unmarshal([]byte(r.stdout), m); err != nil {
		t.Fatalf("stdout is not a %T: %v\n%s", m, err, r.stdout)
	}
}

func wantContains(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, got)
		}
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "input.json")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// usageCase is a command line that needs no node: its exit status and what
// stdout and stderr must contain.
type usageCase struct {
	name   string
	args   []string
	code   int
	stdout []string
	stderr []string
}

// runUsage runs each case as a parallel subtest. A usage error must also
// leave stdout empty: its message and the usage go to stderr.
func runUsage(t *testing.T, cases []usageCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := ctl(t, "", tc.args...).wantCode(t, tc.code)
			wantContains(t, "stdout", r.stdout, tc.stdout...)
			wantContains(t, "stderr", r.stderr, tc.stderr...)
			if tc.code == exitUsage && r.stdout != "" {
				t.Errorf("a usage error wrote to stdout:\n%s", r.stdout)
			}
		})
	}
}
