-- 0002: federation — receipts on the outbox, inbound channels and the
-- inbox (every envelope received, with the batch signature and the Merkle
-- proof that keep it verifiable), drift checks, permission requests.

ALTER TABLE out_channels ADD COLUMN acked_seq INTEGER NOT NULL DEFAULT 0;          -- highest sequence receipted
ALTER TABLE out_channels ADD COLUMN partner_applied_seq INTEGER NOT NULL DEFAULT 0; -- as the partner last reported

CREATE INDEX outbox_waiting ON outbox (partner, receipt_status, seq);

CREATE TABLE in_channels (
    sender       TEXT    NOT NULL PRIMARY KEY,
    last_applied INTEGER NOT NULL, -- highest sequence applied, rejected or ignored
    last_contact INTEGER NOT NULL
) STRICT;

CREATE TABLE inbox_batches (
    id           INTEGER NOT NULL PRIMARY KEY,
    sender       TEXT    NOT NULL,
    merkle_root  BLOB    NOT NULL,
    signature    BLOB    NOT NULL,
    signer_chain BLOB    NOT NULL, -- DER certificates, each preceded by its 4-byte length
    receive_time INTEGER NOT NULL
) STRICT;

CREATE TABLE inbox (
    sender         TEXT    NOT NULL,
    seq            INTEGER NOT NULL,
    envelope_id    TEXT    NOT NULL,
    kind           INTEGER NOT NULL, -- liaison.v1.EnvelopeKind
    record_id      TEXT    NOT NULL,
    record_version INTEGER NOT NULL,
    batch_id       INTEGER NOT NULL REFERENCES inbox_batches (id),
    leaf_hash      BLOB    NOT NULL, -- SHA-256(0x00 || envelope)
    proof          BLOB    NOT NULL, -- Merkle path from leaf_hash to the batch root
    envelope       BLOB,             -- the signed bytes; NULL once the record's content was withdrawn
    status         INTEGER NOT NULL, -- liaison.v1.ReceiptStatus
    reason_code    TEXT    NOT NULL,
    reason         TEXT    NOT NULL,
    apply_time     INTEGER NOT NULL,
    PRIMARY KEY (sender, seq)
) STRICT;

CREATE INDEX inbox_by_record ON inbox (record_id);

CREATE TABLE drift_checks (
    id               INTEGER NOT NULL PRIMARY KEY,
    partner          TEXT    NOT NULL,
    time             INTEGER NOT NULL,
    in_step          INTEGER NOT NULL,
    records_compared INTEGER NOT NULL,
    differences      INTEGER NOT NULL,
    repairs_queued   INTEGER NOT NULL,
    summary          TEXT    NOT NULL,
    error            TEXT    NOT NULL
) STRICT;

CREATE INDEX drift_by_partner ON drift_checks (partner, id);

CREATE TABLE permission_requests (
    id                TEXT    NOT NULL PRIMARY KEY,
    record_id         TEXT    NOT NULL,
    origin_agency     TEXT    NOT NULL,
    requesting_agency TEXT    NOT NULL,
    purpose           INTEGER NOT NULL, -- liaison.v1.PermissionPurpose
    status            INTEGER NOT NULL, -- liaison.v1.PermissionStatus
    body              BLOB    NOT NULL  -- liaison.v1.PermissionRequest
) STRICT;

CREATE INDEX permission_by_record ON permission_requests (record_id, purpose, status);
