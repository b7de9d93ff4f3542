-- name: InsertLead :exec
INSERT INTO leads (id, origin_agency, status, crime_mask, handling_code, version, create_time, update_time, review_date, body)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: UpdateLead :execrows
UPDATE leads
SET status = @status, crime_mask = @crime_mask, handling_code = @handling_code, version = @version,
    update_time = @update_time, review_date = @review_date, body = @body
WHERE id = @id AND version = @prev_version;

-- name: GetLead :one
SELECT id, origin_agency, status, version, create_time, update_time, body FROM leads WHERE id = ?;

-- name: ListLeads :many
SELECT id, origin_agency, status, version, create_time, update_time, body FROM leads
WHERE (CAST(@status AS INTEGER) = 0 OR status = @status)
  AND (CAST(@crime_mask AS INTEGER) = 0 OR (crime_mask & CAST(@crime_mask AS INTEGER)) != 0)
  AND (CAST(@origin_agency AS TEXT) = '' OR origin_agency = @origin_agency)
  AND update_time > CAST(@updated_after AS INTEGER)
  AND (CAST(@before_id AS TEXT) = '' OR id < CAST(@before_id AS TEXT))
ORDER BY id DESC
LIMIT @page_limit;

-- name: GetIdempotencyKey :one
SELECT request_hash, resource_id FROM idempotency_keys WHERE method = ? AND request_id = ?;

-- name: InsertIdempotencyKey :exec
INSERT INTO idempotency_keys (method, request_id, request_hash, resource_id, create_time) VALUES (?, ?, ?, ?, ?);

-- name: OverwriteLead :execrows
UPDATE leads
SET origin_agency = @origin_agency, status = @status, crime_mask = @crime_mask, handling_code = @handling_code,
    version = @version, update_time = @update_time, review_date = @review_date, body = @body
WHERE id = @id;
