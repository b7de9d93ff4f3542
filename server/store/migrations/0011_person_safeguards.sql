-- 0011: person-level safeguards, on the sending node only. Persons on this
-- node's manifests are linked to one individual by their identifiers when
-- the safeguards are checked (server/manifests/individuals.go); what a
-- supervisor decides about a possible match is kept here.

-- Two persons on this node's manifests whom the matching rules hold for a
-- possible match (same name and birth year, no document in common) and a
-- supervisor found to be different people. Stored in both directions.
CREATE TABLE person_separations (
    manifest_id       TEXT    NOT NULL,
    person_id         TEXT    NOT NULL,
    other_manifest_id TEXT    NOT NULL,
    other_person_id   TEXT    NOT NULL,
    time              INTEGER NOT NULL,
    principal         TEXT    NOT NULL,
    reason            TEXT    NOT NULL,
    PRIMARY KEY (manifest_id, person_id, other_manifest_id, other_person_id)
) STRICT, WITHOUT ROWID;
