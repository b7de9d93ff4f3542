-- 0003: joint case records and their entries; the person search index.

CREATE TABLE cases (
    id            TEXT    NOT NULL PRIMARY KEY, -- UUIDv7
    origin_agency TEXT    NOT NULL,
    status        INTEGER NOT NULL,             -- liaison.v1.CaseStatus
    crime_mask    INTEGER NOT NULL,
    version       INTEGER NOT NULL,
    create_time   INTEGER NOT NULL,
    update_time   INTEGER NOT NULL,
    body          BLOB    NOT NULL              -- liaison.v1.Case
) STRICT;

CREATE INDEX cases_by_status ON cases (status, id);
CREATE INDEX cases_by_origin ON cases (origin_agency, id);

CREATE TABLE case_shares (
    case_id TEXT NOT NULL REFERENCES cases (id),
    partner TEXT NOT NULL,
    PRIMARY KEY (case_id, partner)
) STRICT, WITHOUT ROWID;

CREATE INDEX case_shares_by_partner ON case_shares (partner, case_id);

CREATE TABLE case_leads (
    case_id TEXT NOT NULL REFERENCES cases (id),
    lead_id TEXT NOT NULL,
    PRIMARY KEY (case_id, lead_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX case_leads_by_lead ON case_leads (lead_id);

CREATE TABLE case_entries (
    id           TEXT    NOT NULL PRIMARY KEY,  -- UUIDv7, chosen where the entry was written
    case_id      TEXT    NOT NULL REFERENCES cases (id),
    sequence     INTEGER NOT NULL,              -- the home node's order; 0 while pending
    sort_key     INTEGER NOT NULL,              -- sequence, or 2^62 + create time while not ordered
    kind         INTEGER NOT NULL,              -- liaison.v1.CaseEntryKind
    state        INTEGER NOT NULL,              -- liaison.v1.EntryState
    requested_of TEXT    NOT NULL,              -- requests: the agency that owes the answer
    request_open INTEGER NOT NULL,              -- 1: an applied request not yet answered
    due_time     INTEGER NOT NULL,
    create_time  INTEGER NOT NULL,
    body         BLOB    NOT NULL               -- liaison.v1.CaseEntry
) STRICT;

CREATE INDEX case_entries_in_order ON case_entries (case_id, sort_key, id);
CREATE INDEX case_entries_open_requests ON case_entries (request_open, requested_of, due_time);

-- Every person of every record this node holds (own and replicas), kept in
-- step with the records in the same transaction.
CREATE TABLE person_index (
    id            INTEGER NOT NULL PRIMARY KEY,
    record_kind   INTEGER NOT NULL, -- liaison.v1.RecordKind
    record_id     TEXT    NOT NULL,
    record_title  TEXT    NOT NULL,
    origin_agency TEXT    NOT NULL,
    dob_year      INTEGER NOT NULL,
    dob_month     INTEGER NOT NULL,
    dob_day       INTEGER NOT NULL,
    tokens        TEXT    NOT NULL, -- normalised words of every name and alias
    person        BLOB    NOT NULL  -- liaison.v1.Person
) STRICT;

CREATE INDEX person_index_by_record ON person_index (record_id);
CREATE INDEX person_index_by_birth ON person_index (dob_year, dob_month, dob_day);

-- Exact identifiers: E.164 phone numbers (kind 1) and normalised document
-- numbers (kind 2).
CREATE TABLE person_identifiers (
    kind       INTEGER NOT NULL,
    value      TEXT    NOT NULL,
    person_row INTEGER NOT NULL REFERENCES person_index (id) ON DELETE CASCADE,
    PRIMARY KEY (kind, value, person_row)
) STRICT, WITHOUT ROWID;

CREATE INDEX person_identifiers_by_row ON person_identifiers (person_row);

-- Full-text index of the name words, an external-content FTS5 table kept
-- in step with person_index by the triggers below.
CREATE VIRTUAL TABLE person_names USING fts5 (
    tokens,
    content = 'person_index',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER person_index_insert AFTER INSERT ON person_index BEGIN
    INSERT INTO person_names (rowid, tokens) VALUES (new.id, new.tokens);
END;

CREATE TRIGGER person_index_delete AFTER DELETE ON person_index BEGIN
    INSERT INTO person_names (person_names, rowid, tokens) VALUES ('delete', old.id, old.tokens);
END;

-- Node-wide settings the store keeps for itself (e.g. which version of the
-- person index the rows were built with).
CREATE TABLE meta (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
