package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/liaison-exchange/liaison/gen/db"
	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/errs"
)

// PutPermissionRequest inserts or replaces a permission request.
func (t *Tx) PutPermissionRequest(r *liaisonv1.PermissionRequest) error {
	body, err := marshalDet.Marshal(r)
	if err != nil {
		return err
	}
	return t.q.UpsertPermissionRequest(t.ctx, db.UpsertPermissionRequestParams{
		ID: r.GetId(), RecordID: r.GetRecordId(), OriginAgency: r.GetOriginAgency(), RequestingAgency: r.GetRequestingAgency(),
		Purpose: int64(r.GetPurpose()), Status: int64(r.GetStatus()), Body: body,
	})
}

// PermissionRequest reads a permission request inside the transaction.
func (t *Tx) PermissionRequest(id string) (*liaisonv1.PermissionRequest, error) {
	b, err := t.q.GetPermissionRequest(t.ctx, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.NotFoundf("no permission request %s", id)
	}
	if err != nil {
		return nil, err
	}
	r := &liaisonv1.PermissionRequest{}
	if err := proto.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("decode permission request %s: %w", id, err)
	}
	return r, nil
}

// PermissionFilter selects permission requests.
type PermissionFilter struct {
	// RequestedBy keeps requests made by this agency; NotRequestedBy those
	// made by others.
	RequestedBy, NotRequestedBy string
	Status                      liaisonv1.PermissionStatus
	RecordID                    string
}

// ListPermissionRequests lists requests newest first, before beforeID.
func (s *Store) ListPermissionRequests(ctx context.Context, f PermissionFilter, beforeID string, limit int) ([]*liaisonv1.PermissionRequest, error) {
	rows, err := s.rq.ListPermissionRequests(ctx, db.ListPermissionRequestsParams{
		RequestingAgency: f.RequestedBy, NotRequestingAgency: f.NotRequestedBy, Status: int64(f.Status),
		RecordID: f.RecordID, BeforeID: beforeID, PageLimit: int64(limit),
	})
	if err != nil {
		return nil, fmt.Errorf("list permission requests: %w", err)
	}
	out := make([]*liaisonv1.PermissionRequest, len(rows))
	for i, r := range rows {
		out[i] = &liaisonv1.PermissionRequest{}
		if err := proto.Unmarshal(r.Body, out[i]); err != nil {
			return nil, fmt.Errorf("decode permission request %s: %w", r.ID, err)
		}
	}
	return out, nil
}

// HasPermission says whether the originator granted this node's agency
// purpose for a record.
func (s *Store) HasPermission(ctx context.Context, recordID string, purpose liaisonv1.PermissionPurpose) (bool, error) {
	n, err := s.rq.HasPermission(ctx, db.HasPermissionParams{RecordID: recordID, Purpose: int64(purpose),
		Status: int64(liaisonv1.PermissionStatus_PERMISSION_STATUS_GRANTED), RequestingAgency: s.opts.Agency})
	if err != nil {
		return false, fmt.Errorf("read permissions: %w", err)
	}
	return n > 0, nil
}
