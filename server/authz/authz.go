// Package authz is who may call what: one declarative table from gRPC
// method to the roles of the own agency allowed to call it, and whether a
// partner agency's node may. A method missing from the table is refused.
package authz

import (
	"strings"

	"google.golang.org/grpc/health/grpc_health_v1"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/identity"
)

// Rule says who may call a method.
type Rule struct {
	// Own lists the roles of the node's own agency that may call.
	Own []identity.Role
	// PartnerNode allows the node of a partner agency (and no other
	// principal of a partner).
	PartnerNode bool
}

const (
	an = identity.Analyst
	su = identity.Supervisor
	au = identity.Auditor
	se = identity.Service
)

// Table is the authorization table. Service-wide entries end in "/*".
var Table = map[string]Rule{
	liaisonv1.LeadService_CreateLead_FullMethodName:   {Own: []identity.Role{an, su, se}},
	liaisonv1.LeadService_GetLead_FullMethodName:      {Own: []identity.Role{an, su, se}},
	liaisonv1.LeadService_ListLeads_FullMethodName:    {Own: []identity.Role{an, su, se}},
	liaisonv1.LeadService_UpdateLead_FullMethodName:   {Own: []identity.Role{an, su}},
	liaisonv1.LeadService_ReleaseLead_FullMethodName:  {Own: []identity.Role{su}},
	liaisonv1.LeadService_WithdrawLead_FullMethodName: {Own: []identity.Role{su}},

	liaisonv1.LeadService_ListLeadReceipts_FullMethodName: {Own: []identity.Role{an, su, se}},
	liaisonv1.LeadService_ExportLeads_FullMethodName:      {Own: []identity.Role{an, su, se}},
	liaisonv1.LeadService_ImportLeads_FullMethodName:      {Own: []identity.Role{an, su, se}},

	liaisonv1.CaseService_CreateCase_FullMethodName:       {Own: []identity.Role{an, su, se}},
	liaisonv1.CaseService_GetCase_FullMethodName:          {Own: []identity.Role{an, su, se}},
	liaisonv1.CaseService_ListCases_FullMethodName:        {Own: []identity.Role{an, su, se}},
	liaisonv1.CaseService_UpdateCase_FullMethodName:       {Own: []identity.Role{an, su}},
	liaisonv1.CaseService_ShareCase_FullMethodName:        {Own: []identity.Role{su}},
	liaisonv1.CaseService_AddCaseEntry_FullMethodName:     {Own: []identity.Role{an, su, se}},
	liaisonv1.CaseService_ListCaseEntries_FullMethodName:  {Own: []identity.Role{an, su, se}},
	liaisonv1.CaseService_LinkLead_FullMethodName:         {Own: []identity.Role{an, su}},
	liaisonv1.CaseService_UnlinkLead_FullMethodName:       {Own: []identity.Role{an, su}},
	liaisonv1.CaseService_CloseCase_FullMethodName:        {Own: []identity.Role{su}},
	liaisonv1.CaseService_ReopenCase_FullMethodName:       {Own: []identity.Role{su}},
	liaisonv1.CaseService_ListOpenRequests_FullMethodName: {Own: []identity.Role{an, su, se}},

	liaisonv1.SearchService_SearchPersons_FullMethodName: {Own: []identity.Role{an, su, se}},

	// Every change the node applies, for the agency's systems and analysts.
	// The agency's systems and its analysts (supervisors do all an analyst
	// does).
	liaisonv1.ChangeFeedService_Watch_FullMethodName: {Own: []identity.Role{an, su, se}},

	// Manifests: drafts and screenings by officers of the sending agency;
	// every transition by a supervisor (the service checks which agency).
	liaisonv1.ManifestService_CreateManifest_FullMethodName:      {Own: []identity.Role{an, su}},
	liaisonv1.ManifestService_GetManifest_FullMethodName:         {Own: []identity.Role{an, su, se}},
	liaisonv1.ManifestService_ListManifests_FullMethodName:       {Own: []identity.Role{an, su, se}},
	liaisonv1.ManifestService_UpdateManifest_FullMethodName:      {Own: []identity.Role{an, su}},
	liaisonv1.ManifestService_AddPerson_FullMethodName:           {Own: []identity.Role{an, su}},
	liaisonv1.ManifestService_UpdatePerson_FullMethodName:        {Own: []identity.Role{an, su}},
	liaisonv1.ManifestService_RemovePerson_FullMethodName:        {Own: []identity.Role{an, su}},
	liaisonv1.ManifestService_RecordScreening_FullMethodName:     {Own: []identity.Role{an, su}},
	liaisonv1.ManifestService_ProposeManifest_FullMethodName:     {Own: []identity.Role{su}},
	liaisonv1.ManifestService_ReviewPerson_FullMethodName:        {Own: []identity.Role{su}},
	liaisonv1.ManifestService_AcceptManifest_FullMethodName:      {Own: []identity.Role{su}},
	liaisonv1.ManifestService_ScheduleManifest_FullMethodName:    {Own: []identity.Role{su}},
	liaisonv1.ManifestService_DepartManifest_FullMethodName:      {Own: []identity.Role{su}},
	liaisonv1.ManifestService_RecordHandover_FullMethodName:      {Own: []identity.Role{su}},
	liaisonv1.ManifestService_CancelManifest_FullMethodName:      {Own: []identity.Role{su}},
	liaisonv1.ManifestService_WithdrawPerson_FullMethodName:      {Own: []identity.Role{su}},
	liaisonv1.ManifestService_PlaceHold_FullMethodName:           {Own: []identity.Role{an, su}},
	liaisonv1.ManifestService_LiftHold_FullMethodName:            {Own: []identity.Role{su}},
	liaisonv1.ManifestService_ListManifestHistory_FullMethodName: {Own: []identity.Role{an, su, se}},
	// Deciding that a possible match is two different people lifts a
	// safeguard: a supervisor's decision, like a withdrawal.
	liaisonv1.ManifestService_SeparatePersons_FullMethodName: {Own: []identity.Role{su}},

	liaisonv1.PermissionService_RequestPermission_FullMethodName:       {Own: []identity.Role{an, su}},
	liaisonv1.PermissionService_ListPermissionRequests_FullMethodName:  {Own: []identity.Role{an, su}},
	liaisonv1.PermissionService_DecidePermissionRequest_FullMethodName: {Own: []identity.Role{su}},

	// Blind hit/no-hit: asking and following up, like a search, by
	// analysts and supervisors; the agency's systems may ask (a batch
	// screening) but not follow up. Deciding a follow-up, rotating a key
	// and making a record discoverable or not are a supervisor's.
	liaisonv1.MatchService_MatchPersons_FullMethodName:        {Own: []identity.Role{an, su, se}},
	liaisonv1.MatchService_FollowUpHit_FullMethodName:         {Own: []identity.Role{an, su}},
	liaisonv1.MatchService_ListMatchFollowUps_FullMethodName:  {Own: []identity.Role{an, su}},
	liaisonv1.MatchService_DecideMatchFollowUp_FullMethodName: {Own: []identity.Role{su}},
	liaisonv1.MatchService_GetMatchStatus_FullMethodName:      {Own: []identity.Role{an, su, se}},
	liaisonv1.MatchService_RotateMatchKey_FullMethodName:      {Own: []identity.Role{su}},
	liaisonv1.MatchService_SetDiscoverability_FullMethodName:  {Own: []identity.Role{su}},
	// A partner's node evaluates blinded keys; no one else.
	"/" + liaisonv1.MatchPeerService_ServiceDesc.ServiceName + "/*": {PartnerNode: true},

	// Auditors reach the audit log only (DESIGN.md, issue 13).
	liaisonv1.FederationAdminService_GetFederationStatus_FullMethodName: {Own: []identity.Role{an, su, se}},
	liaisonv1.FederationAdminService_CheckDrift_FullMethodName:          {Own: []identity.Role{an, su, se}},
	// The partner's copy of the own log's checkpoint: what auditors verify with.
	liaisonv1.FederationAdminService_FetchWitnessedCheckpoint_FullMethodName: {Own: []identity.Role{an, su, se}},

	// Retention: the preview lists the titles of what a purge is about to
	// delete, and purging is a supervisor's decision: supervisors only.
	liaisonv1.RetentionService_PreviewPurge_FullMethodName: {Own: []identity.Role{su}},
	liaisonv1.RetentionService_RunPurge_FullMethodName:     {Own: []identity.Role{su}},

	// Node to node only: a partner's node, and no one else.
	"/" + liaisonv1.FederationService_ServiceDesc.ServiceName + "/*": {PartnerNode: true},

	liaisonv1.AuditService_ListAuditEvents_FullMethodName: {Own: []identity.Role{au}},
	liaisonv1.AuditService_VerifyAuditLog_FullMethodName:  {Own: []identity.Role{au}},
	liaisonv1.AuditService_ProveAuditEvent_FullMethodName: {Own: []identity.Role{au}},

	// Health and reflection tell what the node runs and whether it is up:
	// the own agency's principals only. A partner reaches the federation
	// service and learns nothing else.
	"/" + grpc_health_v1.Health_ServiceDesc.ServiceName + "/*": {Own: identity.Roles},
	"/grpc.reflection.v1.ServerReflection/*":                   {Own: identity.Roles},
	"/grpc.reflection.v1alpha.ServerReflection/*":              {Own: identity.Roles},
}

// Lookup returns the rule of a full method name ("/pkg.Service/Method").
func Lookup(method string) (Rule, bool) {
	if r, ok := Table[method]; ok {
		return r, true
	}
	if i := strings.LastIndexByte(method, '/'); i > 0 {
		r, ok := Table[method[:i]+"/*"]
		return r, ok
	}
	return Rule{}, false
}

// Check returns nil if id may call method, else PERMISSION_DENIED saying
// why.
func Check(method string, id identity.Identity) error {
	r, ok := Lookup(method)
	if !ok {
		return errs.New(errs.PermissionDenied, "%s is not open to any caller", method)
	}
	if id.Partner {
		if r.PartnerNode && id.Role == identity.Node {
			return nil
		}
		return errs.New(errs.PermissionDenied, "%s (agency %s) may not call %s: partner agencies reach this node only through the federation API", id.ID, id.Agency, method)
	}
	for _, role := range r.Own {
		if role == id.Role {
			return nil
		}
	}
	return errs.New(errs.PermissionDenied, "role %q may not call %s", id.Role, method)
}
