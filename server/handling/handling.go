// Package handling is the handling-code policy, in one place: on which
// surface a partner's lead reaches which role of the own agency, with its
// restriction shown, withheld until the originator grants permission, or
// refused. Every handler that serves a lead (GetLead, ListLeads, Watch,
// SearchPersons, ExportLeads) or would send it onward (ReleaseLead) asks
// here; README "Handling codes" is the same table in words.
//
// Handling codes bind the recipient of a record, never its originator: the
// own agency's leads are served in full everywhere.
package handling

import (
	"context"
	"fmt"
	"strings"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/authz"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/identity"
)

// Surface is a way a lead leaves the store toward a caller.
type Surface string

// The surfaces of the policy.
const (
	GetLead       Surface = "GetLead"
	ListLeads     Surface = "ListLeads"
	Watch         Surface = "Watch"
	SearchPersons Surface = "SearchPersons"
	ExportLeads   Surface = "ExportLeads"
	// OnwardRelease is ReleaseLead of a partner's record (to anyone).
	OnwardRelease Surface = "onward release"
)

// Surfaces lists every surface, in the README's order.
var Surfaces = []Surface{GetLead, ListLeads, Watch, SearchPersons, ExportLeads, OnwardRelease}

// method is the RPC of each surface: who reaches a surface at all is
// authz.Table's answer, not a second list here.
var method = map[Surface]string{
	GetLead:       liaisonv1.LeadService_GetLead_FullMethodName,
	ListLeads:     liaisonv1.LeadService_ListLeads_FullMethodName,
	Watch:         liaisonv1.ChangeFeedService_Watch_FullMethodName,
	SearchPersons: liaisonv1.SearchService_SearchPersons_FullMethodName,
	ExportLeads:   liaisonv1.LeadService_ExportLeads_FullMethodName,
	OnwardRelease: liaisonv1.LeadService_ReleaseLead_FullMethodName,
}

// Verdict is a cell of the table.
type Verdict int

const (
	// Refused: never served (or sent) this way, whatever the permission.
	Refused Verdict = iota
	// Shown: served in full, with the restriction attached.
	Shown
	// NeedsPermission: the content is withheld until the originator grants
	// this agency permission (RequestPermission, purpose export); then
	// Shown.
	NeedsPermission
)

func (v Verdict) String() string {
	switch v {
	case Shown:
		return "allowed, restriction shown"
	case NeedsPermission:
		return "needs the originator's permission"
	default:
		return "refused"
	}
}

// Rule is the table: what a role of the own agency gets of a partner's lead
// coded code on surface s.
//
// Officers (analysts, supervisors) work with partner intelligence: they
// see every code, with its restriction. The agency's systems (service) are
// dissemination beyond the officers the partner released to: H2 (no further
// dissemination) and H3 (conditions the node cannot check) reach them only
// with the originator's permission. Export takes records out of the node
// altogether: anything above H0 needs permission, whoever asks. A replica
// is never released onward.
func Rule(s Surface, r identity.Role, code liaisonv1.HandlingCode) Verdict {
	if m, ok := method[s]; !ok || authz.Check(m, identity.Identity{Role: r}) != nil {
		return Refused
	}
	switch s {
	case OnwardRelease:
		return Refused
	case ExportLeads:
		if code == liaisonv1.HandlingCode_HANDLING_CODE_H0 {
			return Shown
		}
		return NeedsPermission
	}
	switch code {
	case liaisonv1.HandlingCode_HANDLING_CODE_H0, liaisonv1.HandlingCode_HANDLING_CODE_H1:
		return Shown
	case liaisonv1.HandlingCode_HANDLING_CODE_H2, liaisonv1.HandlingCode_HANDLING_CODE_H3:
		if r == identity.Service {
			return NeedsPermission
		}
		return Shown
	}
	// A code this table does not know: the strictest reading.
	return NeedsPermission
}

// Policy applies Rule to records of a node.
type Policy struct {
	// Agency is the own agency: its records are not restricted.
	Agency string
	// Granted says whether the originator granted this agency permission
	// (purpose export) for a record.
	Granted func(ctx context.Context, recordID string) (bool, error)
}

// Decision is the policy's answer for one record.
type Decision struct {
	// Restriction is nil for the own agency's records (and withdrawn
	// ones, which hold no content).
	Restriction *liaisonv1.Restriction
	// Refused: not served this way at all.
	Refused bool
}

// Withheld says whether the content must not be served.
func (d Decision) Withheld() bool { return d.Restriction.GetWithheld() }

// Decide is the decision for a lead on a surface for a caller.
func (p *Policy) Decide(ctx context.Context, s Surface, caller identity.Identity, l *liaisonv1.Lead) (Decision, error) {
	if l.GetOriginAgency() == p.Agency {
		return Decision{}, nil
	}
	if s != OnwardRelease && l.GetStatus() == liaisonv1.LeadStatus_LEAD_STATUS_WITHDRAWN {
		return Decision{}, nil // nothing left to restrict
	}
	code := l.GetHandling().GetCode()
	v := Rule(s, caller.Role, code)
	if caller.Partner {
		v = Refused
	}
	r := &liaisonv1.Restriction{
		Code: code, Conditions: l.GetHandling().GetConditions(), Originator: l.GetOriginAgency(),
		Meaning: Meaning(code, l.GetOriginAgency(), l.GetHandling().GetConditions()),
	}
	if v == Refused {
		return Decision{Restriction: r, Refused: true}, nil
	}
	if p.Granted != nil && code != liaisonv1.HandlingCode_HANDLING_CODE_H0 {
		ok, err := p.Granted(ctx, l.GetId())
		if err != nil {
			return Decision{}, err
		}
		r.PermissionGranted = ok
	}
	if v == NeedsPermission && !r.PermissionGranted {
		r.Withheld = true
		r.Meaning += fmt.Sprintf("; withheld from role %s on %s until %s grants permission (RequestPermission, purpose export)", caller.Role, s, l.GetOriginAgency())
	}
	return Decision{Restriction: r}, nil
}

