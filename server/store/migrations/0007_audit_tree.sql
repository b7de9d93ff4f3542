-- 0007: the audit log as an RFC 6962 Merkle tree (server/audit/tree.go).
-- Event n is leaf n-1. Its leaf data is content_hash = SHA-256(salt ||
-- canonical(event)); once the content of an event that holds personal data
-- is erased (detail and resource emptied, salt dropped), content_hash keeps
-- the leaf, the tree and every proof valid, and the salt keeps the erased
-- content from being guessed back from it.

ALTER TABLE audit_events ADD COLUMN salt BLOB;                              -- NULL once erased
ALTER TABLE audit_events ADD COLUMN content_hash BLOB NOT NULL DEFAULT x''; -- x'' only before the backfill at start-up
ALTER TABLE audit_events ADD COLUMN erase_time INTEGER NOT NULL DEFAULT 0;  -- when its content was erased (0: kept)

-- The tree's stored hashes, indexed as golang.org/x/mod/sumdb/tlog
-- StoredHashIndex numbers them; appended in the transaction that appends
-- the event.
CREATE TABLE audit_tree (
    id   INTEGER NOT NULL PRIMARY KEY,
    hash BLOB    NOT NULL
) STRICT;

-- This node's signed checkpoints of its own log (C2SP signed notes), and the
-- cosignatures partners returned for them.
CREATE TABLE audit_checkpoints (
    size      INTEGER NOT NULL PRIMARY KEY,
    root      BLOB    NOT NULL,
    time      INTEGER NOT NULL,
    note      BLOB    NOT NULL  -- the signed note, cosignatures added as they arrive
) STRICT;
