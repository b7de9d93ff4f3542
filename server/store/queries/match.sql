-- name: MatchEpochs :many
-- Every epoch this node publishes to a partner, newest first.
SELECT * FROM match_epochs WHERE partner = ? ORDER BY epoch DESC;

-- name: InsertMatchEpoch :exec
INSERT INTO match_epochs (partner, epoch, index_id, start_time, feed_cursor, scanned, version, complete_sent)
VALUES (?, ?, ?, ?, ?, 0, 0, 0);

-- name: UpdateMatchEpoch :exec
UPDATE match_epochs SET feed_cursor = ?, scanned = ?, version = ?, complete_sent = ?
WHERE partner = ? AND epoch = ?;

-- name: DeleteMatchEpochData :exec
-- An epoch the partner has replaced: its entries go (the epoch row stays,
-- so its number is never used again).
DELETE FROM match_entries WHERE partner = @partner AND epoch = @epoch;

-- name: DeleteMatchEpochPublished :exec
DELETE FROM match_published WHERE partner = @partner AND epoch = @epoch;

-- name: MatchRecordEntries :many
SELECT entry FROM match_entries WHERE partner = ? AND epoch = ? AND record_kind = ? AND record_id = ?;

-- name: DeleteMatchRecordEntries :exec
DELETE FROM match_entries WHERE partner = ? AND epoch = ? AND record_kind = ? AND record_id = ?;

-- name: InsertMatchEntry :exec
INSERT OR IGNORE INTO match_entries (partner, epoch, record_kind, record_id, entry, key_kind) VALUES (?, ?, ?, ?, ?, ?);

-- name: MarkMatchDirty :exec
INSERT OR IGNORE INTO match_dirty (partner, epoch, entry) VALUES (?, ?, ?);

-- name: MatchDirty :many
-- Changed entries, with whether an own record still gives the entry and
-- whether the partner has it.
SELECT d.entry,
       EXISTS (SELECT 1 FROM match_entries e WHERE e.partner = d.partner AND e.epoch = d.epoch AND e.entry = d.entry) AS wanted,
       EXISTS (SELECT 1 FROM match_published p WHERE p.partner = d.partner AND p.epoch = d.epoch AND p.entry = d.entry) AS published
FROM match_dirty d WHERE d.partner = ? AND d.epoch = ? ORDER BY d.entry LIMIT ?;

-- name: ClearMatchDirty :exec
DELETE FROM match_dirty WHERE partner = ? AND epoch = ? AND entry = ?;

-- name: InsertMatchPublished :exec
INSERT OR IGNORE INTO match_published (partner, epoch, entry) VALUES (?, ?, ?);

-- name: DeleteMatchPublished :exec
DELETE FROM match_published WHERE partner = ? AND epoch = ? AND entry = ?;

-- name: CountMatchEntries :one
-- An epoch's entries sent and waiting to be sent, in one statement and so
-- one snapshot: an entry moves from one to the other as it is sent.
SELECT (SELECT count(*) FROM match_published p WHERE p.partner = @partner AND p.epoch = @epoch) AS published,
       (SELECT count(*) FROM match_dirty d WHERE d.partner = @partner AND d.epoch = @epoch) AS pending;

-- name: HasMatchDirty :one
SELECT EXISTS (SELECT 1 FROM match_dirty WHERE partner = ? AND epoch = ?);


-- name: MatchRecordsOfEntry :many
-- The own records that give an entry: what a follow-up's token resolves to.
SELECT DISTINCT record_kind, record_id FROM match_entries WHERE partner = ? AND epoch = ? AND entry = ? ORDER BY record_kind, record_id;

-- name: SetMatchDiscoverability :exec
INSERT INTO match_discoverability (record_id, partner, discoverable) VALUES (?, ?, ?)
ON CONFLICT (record_id, partner) DO UPDATE SET discoverable = excluded.discoverable;

-- name: MatchDiscoverability :many
SELECT partner, discoverable FROM match_discoverability WHERE record_id = ?;

-- name: AddMatchBudget :one
INSERT INTO match_budget (partner, day, used) VALUES (?, ?, ?)
ON CONFLICT (partner, day) DO UPDATE SET used = used + excluded.used
RETURNING used;

-- name: MatchBudgetUsed :one
SELECT CAST(coalesce((SELECT used FROM match_budget WHERE partner = ? AND day = ?), 0) AS INTEGER);

-- name: OwnLeadsAfter :many
SELECT id, body FROM leads WHERE origin_agency = ? AND id > ? AND body IS NOT NULL ORDER BY id LIMIT ?;

-- name: OwnCasesAfter :many
SELECT id, body FROM cases WHERE origin_agency = ? AND id > ? ORDER BY id LIMIT ?;

-- name: OwnManifestsAfter :many
SELECT id, body FROM manifests WHERE origin_agency = ? AND id > ? ORDER BY id LIMIT ?;

-- name: MatchRemoteIndex :one
SELECT * FROM match_remote_indexes WHERE index_id = ?;

-- name: MatchRemoteIndexes :many
-- A holder's indexes held here, newest epoch first.
SELECT * FROM match_remote_indexes WHERE holder = ? ORDER BY epoch DESC;

-- name: UpsertMatchRemoteIndex :exec
INSERT INTO match_remote_indexes (index_id, holder, epoch, public_key, version, complete, update_time)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (index_id) DO UPDATE SET version = excluded.version, complete = excluded.complete, update_time = excluded.update_time;

-- name: DeleteMatchRemoteIndex :exec
DELETE FROM match_remote_indexes WHERE index_id = ?;

-- name: DeleteMatchRemoteEntries :exec
DELETE FROM match_remote_entries WHERE index_id = ?;

-- name: InsertMatchRemoteEntry :exec
INSERT OR IGNORE INTO match_remote_entries (index_id, entry) VALUES (?, ?);

-- name: DeleteMatchRemoteEntry :exec
DELETE FROM match_remote_entries WHERE index_id = ? AND entry = ?;

-- name: HasMatchRemoteEntry :one
SELECT EXISTS (SELECT 1 FROM match_remote_entries WHERE index_id = ? AND entry = ?);

-- name: MatchRemoteEntriesAmong :many
-- The entries are a JSON array of hex strings, so that the statement's
-- text is the same for any number of them and is prepared once.
SELECT entry FROM match_remote_entries
WHERE index_id = sqlc.arg(index_id) AND entry IN (SELECT unhex(value) FROM json_each(sqlc.arg(entries_json)));

-- name: CountMatchRemoteEntries :one
SELECT count(*) FROM match_remote_entries WHERE index_id = ?;

-- name: UpsertMatchFollowUp :exec
INSERT INTO match_follow_ups (id, querier, holder, status, due_time, body) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET status = excluded.status, body = excluded.body;

-- name: GetMatchFollowUp :one
SELECT body FROM match_follow_ups WHERE id = ?;

-- name: ListMatchFollowUps :many
-- Pending first (overdue first among them), then the decided, newest first.
SELECT id, body FROM match_follow_ups
WHERE (CAST(@querier AS TEXT) = '' OR querier = @querier)
  AND (CAST(@not_querier AS TEXT) = '' OR querier != @not_querier)
  AND (CAST(@status AS INTEGER) = 0 OR status = @status)
ORDER BY status != 1, due_time, id
LIMIT @page_limit OFFSET @page_offset;
