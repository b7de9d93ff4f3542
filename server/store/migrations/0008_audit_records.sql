-- 0008: the records a call returned, by id (issue 12). One row per record
-- of a bulk read (a list page, search hits, a batch of an export or of the
-- change feed), written in the transaction that appends the call's event,
-- so that "who saw record X" is a lookup. The event's hash covers the list
-- (see server/audit). Single-record reads need no row: their event's
-- resource names the record.
--
-- Numbered 0008 while 0007 is being written on another branch: migrate
-- applies every migration not yet applied, in order, whatever arrives
-- later with a lower number.

CREATE TABLE audit_records (
    record_id TEXT    NOT NULL,
    seq       INTEGER NOT NULL REFERENCES audit_events (seq),
    PRIMARY KEY (record_id, seq)
) STRICT, WITHOUT ROWID;

-- The verification reads the records of each event in sequence order.
CREATE INDEX audit_records_by_seq ON audit_records (seq, record_id);
