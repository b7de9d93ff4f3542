-- name: InsertAuditEvent :exec
INSERT INTO audit_events (seq, time, agency, principal, role, action, resource, outcome, request_id, detail, hash, salt, content_hash)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: GetAuditHead :one
SELECT seq, hash FROM audit_head WHERE id = 1;

-- name: SetAuditHead :exec
INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?)
ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash;

-- name: ListAuditEvents :many
SELECT seq, time, agency, principal, role, action, resource, outcome, request_id, detail, hash, salt, content_hash, erase_time FROM audit_events
WHERE (CAST(@before_seq AS INTEGER) = 0 OR seq < CAST(@before_seq AS INTEGER))
  AND (CAST(@agency AS TEXT) = '' OR agency = @agency)
  AND (CAST(@principal AS TEXT) = '' OR principal = @principal)
  AND (CAST(@action AS TEXT) = '' OR action = @action)
  AND (CAST(@resource AS TEXT) = '' OR resource = @resource)
  AND (CAST(@outcome AS TEXT) = '' OR outcome = @outcome)
  AND time >= CAST(@start_time AS INTEGER)
  AND (CAST(@end_time AS INTEGER) = 0 OR time < CAST(@end_time AS INTEGER))
ORDER BY seq DESC
LIMIT @page_limit;

-- name: CountAuditEvents :one
SELECT count(*) FROM audit_events;

-- name: InsertAuditTreeHash :exec
INSERT INTO audit_tree (id, hash) VALUES (?, ?);

-- name: GetAuditTreeHash :one
SELECT hash FROM audit_tree WHERE id = ?;

-- name: AuditEventsToBackfill :many
SELECT seq, time, agency, principal, role, action, resource, outcome, request_id, detail, hash, salt, content_hash, erase_time FROM audit_events
WHERE content_hash = x'' ORDER BY seq LIMIT ?;

-- name: SetAuditContentHash :exec
UPDATE audit_events SET salt = ?, content_hash = ? WHERE seq = ?;

-- name: AuditLeavesFrom :many
SELECT seq, time, agency, principal, role, action, resource, outcome, request_id, detail, hash, salt, content_hash, erase_time
FROM audit_events WHERE seq >= ? ORDER BY seq LIMIT ?;

-- name: InsertAuditCheckpoint :exec
INSERT INTO audit_checkpoints (size, root, time, note) VALUES (?, ?, ?, ?);

-- name: LatestAuditCheckpoint :one
SELECT size, root, time, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1;

-- name: GetAuditCheckpoint :one
SELECT size, root, time, note FROM audit_checkpoints WHERE size = ?;

-- name: SetAuditCheckpointNote :exec
UPDATE audit_checkpoints SET note = ? WHERE size = ?;

-- name: ListAuditCheckpoints :many
SELECT size, root, time, note FROM audit_checkpoints ORDER BY size;

-- name: GetAuditLeaf :one
SELECT seq, time, agency, principal, role, action, resource, outcome, request_id, detail, hash, salt, content_hash, erase_time
FROM audit_events WHERE seq = ?;

-- name: EraseAuditContent :execrows
-- The detail of events of an action older than a time: the salt goes with
-- it, the content hash (the leaf) stays.
UPDATE audit_events SET detail = '', salt = NULL, erase_time = @erase_time
WHERE action = @action AND time < @before AND erase_time = 0;

-- name: InsertAuditRecords :exec
-- The ids come as one JSON array: one statement for a page of a thousand.
INSERT INTO audit_records (record_id, seq)
SELECT value, CAST(@seq AS INTEGER) FROM json_each(CAST(@ids AS TEXT));

-- name: ListAuditEventsByRecord :many
-- Events that returned the record (audit_records) or were aimed at it
-- (their resource, "<collection>/<id>"), each found through an index.
SELECT seq, time, agency, principal, role, action, resource, outcome, request_id, detail, hash, salt, content_hash, erase_time FROM audit_events
WHERE seq IN (
    SELECT r.seq FROM audit_records r WHERE r.record_id = @record_id
    UNION
    SELECT e.seq FROM audit_events e WHERE e.resource IN (
        'leads/' || @record_id, 'cases/' || @record_id, 'manifests/' || @record_id, 'permission_requests/' || @record_id)
)
  AND (CAST(@before_seq AS INTEGER) = 0 OR seq < CAST(@before_seq AS INTEGER))
  AND (CAST(@agency AS TEXT) = '' OR agency = @agency)
  AND (CAST(@principal AS TEXT) = '' OR principal = @principal)
  AND (CAST(@action AS TEXT) = '' OR action = @action)
  AND (CAST(@resource AS TEXT) = '' OR resource = @resource)
  AND (CAST(@outcome AS TEXT) = '' OR outcome = @outcome)
  AND time >= CAST(@start_time AS INTEGER)
  AND (CAST(@end_time AS INTEGER) = 0 OR time < CAST(@end_time AS INTEGER))
ORDER BY seq DESC
LIMIT @page_limit;

-- name: AuditRecordsBetween :many
-- The record lists of events first..last, for the verification.
SELECT seq, record_id FROM audit_records
WHERE seq >= @first AND seq <= @last ORDER BY seq, record_id;

-- name: CountAuditRecords :one
SELECT count(*) FROM audit_records;
