package interceptors

import (
	"strings"
	"sync"

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
	"MatchService":           "match_follow_ups",
}

// refFields are request fields that name a record of a fixed collection,
// whatever the service.
var refFields = []struct{ field, collection string }{
	{"case_id", "cases"}, {"manifest_id", "manifests"}, {"record_id", "leads"}, {"lead_id", "leads"},
	{"lead", "leads"}, {"case", "cases"}, {"manifest", "manifests"},
}

// resourceOf names the record a request is aimed at — its "id", or the id
// of the record it names (case_id, the updated lead, …) — so that even a
// refused call is filed under what it targeted. Which fields to read
// depends only on the method and the request's type: that is worked out
// once for each (resourcePlan) and each call reads only those fields.
func resourceOf(method string, req any) string {
	m, ok := req.(proto.Message)
	if !ok {
		return ""
	}
	r := m.ProtoReflect()
	p := planFor(method, r.Descriptor())
	if p.id != nil {
		if id := r.Get(p.id).String(); id != "" {
			return p.idCollection + "/" + id
		}
	}
	for _, f := range p.refs {
		switch {
		case f.nestedID == nil:
			if id := r.Get(f.fd).String(); id != "" {
				return f.collection + "/" + id
			}
		case r.Has(f.fd):
			if id := r.Get(f.fd).Message().Get(f.nestedID).String(); id != "" {
				return f.collection + "/" + id
			}
		}
	}
	return ""
}

// resourcePlan is what resourceOf reads from one method's requests: the
// "id" field if the service has a collection, then each field of refFields
// the request has, in order (a string field, or a message field with a
// string "id").
type resourcePlan struct {
	id           protoreflect.FieldDescriptor
	idCollection string
	refs         []resourceRef
}

type resourceRef struct {
	fd         protoreflect.FieldDescriptor
	nestedID   protoreflect.FieldDescriptor // the message's "id" (nil: fd is a string)
	collection string
}

type planKey struct {
	method string
	desc   protoreflect.MessageDescriptor
}

var plans sync.Map // planKey → *resourcePlan

func planFor(method string, d protoreflect.MessageDescriptor) *resourcePlan {
	k := planKey{method, d}
	if p, ok := plans.Load(k); ok {
		return p.(*resourcePlan)
	}
	p := &resourcePlan{}
	svc, _, _ := strings.Cut(strings.TrimPrefix(method, "/"), "/")
	if j := strings.LastIndexByte(svc, '.'); j >= 0 {
		svc = svc[j+1:]
	}
	if c, ok := collections[svc]; ok {
		if fd := stringFieldOf(d, "id"); fd != nil {
			p.id, p.idCollection = fd, c
		}
	}
	for _, f := range refFields {
		fd := d.Fields().ByName(protoreflect.Name(f.field))
		switch {
		case fd == nil || fd.IsList():
		case fd.Kind() == protoreflect.StringKind:
			p.refs = append(p.refs, resourceRef{fd: fd, collection: f.collection})
		case fd.Kind() == protoreflect.MessageKind:
			if id := stringFieldOf(fd.Message(), "id"); id != nil {
				p.refs = append(p.refs, resourceRef{fd: fd, nestedID: id, collection: f.collection})
			}
		}
	}
	v, _ := plans.LoadOrStore(k, p)
	return v.(*resourcePlan)
}

// stringFieldOf is d's singular string field name (nil if none).
func stringFieldOf(d protoreflect.MessageDescriptor, name string) protoreflect.FieldDescriptor {
	fd := d.Fields().ByName(protoreflect.Name(name))
	if fd == nil || fd.Kind() != protoreflect.StringKind || fd.IsList() {
		return nil
	}
	return fd
}
