package interceptors

import (
	"testing"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

func TestResourceOf(t *testing.T) {
	t.Parallel()
	const id, other = "0b7e5a3c-0000-4000-8000-000000000001", "0b7e5a3c-0000-4000-8000-000000000002"
	tests := []struct {
		name   string
		method string
		req    any
		want   string
	}{
		{"IDNamesTheServicesCollection", "/liaison.v1.LeadService/GetLead", &liaisonv1.GetLeadRequest{Id: id}, "leads/" + id},
		{"CaseService", "/liaison.v1.CaseService/CloseCase", &liaisonv1.CloseCaseRequest{Id: id}, "cases/" + id},
		{"ManifestService", "/liaison.v1.ManifestService/GetManifest", &liaisonv1.GetManifestRequest{Id: id}, "manifests/" + id},
		{"RetentionFilesUnderLeads", "/liaison.v1.RetentionService/X", &liaisonv1.GetLeadRequest{Id: id}, "leads/" + id},
		{"CaseIDField", "/liaison.v1.CaseService/AddCaseEntry", &liaisonv1.AddCaseEntryRequest{CaseId: id}, "cases/" + id},
		{"CaseIDBeforeLeadID", "/liaison.v1.CaseService/LinkLead", &liaisonv1.LinkLeadRequest{CaseId: id, LeadId: other}, "cases/" + id},
		{"ManifestIDField", "/liaison.v1.ManifestService/RemovePerson", &liaisonv1.RemovePersonRequest{ManifestId: id, PersonId: other}, "manifests/" + id},
		{"RecordIDFilesUnderLeads", "/liaison.v1.AuditService/ListAuditEvents", &liaisonv1.ListAuditEventsRequest{RecordId: id}, "leads/" + id},
		{"EmbeddedLead", "/liaison.v1.LeadService/UpdateLead", &liaisonv1.UpdateLeadRequest{Lead: &liaisonv1.Lead{Id: id}}, "leads/" + id},
		{"EmbeddedCase", "/liaison.v1.CaseService/UpdateCase", &liaisonv1.UpdateCaseRequest{Case: &liaisonv1.Case{Id: id}}, "cases/" + id},
		{"EmbeddedRecordWithoutID", "/liaison.v1.LeadService/CreateLead", &liaisonv1.CreateLeadRequest{Lead: &liaisonv1.Lead{}}, ""},
		{"NoEmbeddedRecord", "/liaison.v1.LeadService/CreateLead", &liaisonv1.CreateLeadRequest{}, ""},
		{"EmptyID", "/liaison.v1.LeadService/GetLead", &liaisonv1.GetLeadRequest{}, ""},
		{"IDOfAServiceWithoutCollection", "/liaison.v1.NoSuchService/Get", &liaisonv1.GetLeadRequest{Id: id}, ""},
		{"NoIDField", "/liaison.v1.AuditService/VerifyAuditLog", &liaisonv1.VerifyAuditLogRequest{}, ""},
		{"NotAMessage", "/liaison.v1.LeadService/GetLead", "a string", ""},
		{"StreamWithoutRequest", "/liaison.v1.FederationService/Exchange", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for range 2 { // the method's plan worked out, then reused
				if got := resourceOf(tc.method, tc.req); got != tc.want {
					t.Errorf("resourceOf(%s, %v) = %q, want %q", tc.method, tc.req, got, tc.want)
				}
			}
		})
	}
}
