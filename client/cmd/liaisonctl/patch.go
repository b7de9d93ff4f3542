package main

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// What the commands that create and update records (leads, cases, case
// entries) share: patches read from a file, and idempotency keys.

// readPatch reads the patch of an update command from file into m (a Lead
// or a Case: a message with fields id and etag) and returns its field
// mask, the fields named by the patch's top-level keys. m's id becomes id
// (a patch naming another record is an error); its etag becomes etag if
// given, else stays the patch's, else is the record's current one, read
// through currentEtag.
func (c *cli) readPatch(file, id, etag string, m proto.Message, currentEtag func() (string, error)) (*fieldmaskpb.FieldMask, error) {
	raw, err := c.readProtoJSON(file, m)
	if err != nil {
		return nil, err
	}
	r := m.ProtoReflect()
	fields := r.Descriptor().Fields()
	paths, err := updateMask(raw, r.Descriptor())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	idField, etagField := fields.ByName("id"), fields.ByName("etag")
	if got := r.Get(idField).String(); got != "" && got != id {
		return nil, fmt.Errorf("%s: the patch has id %s, not %s", file, got, id)
	}
	r.Set(idField, protoreflect.ValueOfString(id))
	if etag != "" {
		r.Set(etagField, protoreflect.ValueOfString(etag))
	}
	if r.Get(etagField).String() == "" {
		cur, err := currentEtag()
		if err != nil {
			return nil, err
		}
		r.Set(etagField, protoreflect.ValueOfString(cur))
	}
	return &fieldmaskpb.FieldMask{Paths: paths}, nil
}

// updateMask is the field mask of a patch of a message of type md: the
// proto names of its top-level JSON keys (JSON or proto spelling), in
// field-number order. "id" and "etag" say which record and version the
// patch applies to and are not fields to change.
func updateMask(patch []byte, md protoreflect.MessageDescriptor) ([]string, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(patch, &top); err != nil {
		return nil, err
	}
	fields := md.Fields()
	var fds []protoreflect.FieldDescriptor
	for key := range top {
		fd := fields.ByJSONName(key)
		if fd == nil {
			fd = fields.ByName(protoreflect.Name(key))
		}
		if fd == nil {
			return nil, fmt.Errorf("unknown field %q", key)
		}
		if fd.Name() == "id" || fd.Name() == "etag" {
			continue
		}
		fds = append(fds, fd)
	}
	if len(fds) == 0 {
		return nil, fmt.Errorf("the patch names no field to change")
	}
	slices.SortFunc(fds, func(a, b protoreflect.FieldDescriptor) int { return int(a.Number() - b.Number()) })
	paths := make([]string, len(fds))
	for i, fd := range fds {
		paths[i] = string(fd.Name())
	}
	return paths, nil
}

// idempotencyKey is the idempotency key of a call that creates something: the
// --request-id given, which must be a UUID, or else a new UUIDv7.
func idempotencyKey(given string) (string, error) {
	if given == "" {
		return uuid.Must(uuid.NewV7()).String(), nil
	}
	if _, err := uuid.Parse(given); err != nil {
		return "", usageErrorf("--request-id %q is not a UUID", given)
	}
	return given, nil
}

// retryNote adds to the failure of a call made with idempotency key id,
// if it may not have taken effect, how to repeat it safely: what says
// what may or may not have happened ("the lead may or may not have been
// created").
func retryNote(err error, what, id string) error {
	if err == nil || !retryable(err) {
		return err
	}
	return &noteError{err, []string{fmt.Sprintf("%s: repeat with --request-id %s to retry safely", what, id)}}
}
