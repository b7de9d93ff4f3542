-- name: UpsertPermissionRequest :exec
INSERT INTO permission_requests (id, record_id, origin_agency, requesting_agency, purpose, status, body)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET status = excluded.status, body = excluded.body;

-- name: GetPermissionRequest :one
SELECT body FROM permission_requests WHERE id = ?;

-- name: ListPermissionRequests :many
SELECT id, body FROM permission_requests
WHERE (CAST(@requesting_agency AS TEXT) = '' OR requesting_agency = @requesting_agency)
  AND (CAST(@not_requesting_agency AS TEXT) = '' OR requesting_agency != @not_requesting_agency)
  AND (CAST(@status AS INTEGER) = 0 OR status = @status)
  AND (CAST(@record_id AS TEXT) = '' OR record_id = @record_id)
  AND (CAST(@before_id AS TEXT) = '' OR id < CAST(@before_id AS TEXT))
ORDER BY id DESC
LIMIT @page_limit;

-- name: HasPermission :one
SELECT count(*) FROM permission_requests WHERE record_id = ? AND purpose = ? AND status = ? AND requesting_agency = ?;
