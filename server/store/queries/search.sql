-- The full-text MATCH queries are in server/store/search.go: sqlc's SQLite
-- parser does not know FTS5's hidden columns. Everything else is here.

-- name: PersonRowsOfRecord :many
SELECT id, tokens FROM person_index WHERE record_kind = ? AND record_id = ?;

-- name: DeletePersonsOfRecord :exec
DELETE FROM person_index WHERE record_kind = ? AND record_id = ?;

-- name: InsertPerson :one
INSERT INTO person_index (record_kind, record_id, record_title, origin_agency, dob_year, dob_month, dob_day, tokens, person)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id;

-- name: InsertPersonIdentifier :exec
INSERT INTO person_identifiers (kind, value, person_row) VALUES (?, ?, ?) ON CONFLICT DO NOTHING;

-- name: GetMeta :one
SELECT value FROM meta WHERE key = ?;

-- name: SetMeta :exec
INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value;
