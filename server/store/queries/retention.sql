-- name: ExpiredLeads :many
-- Own leads past their review date whose content is still held, oldest
-- review date first, after the cursor (review_date, id).
SELECT id, review_date, version, body FROM leads
WHERE origin_agency = @origin_agency
  AND review_date != '' AND review_date < CAST(@before AS TEXT)
  AND body IS NOT NULL
  AND (review_date, id) > (CAST(@after_date AS TEXT), CAST(@after_id AS TEXT))
ORDER BY review_date, id
LIMIT @page_limit;

-- name: GetExpiredLead :one
SELECT id, origin_agency, status, version, create_time, update_time, review_date, body FROM leads
WHERE id = @id AND origin_agency = @origin_agency
  AND review_date != '' AND review_date < CAST(@before AS TEXT)
  AND body IS NOT NULL;

-- name: DeliveredEnvelopesOfRecord :many
SELECT partner, seq, envelope FROM outbox
WHERE record_id = @record_id AND kind = @kind AND receipt_status != 0;

-- name: UndeliveredEnvelopesOfRecord :one
SELECT count(*) FROM outbox
WHERE record_id = @record_id AND kind = @kind AND receipt_status = 0;

-- name: SetOutboxEnvelope :exec
UPDATE outbox SET envelope = @envelope WHERE partner = @partner AND seq = @seq;

-- name: ListMetaKeys :many
-- Keys strictly between @after and @before, in order.
SELECT key FROM meta WHERE key > CAST(@after AS TEXT) AND key < CAST(@before AS TEXT) ORDER BY key LIMIT @page_limit;

-- name: DeleteMeta :exec
DELETE FROM meta WHERE key = ?;
