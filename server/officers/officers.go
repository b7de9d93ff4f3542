// Package officers keeps officers' names at home. What crosses to a
// partner names the agency and the role of whoever acted, plus a pseudonym
// that is stable per (officer, partner): the partner can tell "the same
// officer" across records without learning a name, and two partners cannot
// match their pseudonyms of the same officer.
//
// The pseudonym is HMAC-SHA256(key, partner || 0 || principal), truncated
// to 64 bits. The key is a random per-node secret that the store keeps in
// its own database (Store.Secret): it must persist across restarts (or the
// partner would see new officers after every one), it must travel with
// `liaison backup` (a restored node keeps its pseudonyms), and it needs no
// more protection than the database itself, which holds the real
// principals next to it. A certificate's key would not do: certificates
// rotate. A keyed hash and not a plain one because officers' names are few
// and guessable.
package officers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"google.golang.org/protobuf/proto"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// Pseudonyms makes the pseudonyms of one node's officers.
type Pseudonyms struct {
	key    []byte
	agency string
	// prefix is "spiffe://<own trust domain>/": only the own agency's
	// principals are rewritten; a partner's (already a pseudonym) passes.
	prefix string
}

// New returns the pseudonyms of the officers of agency, whose SPIFFE trust
// domain is trustDomain, under key.
func New(key []byte, agency, trustDomain string) *Pseudonyms {
	return &Pseudonyms{key: key, agency: agency, prefix: "spiffe://" + trustDomain + "/"}
}

// Of is what partner learns of principal: "<agency>/<role>/<pseudonym>",
// "<agency>/node" for the node itself. Anything but a principal of the own
// agency is returned as it is.
func (p *Pseudonyms) Of(partner, principal string) string {
	path, ok := strings.CutPrefix(principal, p.prefix)
	if !ok {
		return principal
	}
	role, _, hasName := strings.Cut(path, "/")
	if !hasName {
		return p.agency + "/" + role
	}
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte(partner))
	m.Write([]byte{0})
	m.Write([]byte(principal))
	return p.agency + "/" + role + "/" + hex.EncodeToString(m.Sum(nil)[:8])
}

// Outgoing is what partner receives of a payload: a copy whose principal
// fields name no officer of the own agency (leads, cases, case entries,
// permission requests, manifest actions; the manifest's own history goes
// with agency and role only, see server/manifests). Other payloads are returned as they are.
func (p *Pseudonyms) Outgoing(partner string, m proto.Message) proto.Message {
	switch v := m.(type) {
	case *liaisonv1.Lead:
		c := proto.Clone(v).(*liaisonv1.Lead)
		c.CreatedBy = p.Of(partner, c.GetCreatedBy())
		return c
	case *liaisonv1.Case:
		c := proto.Clone(v).(*liaisonv1.Case)
		c.CreatedBy = p.Of(partner, c.GetCreatedBy())
		return c
	case *liaisonv1.CaseEntry:
		c := proto.Clone(v).(*liaisonv1.CaseEntry)
		c.Author = p.Of(partner, c.GetAuthor())
		return c
	case *liaisonv1.PermissionRequest:
		c := proto.Clone(v).(*liaisonv1.PermissionRequest)
		c.RequestedBy = p.Of(partner, c.GetRequestedBy())
		c.DecidedBy = p.Of(partner, c.GetDecidedBy())
		return c
	case *liaisonv1.ManifestAction:
		// The receiving agency's officer, on the sending agency's history.
		c := proto.Clone(v).(*liaisonv1.ManifestAction)
		c.Principal = p.Of(partner, c.GetPrincipal())
		return c
	case *liaisonv1.MatchFollowUp:
		// The asker's local lead stays home too.
		c := proto.Clone(v).(*liaisonv1.MatchFollowUp)
		c.RequestedBy = p.Of(partner, c.GetRequestedBy())
		c.DecidedBy = p.Of(partner, c.GetDecidedBy())
		c.LocalLeadId = ""
		c.Records = nil
		return c
	}
	return m
}
