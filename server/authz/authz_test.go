package authz_test

import (
	"slices"
	"strings"
	"testing"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/authz"
	"github.com/liaison-exchange/liaison/server/identity"
)

// TestTable_AuditorReachesAuditLogOnly: DESIGN.md gives auditors the audit
// log and nothing else. Health and reflection are open to every principal
// of the own agency and say nothing about records.
func TestTable_AuditorReachesAuditLogOnly(t *testing.T) {
	t.Parallel()
	infra := []string{"/grpc.health.v1.Health/", "/grpc.reflection.v1.ServerReflection/", "/grpc.reflection.v1alpha.ServerReflection/"}
	audit := "/" + liaisonv1.AuditService_ServiceDesc.ServiceName + "/"
	for method, rule := range authz.Table {
		if !slices.Contains(rule.Own, identity.Auditor) {
			continue
		}
		if strings.HasPrefix(method, audit) || slices.ContainsFunc(infra, func(p string) bool { return strings.HasPrefix(method, p) }) {
			continue
		}
		t.Errorf("the auditor may call %s; auditors reach the audit log only", method)
	}
}

// TestTable_RetentionIsForSupervisors: the purge preview lists lead titles
// and what a supervisor is about to delete: supervisors only.
func TestTable_RetentionIsForSupervisors(t *testing.T) {
	t.Parallel()
	for _, m := range []string{liaisonv1.RetentionService_PreviewPurge_FullMethodName, liaisonv1.RetentionService_RunPurge_FullMethodName} {
		r, ok := authz.Lookup(m)
		if !ok || !slices.Equal(r.Own, []identity.Role{identity.Supervisor}) || r.PartnerNode {
			t.Errorf("%s: rule %+v, want supervisors of the own agency only", m, r)
		}
	}
}
