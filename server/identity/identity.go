// Package identity is who is calling: the agency whose CA verified the
// caller's certificate, and the role and name from its SPIFFE URI SAN.
package identity

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Role is what a principal may do; see the authorization table in
// server/authz.
type Role string

// The roles of a Liaison deployment.
const (
	Analyst    Role = "analyst"
	Supervisor Role = "supervisor"
	Auditor    Role = "auditor"
	Service    Role = "service"
	// Node is an agency's node itself: to its partners it is the only
	// principal that may call the federation API.
	Node Role = "node"
)

// Roles lists every role, in a stable order (tests iterate it).
var Roles = []Role{Analyst, Supervisor, Auditor, Service, Node}

// Identity is an authenticated caller.
type Identity struct {
	// Agency is the agency whose CA verified the certificate chain.
	Agency string
	Role   Role
	// Name is the principal's name within its role; empty for a node.
	Name string
	// ID is the SPIFFE ID, e.g. spiffe://alpha.liaison.test/analyst/alice.
	ID string
	// Partner is true when Agency is not the node's own agency.
	Partner bool
}

// String is the SPIFFE ID.
func (i Identity) String() string { return i.ID }

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Parse reads role and name from a SPIFFE ID and checks that its trust
// domain is the one of the agency whose CA verified it: a certificate cannot
// claim to speak for another agency than its issuer.
//
// Only the plain form is accepted — no percent-encoding, user, port, query
// or fragment — so a principal has exactly one spelling, the one the audit
// log records.
func Parse(spiffeID *url.URL, trustDomain string) (Role, string, error) {
	raw := spiffeID.String()
	if spiffeID.Scheme != "spiffe" {
		return "", "", fmt.Errorf("URI SAN %q is not a SPIFFE ID", raw)
	}
	if spiffeID.Host != trustDomain || spiffeID.Opaque != "" {
		return "", "", fmt.Errorf("certificate names trust domain %q but was issued by the CA of %q", spiffeID.Host, trustDomain)
	}
	if spiffeID.User != nil || spiffeID.RawQuery != "" || spiffeID.ForceQuery || spiffeID.Fragment != "" {
		return "", "", fmt.Errorf("URI SAN %q is not a plain SPIFFE ID", raw)
	}
	segs := strings.Split(strings.TrimPrefix(spiffeID.EscapedPath(), "/"), "/")
	switch {
	case len(segs) == 1 && segs[0] == string(Node):
		return Node, "", nil
	case len(segs) != 2:
		return "", "", fmt.Errorf("SPIFFE ID %q: path must be /node or /<role>/<name>", raw)
	}
	role := Role(segs[0])
	switch role {
	case Analyst, Supervisor, Auditor, Service:
	default:
		return "", "", fmt.Errorf("SPIFFE ID %q: unknown role %q", raw, segs[0])
	}
	if !namePattern.MatchString(segs[1]) {
		return "", "", fmt.Errorf("SPIFFE ID %q: invalid principal name %q", raw, segs[1])
	}
	return role, segs[1], nil
}

type ctxKey struct{}

// NewContext returns ctx carrying id.
func NewContext(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the caller's identity, if the auth interceptor set one.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(Identity)
	return id, ok
}
