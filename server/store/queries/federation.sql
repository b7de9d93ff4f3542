-- name: GetOutChannel :one
SELECT partner, last_seq, acked_seq, partner_applied_seq FROM out_channels WHERE partner = ?;

-- name: SetOutChannelProgress :exec
UPDATE out_channels
SET acked_seq = max(acked_seq, @acked_seq), partner_applied_seq = @partner_applied_seq
WHERE partner = @partner;

-- name: OutboxFrom :many
SELECT seq, envelope FROM outbox WHERE partner = ? AND seq >= ? ORDER BY seq LIMIT ?;

-- name: SetOutboxReceipt :execrows
UPDATE outbox SET receipt_status = ?, receipt_reason = ?, receipt_time = ?
WHERE partner = ? AND seq = ? AND receipt_status = 0;

-- name: GetOutboxEntry :one
SELECT partner, seq, envelope_id, kind, record_id, record_version, create_time, envelope, receipt_status
FROM outbox WHERE partner = ? AND seq = ?;

-- name: OutboxWaiting :one
SELECT count(*) AS waiting, CAST(coalesce(min(create_time), 0) AS INTEGER) AS oldest
FROM outbox WHERE partner = ? AND receipt_status = 0;

-- name: OutboxUpTo :many
SELECT seq, kind, record_id, record_version FROM outbox WHERE partner = ? AND seq <= ? ORDER BY seq;

-- name: GetInChannel :one
SELECT sender, last_applied, last_contact FROM in_channels WHERE sender = ?;

-- name: SetInChannel :exec
INSERT INTO in_channels (sender, last_applied, last_contact) VALUES (?, ?, ?)
ON CONFLICT (sender) DO UPDATE SET last_applied = excluded.last_applied, last_contact = excluded.last_contact;

-- name: InsertInboxBatch :one
INSERT INTO inbox_batches (sender, merkle_root, signature, signer_chain, receive_time)
VALUES (?, ?, ?, ?, ?) RETURNING id;

-- name: InsertInbox :exec
INSERT INTO inbox (sender, seq, envelope_id, kind, record_id, record_version, batch_id, leaf_hash, proof, envelope, status, reason_code, reason, apply_time)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: GetInbox :one
SELECT seq, envelope_id, kind, record_id, record_version, leaf_hash, status, reason_code, reason, apply_time FROM inbox WHERE sender = ? AND seq = ?;

-- name: PurgeInboxContent :exec
UPDATE inbox SET envelope = NULL WHERE record_id = ? AND seq < ? AND sender = ?;

-- name: InboxPage :many
SELECT i.sender, i.seq, i.envelope_id, i.kind, i.record_id, i.record_version, i.leaf_hash, i.proof, i.envelope, i.apply_time,
       b.merkle_root, b.signature, b.signer_chain, b.receive_time
FROM inbox i JOIN inbox_batches b ON b.id = i.batch_id
WHERE (i.sender, i.seq) > (CAST(@after_sender AS TEXT), CAST(@after_seq AS INTEGER))
ORDER BY i.sender, i.seq
LIMIT @page_limit;

-- name: LeadReplicaItems :many
SELECT id, version, CAST(body IS NULL AS INTEGER) AS tombstone FROM leads
WHERE origin_agency = @origin_agency AND id >= @from_id AND id < @to_id
ORDER BY id LIMIT @page_limit;

-- name: InsertDriftCheck :exec
INSERT INTO drift_checks (partner, time, in_step, records_compared, differences, repairs_queued, summary, error)
VALUES (?, ?, ?, ?, ?, ?, ?, ?);

-- name: LatestDriftCheck :one
SELECT partner, time, in_step, records_compared, differences, repairs_queued, summary, error
FROM drift_checks WHERE partner = ? ORDER BY id DESC LIMIT 1;

-- name: FastForwardOutChannel :exec
INSERT INTO out_channels (partner, last_seq, acked_seq, partner_applied_seq) VALUES (@partner, @last_seq, @acked, @acked)
ON CONFLICT (partner) DO UPDATE SET last_seq = excluded.last_seq, acked_seq = excluded.acked_seq, partner_applied_seq = excluded.partner_applied_seq;

-- name: UnreceiptedOutbox :many
SELECT seq, envelope FROM outbox WHERE partner = @partner AND receipt_status = 0 ORDER BY seq;

-- name: ParkUnreceiptedOutbox :exec
UPDATE outbox SET seq = -seq WHERE partner = @partner AND receipt_status = 0;

-- name: RenumberOutbox :exec
UPDATE outbox SET seq = @new_seq, envelope_id = @envelope_id, envelope = @envelope
WHERE partner = @partner AND seq = @old_seq;

-- name: StrandedOutbox :one
SELECT count(*) AS stranded, CAST(coalesce(min(seq), 0) AS INTEGER) AS first_seq FROM outbox
WHERE partner = @partner AND receipt_status = 0 AND seq <= @up_to;
