-- 0012: blind hit/no-hit (server/match). Nothing here holds a name, a
-- number or a date: entries are truncated hashes of OPRF outputs.

-- The holder's side: per partner, the epochs of the index this node
-- publishes to it. The OPRF key of an epoch is derived from the node's
-- secret, the partner and the epoch (server/match), never stored.
CREATE TABLE match_epochs (
    partner       TEXT    NOT NULL,
    epoch         INTEGER NOT NULL,
    index_id      TEXT    NOT NULL UNIQUE, -- UUID: the index's record id in envelopes
    start_time    INTEGER NOT NULL,        -- unix micros
    feed_cursor   INTEGER NOT NULL,        -- change feed seq indexed into this epoch
    scanned       INTEGER NOT NULL,        -- 1 once every own record was indexed
    version       INTEGER NOT NULL,        -- the last update envelope's record version
    complete_sent INTEGER NOT NULL,        -- 1 once the update marked complete was sent
    PRIMARY KEY (partner, epoch)
) STRICT;

-- The entries each own record gives an epoch's index.
CREATE TABLE match_entries (
    partner     TEXT    NOT NULL,
    epoch       INTEGER NOT NULL,
    record_kind TEXT    NOT NULL,
    record_id   TEXT    NOT NULL,
    entry       BLOB    NOT NULL,
    key_kind    INTEGER NOT NULL, -- liaison.v1.MatchKeyKind
    PRIMARY KEY (partner, epoch, record_kind, record_id, entry)
) STRICT, WITHOUT ROWID;
CREATE INDEX match_entries_by_entry ON match_entries (partner, epoch, entry);

-- The entries sent to the partner (its copy of the index), and the
-- entries changed since the last update was sent.
CREATE TABLE match_published (
    partner TEXT    NOT NULL,
    epoch   INTEGER NOT NULL,
    entry   BLOB    NOT NULL,
    PRIMARY KEY (partner, epoch, entry)
) STRICT, WITHOUT ROWID;
CREATE TABLE match_dirty (
    partner TEXT    NOT NULL,
    epoch   INTEGER NOT NULL,
    entry   BLOB    NOT NULL,
    PRIMARY KEY (partner, epoch, entry)
) STRICT, WITHOUT ROWID;

-- Per record and partner, an override of the default discoverability.
CREATE TABLE match_discoverability (
    record_id    TEXT    NOT NULL,
    partner      TEXT    NOT NULL,
    discoverable INTEGER NOT NULL,
    PRIMARY KEY (record_id, partner)
) STRICT, WITHOUT ROWID;

-- Evaluations each partner made, per UTC day.
CREATE TABLE match_budget (
    partner TEXT    NOT NULL,
    day     TEXT    NOT NULL, -- YYYY-MM-DD, UTC
    used    INTEGER NOT NULL,
    PRIMARY KEY (partner, day)
) STRICT, WITHOUT ROWID;

-- The asker's side: the indexes partners published to this node.
CREATE TABLE match_remote_indexes (
    index_id    TEXT    NOT NULL PRIMARY KEY,
    holder      TEXT    NOT NULL,
    epoch       INTEGER NOT NULL,
    public_key  BLOB    NOT NULL,
    version     INTEGER NOT NULL,
    complete    INTEGER NOT NULL,
    update_time INTEGER NOT NULL
) STRICT;
CREATE INDEX match_remote_indexes_by_holder ON match_remote_indexes (holder, epoch);
CREATE TABLE match_remote_entries (
    index_id TEXT NOT NULL,
    entry    BLOB NOT NULL,
    PRIMARY KEY (index_id, entry)
) STRICT, WITHOUT ROWID;

-- Follow-ups of hits, on both nodes; the holder decides.
CREATE TABLE match_follow_ups (
    id       TEXT    NOT NULL PRIMARY KEY,
    querier  TEXT    NOT NULL,
    holder   TEXT    NOT NULL,
    status   INTEGER NOT NULL, -- liaison.v1.MatchFollowUpStatus
    due_time INTEGER NOT NULL, -- unix micros
    body     BLOB    NOT NULL  -- liaison.v1.MatchFollowUp
) STRICT;
CREATE INDEX match_follow_ups_by_due ON match_follow_ups (status, due_time, id);
