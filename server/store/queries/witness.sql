-- name: GetWitnessedCheckpoint :one
SELECT partner, size, root, note, time FROM witnessed_checkpoints WHERE partner = ?;

-- name: SetWitnessedCheckpoint :exec
INSERT INTO witnessed_checkpoints (partner, size, root, note, time) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (partner) DO UPDATE SET size = excluded.size, root = excluded.root, note = excluded.note, time = excluded.time;

-- name: GetForkAlarm :one
SELECT partner, first_time, last_time, refusals, reason, witnessed_size, checkpoint FROM fork_alarms WHERE partner = ?;

-- name: InsertForkAlarm :exec
INSERT INTO fork_alarms (partner, first_time, last_time, refusals, reason, witnessed_size, checkpoint)
VALUES (?, ?, ?, 1, ?, ?, ?);

-- name: RepeatForkAlarm :exec
UPDATE fork_alarms SET last_time = ?, refusals = refusals + 1 WHERE partner = ?;

-- name: GetAuditWitness :one
SELECT partner, size, time, last_error, error_time FROM audit_witnesses WHERE partner = ?;

-- name: SetAuditWitnessed :exec
INSERT INTO audit_witnesses (partner, size, time) VALUES (?, ?, ?)
ON CONFLICT (partner) DO UPDATE SET size = excluded.size, time = excluded.time, last_error = '', error_time = 0;

-- name: SetAuditWitnessError :exec
INSERT INTO audit_witnesses (partner, size, time, last_error, error_time) VALUES (?, 0, 0, ?, ?)
ON CONFLICT (partner) DO UPDATE SET last_error = excluded.last_error, error_time = excluded.error_time;
