package interceptors

import (
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// collections name what each service's "id" refers to.
var collections = map[string]string{
	"LeadService":            "leads",
	"CaseService":            "cases",
	"ManifestService":        "manifests",
	"PermissionService":      "permission_requests",
	"AuditService":           "audit_events",
	"SearchService":          "persons",
	"FederationAdminService": "channels",
	"FederationService":      "channels",
	"ChangeFeedService":      "feed",
	"RetentionService":       "leads",
}

// refFields are request fields that name a record of a fixed collection,
// whatever the service.
var refFields = []struct{ field, collection string }{
	{"case_id", "cases"}, {"manifest_id", "manifests"}, {"record_id", "leads"}, {"lead_id", "leads"},
	{"lead", "leads"}, {"case", "cases"}, {"manifest", "manifests"},
}

// resourceOf names the record a request is aimed at — its "id", or the id
// of the record it names (case_id, the updated lead, …) — so that even a
// refused call is filed under what it targeted.
func resourceOf(method string, req any) string {
	m, ok := req.(proto.Message)
	if !ok {
		return ""
	}
	r := m.ProtoReflect()
	svc, _, _ := strings.Cut(strings.TrimPrefix(method, "/"), "/")
	if j := strings.LastIndexByte(svc, '.'); j >= 0 {
		svc = svc[j+1:]
	}
	if id := stringField(r, "id"); id != "" {
		if c, ok := collections[svc]; ok {
			return c + "/" + id
		}
	}
	for _, f := range refFields {
		fd := r.Descriptor().Fields().ByName(protoreflect.Name(f.field))
		switch {
		case fd == nil:
		case fd.Kind() == protoreflect.StringKind && !fd.IsList():
			if id := r.Get(fd).String(); id != "" {
				return f.collection + "/" + id
			}
		case fd.Kind() == protoreflect.MessageKind && !fd.IsList() && r.Has(fd):
			if id := stringField(r.Get(fd).Message(), "id"); id != "" {
				return f.collection + "/" + id
			}
		}
	}
	return ""
}

func stringField(m protoreflect.Message, name string) string {
	fd := m.Descriptor().Fields().ByName(protoreflect.Name(name))
	if fd == nil || fd.Kind() != protoreflect.StringKind || fd.IsList() {
		return ""
	}
	return m.Get(fd).String()
}
