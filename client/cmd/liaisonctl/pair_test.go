package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// peer is one node of a pair of partners, alpha and bravo, started for one
// test by nodetest.Pair.
type peer struct{ *nodetest.Node }

func startPair(t *testing.T) (alpha, bravo *peer) {
	t.Helper()
	a, b := nodetest.Pair(t, nil)
	return &peer{a}, &peer{b}
}

// flags are the global flags that reach the node as a role of its own
// agency.
func (p *peer) flags(role string) []string {
	return []string{"--addr", p.Addr(), "--ca", p.PKI.Path(p.Agency, "ca.crt"),
		"--cert", p.PKI.Path(p.Agency, role+".crt"), "--key", p.PKI.Path(p.Agency, role+".key")}
}

// ctl runs liaisonctl as role with args, the connection flags after them.
func (p *peer) ctl(t *testing.T, role string, args ...string) result {
	t.Helper()
	return ctl(t, "", append(args, p.flags(role)...)...)
}

// try is ctl without the log, for polling.
func (p *peer) try(role string, args ...string) result {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append(args, p.flags(role)...), strings.NewReader(""), &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// tryJSON runs a command with -o json and decodes its output into m.
func (p *peer) tryJSON(role string, m proto.Message, args ...string) error {
	r := p.try(role, append(args, "-o", "json")...)
	if r.code != exitOK {
		return fmt.Errorf("liaisonctl %s: exit status %d: %s", strings.Join(args, " "), r.code, r.stderr)
	}
	return protojson.Unmarshal([]byte(r.stdout), m)
}

// leadWithHandling is leadJSON with handling code (H0, H1, H2) and title.
func leadWithHandling(title, code string) string {
	s := strings.Replace(leadJSON, "Kupang boats", title, 1)
	return strings.Replace(s, `"handling": {"code": "HANDLING_CODE_H3", "conditions": "not to be shared with third countries"}`,
		`"handling": {"code": "HANDLING_CODE_`+code+`"}`, 1)
}

// createReleased creates a lead with handling code on p and releases it
// to partner, both through the command line.
func (p *peer) createReleased(t *testing.T, title, code, partner string) *liaisonv1.Lead {
	t.Helper()
	var created liaisonv1.CreateLeadResponse
	p.ctl(t, "analyst", "leads", "create", "-f", writeFile(t, leadWithHandling(title, code)), "-o", "json").wantCode(t, exitOK).decode(t, &created)
	var released liaisonv1.ReleaseLeadResponse
	p.ctl(t, "supervisor", "leads", "release", created.GetLead().GetId(), "--to", partner, "-o", "json").wantCode(t, exitOK).decode(t, &released)
	return released.GetLead()
}

// waitLead waits until p holds lead l at its version (or later) and
// returns p's copy.
func (p *peer) waitLead(t *testing.T, l *liaisonv1.Lead) *liaisonv1.Lead {
	t.Helper()
	var resp liaisonv1.GetLeadResponse
	eventually(t, func() error {
		if err := p.tryJSON("analyst", &resp, "leads", "get", l.GetId()); err != nil {
			return err
		}
		if v := resp.GetLead().GetVersion(); v < l.GetVersion() {
			return fmt.Errorf("%s holds version %d of %s, want %d", p.Agency, v, l.GetId(), l.GetVersion())
		}
		return nil
	})
	return resp.GetLead()
}

// eventually polls cond for as long as a partner may reasonably take.
func eventually(t *testing.T, cond func() error) {
	t.Helper()
	nodetest.Eventually(t, 15*time.Second, cond)
}

// kv is a line of a key/value view whose longest key is width-2 long.
func kv(width int, key, value string) string { return fmt.Sprintf("%-*s%s", width, key, value) }

// lines are the non-empty lines of s.
func lines(s string) []string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}
