// Package records is what every record kind (lead, case, manifest) does
// the same way, so that each kind's package keeps only its own rules:
//
//   - create once: a create with a request id is made at most once
//     (Create, CreateOnce);
//   - merge under a mask, with an etag check (CheckUpdate, CheckMask,
//     Merge, CheckEtag); the fields a mask may name are declared once, in
//     the request's proto, as the update_mask field's protovalidate
//     field_mask.in rule (Updatable reads them from there). A protovalidate
//     rule rather than an option of our own: the interceptor already
//     enforces it on every request, clients see it in the API contract,
//     and there is no extension to declare and register;
//   - change a record on its home node: load, home-node check (HomeOnly),
//     apply, next version, share with partners, in one transaction
//     (Kind.Change, Kind.Commit), with partners this node knows
//     (CheckPartners);
//   - list a page (Page);
//   - tombstone and share (ShareTombstone);
//   - register, apply and repair replicas (Replication.Register,
//     Replication.Apply, Upsert).
//
// The store returns records with their etag set, after reads and writes.
package records

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/federation"
	"github.com/liaison-exchange/liaison/server/ids"
)

// Record is a record of any kind: a versioned message with an id, a home
// agency (its origin) and an etag.
type Record interface {
	proto.Message
	GetId() string
	GetVersion() int64
	GetOriginAgency() string
	GetEtag() string
}

// HomeOnly refuses (FAILED_PRECONDITION, record.home_node_only, about
// resource) what only the home node of r may do, unless agency is r's
// home. The message says why, in the words of the kind.
func HomeOnly(r Record, agency, resource, format string, args ...any) error {
	if r.GetOriginAgency() == agency {
		return nil
	}
	return errs.Precondition(federation.ReasonHomeNodeOnly, resource, format, args...)
}

// isNil says whether r is the nil record (an Apply that changes nothing).
func isNil[R Record](r R) bool { return !r.ProtoReflect().IsValid() }

// Born makes r version 1 of a new record homed on agency, created at: it
// gets a new id, its home and its times.
func Born(r Record, agency string, at time.Time) {
	m := r.ProtoReflect()
	fs := m.Descriptor().Fields()
	m.Set(fs.ByName("id"), protoreflect.ValueOfString(ids.New()))
	m.Set(fs.ByName("origin_agency"), protoreflect.ValueOfString(agency))
	m.Set(fs.ByName("create_time"), protoreflect.ValueOfMessage(timestamppb.New(at).ProtoReflect()))
	stamp(r, 1, at)
}

// stamp makes r the next version of a record, changed at.
func stamp(r Record, version int64, at time.Time) {
	m := r.ProtoReflect()
	fs := m.Descriptor().Fields()
	v, t := fs.ByName("version"), fs.ByName("update_time")
	if v == nil || t == nil {
		panic(fmt.Sprintf("records: %s has no version or update_time", m.Descriptor().FullName()))
	}
	m.Set(v, protoreflect.ValueOfInt64(version))
	m.Set(t, protoreflect.ValueOfMessage(timestamppb.New(at).ProtoReflect()))
}
