-- 0001: leads, idempotency keys, the audit chain, the federation outbox.
-- Times are Unix microseconds (UTC). Records are stored as the deterministic
-- protobuf serialization of their liaison.v1 message (body); the other
-- columns exist to filter and order.

CREATE TABLE leads (
    id            TEXT    NOT NULL PRIMARY KEY, -- UUIDv7
    origin_agency TEXT    NOT NULL,
    status        INTEGER NOT NULL,             -- liaison.v1.LeadStatus
    crime_mask    INTEGER NOT NULL,             -- bit n set = CrimeArea n
    handling_code INTEGER NOT NULL,             -- liaison.v1.HandlingCode
    version       INTEGER NOT NULL,
    create_time   INTEGER NOT NULL,
    update_time   INTEGER NOT NULL,
    review_date   TEXT    NOT NULL,             -- YYYY-MM-DD, '' if none
    body          BLOB                          -- NULL once content is deleted (tombstone)
) STRICT;

CREATE INDEX leads_by_status ON leads (status, id);
CREATE INDEX leads_by_origin ON leads (origin_agency, id);
CREATE INDEX leads_by_update ON leads (update_time);

-- A create carrying a request_id seen before returns the first result.
CREATE TABLE idempotency_keys (
    method       TEXT    NOT NULL,
    request_id   TEXT    NOT NULL,
    request_hash BLOB    NOT NULL, -- SHA-256 of the request payload
    resource_id  TEXT    NOT NULL,
    create_time  INTEGER NOT NULL,
    PRIMARY KEY (method, request_id)
) STRICT, WITHOUT ROWID;

-- The audit log: a hash chain, see server/audit.
CREATE TABLE audit_events (
    seq        INTEGER NOT NULL PRIMARY KEY, -- gap-free from 1
    time       INTEGER NOT NULL,
    agency     TEXT    NOT NULL,
    principal  TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    resource   TEXT    NOT NULL,
    outcome    TEXT    NOT NULL,
    request_id TEXT    NOT NULL,
    detail     TEXT    NOT NULL,
    hash       BLOB    NOT NULL
) STRICT;

CREATE INDEX audit_by_principal ON audit_events (principal, seq);
CREATE INDEX audit_by_resource ON audit_events (resource, seq);

-- The last committed event, written in the same transaction: deleting
-- trailing events breaks verification too.
CREATE TABLE audit_head (
    id   INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash BLOB    NOT NULL
) STRICT;

-- Outbound federation channels, one per partner.
CREATE TABLE out_channels (
    partner  TEXT    NOT NULL PRIMARY KEY,
    last_seq INTEGER NOT NULL -- last sequence assigned
) STRICT;

-- Envelopes to partners, written in the same transaction as the change.
CREATE TABLE outbox (
    partner        TEXT    NOT NULL,
    seq            INTEGER NOT NULL,
    envelope_id    TEXT    NOT NULL UNIQUE,
    kind           INTEGER NOT NULL,            -- liaison.v1.EnvelopeKind
    record_id      TEXT    NOT NULL,
    record_version INTEGER NOT NULL,
    create_time    INTEGER NOT NULL,
    envelope       BLOB    NOT NULL,            -- serialized liaison.v1.Envelope
    receipt_status INTEGER NOT NULL DEFAULT 0,  -- 0 = no receipt yet
    receipt_reason TEXT    NOT NULL DEFAULT '',
    receipt_time   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (partner, seq)
) STRICT;

CREATE INDEX outbox_by_record ON outbox (record_id);
