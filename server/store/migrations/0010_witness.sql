-- 0010 (numbered 0008 on the witness branch until 0008 and 0009 land):
-- cross-witnessing of the audit logs (issue 12). Each node is the witness
-- of its partners' logs and has its own log witnessed by them.

-- As a witness: the latest checkpoint of each partner's log this node
-- cosigned. A new checkpoint is cosigned only if it is consistent with
-- this one; the row only moves forward.
CREATE TABLE witnessed_checkpoints (
    partner TEXT    NOT NULL PRIMARY KEY,
    size    INTEGER NOT NULL,
    root    BLOB    NOT NULL,
    note    BLOB    NOT NULL, -- as cosigned: the log's signature and this node's cosignature
    time    INTEGER NOT NULL  -- when this node cosigned it (µs)
) STRICT;

-- As a witness: a fork alarm per partner, raised when the partner's log
-- presented a checkpoint that cannot be consistent with the witnessed one.
-- It is never cleared by the node itself.
CREATE TABLE fork_alarms (
    partner        TEXT    NOT NULL PRIMARY KEY,
    first_time     INTEGER NOT NULL, -- µs
    last_time      INTEGER NOT NULL, -- µs
    refusals       INTEGER NOT NULL, -- checkpoints refused since it was raised
    reason         TEXT    NOT NULL, -- the first failure
    witnessed_size INTEGER NOT NULL, -- the checkpoint it contradicts
    checkpoint     BLOB    NOT NULL  -- the first offending checkpoint, as presented
) STRICT;

-- As a log: how far each partner has cosigned this node's log.
CREATE TABLE audit_witnesses (
    partner    TEXT    NOT NULL PRIMARY KEY,
    size       INTEGER NOT NULL, -- the latest size the partner cosigned
    time       INTEGER NOT NULL, -- when (µs)
    last_error TEXT    NOT NULL DEFAULT '',
    error_time INTEGER NOT NULL DEFAULT 0
) STRICT;
