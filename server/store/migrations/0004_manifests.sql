-- 0004: transfer manifests. The manifest body (liaison.v1.Manifest) is
-- what both nodes may hold; screenings and the sending node's notes live
-- in their own tables, which nothing ever sends to a partner.

CREATE TABLE manifests (
    id               TEXT    NOT NULL PRIMARY KEY,
    origin_agency    TEXT    NOT NULL, -- the sending agency: the home node
    receiving_agency TEXT    NOT NULL,
    state            INTEGER NOT NULL, -- liaison.v1.ManifestState
    version          INTEGER NOT NULL,
    create_time      INTEGER NOT NULL,
    update_time      INTEGER NOT NULL,
    body             BLOB    NOT NULL
) STRICT;

CREATE INDEX manifests_by_state ON manifests (state, id);
CREATE INDEX manifests_by_origin ON manifests (origin_agency, id);

-- Protection screenings: sending node only.
CREATE TABLE manifest_screenings (
    manifest_id TEXT NOT NULL REFERENCES manifests (id),
    person_id   TEXT NOT NULL,
    body        BLOB NOT NULL, -- liaison.v1.Screening
    PRIMARY KEY (manifest_id, person_id)
) STRICT, WITHOUT ROWID;

-- Notes this node keeps for itself in a manifest's history: reasons for
-- withdrawals and holds, screenings recorded. Never sent.
CREATE TABLE manifest_notes (
    id          INTEGER NOT NULL PRIMARY KEY,
    manifest_id TEXT    NOT NULL REFERENCES manifests (id),
    time        INTEGER NOT NULL,
    agency      TEXT    NOT NULL,
    principal   TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    person_id   TEXT    NOT NULL,
    note        TEXT    NOT NULL,
    state       INTEGER NOT NULL
) STRICT;

CREATE INDEX manifest_notes_by_manifest ON manifest_notes (manifest_id, id);

-- The receiving node's own actions and what became of them.
CREATE TABLE manifest_actions (
    id          TEXT    NOT NULL PRIMARY KEY,
    manifest_id TEXT    NOT NULL,
    person_id   TEXT    NOT NULL,
    kind        INTEGER NOT NULL, -- liaison.v1.ManifestActionKind
    state       TEXT    NOT NULL, -- pending, applied, rejected
    reason      TEXT    NOT NULL, -- the rejection, or a hold's reason kept here
    create_time INTEGER NOT NULL,
    body        BLOB    NOT NULL  -- liaison.v1.ManifestAction
) STRICT;

CREATE INDEX manifest_actions_by_manifest ON manifest_actions (manifest_id, create_time);
