-- name: InsertManifest :exec
INSERT INTO manifests (id, origin_agency, receiving_agency, state, version, create_time, update_time, body)
VALUES (?, ?, ?, ?, ?, ?, ?, ?);

-- name: UpdateManifest :execrows
UPDATE manifests SET state = @state, version = @version, update_time = @update_time, body = @body
WHERE id = @id AND version = @prev_version;

-- name: OverwriteManifest :execrows
UPDATE manifests SET origin_agency = @origin_agency, receiving_agency = @receiving_agency, state = @state,
    version = @version, update_time = @update_time, body = @body
WHERE id = @id;

-- name: GetManifest :one
SELECT body FROM manifests WHERE id = ?;

-- name: ListManifests :many
SELECT id, body FROM manifests
WHERE (CAST(@state AS INTEGER) = 0 OR state = @state)
  AND (CAST(@origin_agency AS TEXT) = '' OR origin_agency = @origin_agency)
  AND (CAST(@receiving_agency AS TEXT) = '' OR receiving_agency = @receiving_agency)
  AND (CAST(@before_id AS TEXT) = '' OR id < CAST(@before_id AS TEXT))
ORDER BY id DESC
LIMIT @page_limit;

-- name: ManifestReplicaItems :many
SELECT id, version, 0 AS tombstone FROM manifests
WHERE origin_agency = @origin_agency AND id >= @from_id AND id < @to_id
ORDER BY id LIMIT @page_limit;

-- name: PutScreening :exec
INSERT INTO manifest_screenings (manifest_id, person_id, body) VALUES (?, ?, ?)
ON CONFLICT (manifest_id, person_id) DO UPDATE SET body = excluded.body;

-- name: ManifestScreenings :many
SELECT person_id, body FROM manifest_screenings WHERE manifest_id = ?;

-- name: DeleteScreening :exec
DELETE FROM manifest_screenings WHERE manifest_id = ? AND person_id = ?;

-- name: InsertManifestNote :exec
INSERT INTO manifest_notes (manifest_id, time, agency, principal, action, person_id, note, state)
VALUES (?, ?, ?, ?, ?, ?, ?, ?);

-- name: ManifestNotes :many
SELECT time, agency, principal, action, person_id, note, state FROM manifest_notes WHERE manifest_id = ? ORDER BY id;

-- name: PutManifestAction :exec
INSERT INTO manifest_actions (id, manifest_id, person_id, kind, state, reason, create_time, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET state = excluded.state, reason = excluded.reason;

-- name: GetManifestAction :one
SELECT id, manifest_id, person_id, kind, state, reason, create_time, body FROM manifest_actions WHERE id = ?;

-- name: ManifestActions :many
SELECT id, manifest_id, person_id, kind, state, reason, create_time, body FROM manifest_actions WHERE manifest_id = ? ORDER BY create_time;

-- name: OwnManifests :many
SELECT id, body FROM manifests WHERE origin_agency = ? ORDER BY id;

-- name: PutSeparation :exec
INSERT INTO person_separations (manifest_id, person_id, other_manifest_id, other_person_id, time, principal, reason)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT DO NOTHING;

-- name: SeparationsOfManifest :many
SELECT person_id, other_manifest_id, other_person_id FROM person_separations WHERE manifest_id = ?;
