package records

import (
	"context"

	"google.golang.org/protobuf/proto"

	"github.com/liaison-exchange/liaison/server/store"
)

// Request is a create call as its request id keys it: the method, the
// caller's request id ("" for none) and the fingerprint of what it asked.
type Request struct {
	Method, ID string
	Hash       []byte
}

// NewRequest fingerprints payload, what a create with request id asks for.
func NewRequest(method, id string, payload proto.Message) (Request, error) {
	hash, err := store.RequestHash(payload)
	if err != nil {
		return Request{}, err
	}
	return Request{Method: method, ID: id, Hash: hash}, nil
}

// Seen returns the id of the record an earlier call with this request id
// created, or "" if there was none (or the request has no id). An id
// used before for another payload is ALREADY_EXISTS.
func (r Request) Seen(tx *store.Tx) (string, error) {
	if r.ID == "" {
		return "", nil
	}
	return tx.SeenRequest(r.Method, r.ID, r.Hash)
}

// Remember records that this request created the record id.
func (r Request) Remember(tx *store.Tx, id string) error {
	if r.ID == "" {
		return nil
	}
	return tx.RememberRequest(r.Method, r.ID, r.Hash, id)
}

// CreateOnce creates a record at most once per request id, in tx: if an
// earlier call with the request's id created one, it is read (read) and
// returned as it is now; otherwise create makes it, and the request is
// remembered as the one that created it.
func CreateOnce[R interface{ GetId() string }](tx *store.Tx, r Request, read func(id string) (R, error), create func() (R, error)) (R, error) {
	prior, err := r.Seen(tx)
	if err != nil {
		var zero R
		return zero, err
	}
	if prior != "" {
		return read(prior)
	}
	out, err := create()
	if err != nil {
		return out, err
	}
	return out, r.Remember(tx, out.GetId())
}

// Create is CreateOnce in a write of its own: read and create run in its
// transaction.
func Create[R interface{ GetId() string }](ctx context.Context, st *store.Store, r Request, read func(tx *store.Tx, id string) (R, error), create func(tx *store.Tx) (R, error)) (R, error) {
	var out R
	err := st.Write(ctx, func(tx *store.Tx) error {
		var err error
		out, err = CreateOnce(tx, r, func(id string) (R, error) { return read(tx, id) }, func() (R, error) { return create(tx) })
		return err
	})
	if err != nil {
		var zero R
		return zero, err
	}
	return out, nil
}
