package records

import (
	"fmt"
	"strings"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/ids"
)

// maskField is the field of an update request naming what it changes.
const maskField = "update_mask"

// Updatable are the fields of its record an update request may name in
// its update_mask: the list of the field's protovalidate field_mask.in
// rule, where the updatable fields of a kind are declared. A request
// without that rule can update nothing.
func Updatable(req protoreflect.MessageDescriptor) []string {
	fd := req.Fields().ByName(maskField)
	if fd == nil {
		return nil
	}
	rules, _ := proto.GetExtension(fd.Options(), validate.E_Field).(*validate.FieldRules)
	return rules.GetFieldMask().GetIn()
}

// CheckMask checks the update_mask of an update request: it names at least
// one field, and each a top-level field the request's rule allows (the
// rule itself lets a path under an allowed field pass; a merge replaces
// whole fields). It returns the violations, at update_mask or at the
// paths that break it.
func CheckMask(req proto.Message, paths []string) []errs.FieldViolation {
	if len(paths) == 0 {
		return []errs.FieldViolation{{Field: maskField, Description: "name at least one field to update"}}
	}
	allowed := Updatable(req.ProtoReflect().Descriptor())
	var bad []errs.FieldViolation
	for i, p := range paths {
		ok := false
		for _, a := range allowed {
			ok = ok || p == a
		}
		if !ok {
			bad = append(bad, errs.FieldViolation{Field: fmt.Sprintf("%s.paths[%d]", maskField, i),
				Description: fmt.Sprintf("%q cannot be updated (updatable: %s)", p, strings.Join(allowed, ", "))})
		}
	}
	return bad
}

// Merge returns a copy of cur with the fields paths name (checked by
// CheckMask) as they are in patch: set where patch sets them, cleared
// where it does not. The copy shares nothing with patch.
func Merge[R proto.Message](cur, patch R, paths []string) R {
	merged := proto.Clone(cur).(R)
	src, dst := patch.ProtoReflect(), merged.ProtoReflect()
	for _, p := range paths {
		fd := dst.Descriptor().Fields().ByName(protoreflect.Name(p))
		if src.Has(fd) {
			dst.Set(fd, src.Get(fd))
		} else {
			dst.Clear(fd)
		}
	}
	return proto.Clone(merged).(R) // detach from the patch's lists
}

// CheckEtag refuses (ABORTED) a change based on etag when cur, the
// stored version of a record of kind noun, has another.
func CheckEtag(noun string, cur Record, etag string) error {
	if etag == cur.GetEtag() {
		return nil
	}
	return errs.New(errs.Aborted, "%s %s changed since etag %s (now version %d); read it again and reapply the change", noun, cur.GetId(), etag, cur.GetVersion())
}

// CheckUpdate checks an update request of a record of kind noun ("lead"):
// the patch names the record and the etag of the version it is based on,
// and the mask is sound (CheckMask). It returns the violations.
func CheckUpdate[R Record](noun string, patch R, req proto.Message, paths []string) []errs.FieldViolation {
	var bad []errs.FieldViolation
	if isNil(patch) {
		bad = append(bad, errs.FieldViolation{Field: noun, Description: "required"})
	} else {
		if !ids.Valid(patch.GetId()) {
			bad = append(bad, errs.FieldViolation{Field: noun + ".id", Description: "must be the UUID of the " + noun + " to update"})
		}
		if patch.GetEtag() == "" {
			bad = append(bad, errs.FieldViolation{Field: noun + ".etag", Description: "required: the etag of the version the change is based on (read the " + noun + " first)"})
		}
	}
	return append(bad, CheckMask(req, paths)...)
}
