-- 0005: the change feed. Every change this node applies — own records,
-- replicas arriving, tombstones, case entries, manifest transitions — is
-- appended here in the same transaction, with a gap-free cursor. The feed
-- keeps no copy of the record: readers get it as it is when they read, so
-- withdrawn or purged content is never replayed.

CREATE TABLE feed (
    seq           INTEGER NOT NULL PRIMARY KEY, -- the cursor
    time          INTEGER NOT NULL,
    kind          INTEGER NOT NULL,             -- liaison.v1.ChangeKind
    record_id     TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    origin_agency TEXT    NOT NULL,
    action        TEXT    NOT NULL              -- created, updated, withdrawn, …
) STRICT;
