-- name: AppendFeed :exec
-- No RETURNING: nothing reads the cursor back, and a RETURNING insert is
-- run as a query (a statement to step through and reset) on every change.
INSERT INTO feed (time, kind, record_id, version, origin_agency, action)
VALUES (?, ?, ?, ?, ?, ?);

-- name: FeedAfter :many
-- The record is attached as it is now (kinds: 1 lead, 2 case, 3 case
-- entry, 4 manifest); a tombstone has none.
SELECT f.seq, f.time, f.kind, f.record_id, f.version, f.origin_agency, f.action,
       CAST(CASE f.kind
           WHEN 1 THEN (SELECT l.body FROM leads l WHERE l.id = f.record_id)
           WHEN 2 THEN (SELECT c.body FROM cases c WHERE c.id = f.record_id)
           WHEN 3 THEN (SELECT e.body FROM case_entries e WHERE e.id = f.record_id)
           WHEN 4 THEN (SELECT m.body FROM manifests m WHERE m.id = f.record_id)
       END AS BLOB) AS record
FROM feed f
WHERE f.seq > ? ORDER BY f.seq LIMIT ?;

-- name: FeedBounds :one
-- Each end of the primary key on its own: min() and max() in one aggregate
-- scan the whole table (73 ms on a million changes, against 20 us), and
-- every watcher asks once per page.
SELECT CAST(coalesce((SELECT seq FROM feed ORDER BY seq LIMIT 1), 0) AS INTEGER) AS oldest,
       CAST(coalesce((SELECT seq FROM feed ORDER BY seq DESC LIMIT 1), 0) AS INTEGER) AS newest;

-- name: FeedFirstSince :one
-- The first change at or after a time. It walks from the oldest change, so
-- a retention trim reads only the changes it is about to delete.
SELECT seq FROM feed WHERE time >= ? ORDER BY seq LIMIT 1;

-- name: TrimFeed :execrows
DELETE FROM feed WHERE seq <= ?;
