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

-- name: InsertReceiptBatch :one
INSERT INTO receipt_batches (partner, merkle_root, highest_applied, signature, signer_chain, receive_time)
VALUES (?, ?, ?, ?, ?, ?) RETURNING id;

-- name: InsertOutboxReceipt :exec
INSERT INTO outbox_receipts (partner, seq, receipt_batch_id, receipt, proof) VALUES (?, ?, ?, ?, ?);

-- name: HasOutboxReceipt :one
SELECT count(*) FROM outbox_receipts WHERE partner = ? AND seq = ?;

-- name: ReceiptEvidence :many
SELECT o.seq, o.envelope, o.receipt_status,
       r.receipt, r.proof, b.merkle_root, b.highest_applied, b.signature, b.signer_chain, b.receive_time
FROM outbox o
LEFT JOIN outbox_receipts r ON r.partner = o.partner AND r.seq = o.seq
LEFT JOIN receipt_batches b ON b.id = r.receipt_batch_id
WHERE o.record_id = @record_id AND o.partner = @partner
ORDER BY o.seq;