// Meaning is a handling code in words.
func Meaning(code liaisonv1.HandlingCode, originator, conditions string) string {
	switch code {
	case liaisonv1.HandlingCode_HANDLING_CODE_H0:
		return "H0: use only for preventing and combating crime"
	case liaisonv1.HandlingCode_HANDLING_CODE_H1:
		return fmt.Sprintf("H1: not to be used in judicial proceedings without the permission of %s", originator)
	case liaisonv1.HandlingCode_HANDLING_CODE_H2:
		return fmt.Sprintf("H2: no further dissemination without the permission of %s", originator)
	case liaisonv1.HandlingCode_HANDLING_CODE_H3:
		return fmt.Sprintf("H3: conditions of %s: %s", originator, conditions)
	}
	return fmt.Sprintf("handling code %s of %s is not known here: treated as the strictest", code, originator)
}

// Name is the short name of a handling code ("H2").
func Name(c liaisonv1.HandlingCode) string {
	return strings.TrimPrefix(c.String(), "HANDLING_CODE_")
}

// Rule names the violation a refusal reports ("handling.h2").
func ruleName(code liaisonv1.HandlingCode) string { return "handling." + strings.ToLower(Name(code)) }

// Serve is the lead to give a caller in a list or a stream: the lead with
// its restriction, or a stub with only its identity, handling and
// restriction when the content is withheld. l is changed in place.
func (p *Policy) Serve(ctx context.Context, s Surface, caller identity.Identity, l *liaisonv1.Lead) (*liaisonv1.Lead, error) {
	d, err := p.Decide(ctx, s, caller, l)
	if err != nil {
		return nil, err
	}
	if d.Refused {
		return nil, refusal(s, l, d)
	}
	l.Restriction = d.Restriction
	if d.Withheld() {
		return Stub(l), nil
	}
	return l, nil
}

// Require is Serve for a record asked for by id: withheld content is
// FAILED_PRECONDITION naming the handling code, not a stub.
func (p *Policy) Require(ctx context.Context, s Surface, caller identity.Identity, l *liaisonv1.Lead) (*liaisonv1.Lead, error) {
	d, err := p.Decide(ctx, s, caller, l)
	if err != nil {
		return nil, err
	}
	if d.Refused || d.Withheld() {
		return nil, refusal(s, l, d)
	}
	l.Restriction = d.Restriction
	return l, nil
}

// Block is why a lead may not go out on s ("" if it may), for surfaces
// that report refusals item by item (ExportLeads).
func (p *Policy) Block(ctx context.Context, s Surface, caller identity.Identity, l *liaisonv1.Lead) (string, error) {
	d, err := p.Decide(ctx, s, caller, l)
	if err != nil || (!d.Refused && !d.Withheld()) {
		return "", err
	}
	return refusal(s, l, d).Violations[0].Description, nil
}

// refusal is the error of a lead withheld or refused on s.
func refusal(s Surface, l *liaisonv1.Lead, d Decision) *errs.Error {
	code, origin := l.GetHandling().GetCode(), l.GetOriginAgency()
	subject := "leads/" + l.GetId()
	switch {
	case s == OnwardRelease:
		return errs.Precondition("handling.no_onward_release", subject,
			"lead %s is a replica of a record of %s; a partner's record is never released onward", l.GetId(), origin)
	case s == ExportLeads:
		return errs.Precondition(ruleName(code), subject,
			"handling code %s of %s forbids export without the originator's permission (ask %s with RequestPermission)", Name(code), origin, origin)
	case d.Refused:
		return errs.New(errs.PermissionDenied, "lead %s of %s is not served on %s to this caller", l.GetId(), origin, s)
	}
	return errs.Precondition(ruleName(code), subject,
		"%s: its content is withheld from the agency's systems until %s grants permission (an officer asks with RequestPermission, purpose export)",
		Meaning(code, origin, l.GetHandling().GetConditions()), origin)
}

// Stub is what remains of a withheld lead: enough to know it exists, whose
// it is and how to ask for it.
func Stub(l *liaisonv1.Lead) *liaisonv1.Lead {
	return &liaisonv1.Lead{
		Id: l.GetId(), OriginAgency: l.GetOriginAgency(), Version: l.GetVersion(), Etag: l.GetEtag(),
		CreateTime: l.GetCreateTime(), UpdateTime: l.GetUpdateTime(), Status: l.GetStatus(),
		Handling: l.GetHandling(), ReleasedTo: l.GetReleasedTo(),
		Restriction: l.GetRestriction(),
	}
}

// Hit applies the policy to a search hit on lead l: the restriction is
// attached, and a withheld hit keeps only that the record matched.
func (p *Policy) Hit(ctx context.Context, caller identity.Identity, h *liaisonv1.PersonHit, l *liaisonv1.Lead) (*liaisonv1.PersonHit, error) {
	d, err := p.Decide(ctx, SearchPersons, caller, l)
	if err != nil || d.Refused {
		return nil, err
	}
	h.Restriction = d.Restriction
	if d.Withheld() {
		h.Person, h.RecordTitle, h.Reasons = nil, "", nil
	}
	return h, nil
}
