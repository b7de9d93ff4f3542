-- name: NextOutSeq :one
INSERT INTO out_channels (partner, last_seq) VALUES (?, 1)
ON CONFLICT (partner) DO UPDATE SET last_seq = last_seq + 1
RETURNING last_seq;

-- name: InsertOutbox :exec
INSERT INTO outbox (partner, seq, envelope_id, kind, record_id, record_version, create_time, envelope)
VALUES (?, ?, ?, ?, ?, ?, ?, ?);

-- name: ListOutboxForRecord :many
SELECT partner, seq, envelope_id, kind, record_version, create_time, receipt_status, receipt_reason, receipt_time
FROM outbox WHERE record_id = ? ORDER BY partner, seq;
