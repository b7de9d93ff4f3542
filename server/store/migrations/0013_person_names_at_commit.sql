-- 0013: the full-text name index is written by the store at the end of each
-- write transaction (server/store/names.go), no longer by triggers on
-- person_index. FTS5 writes out the terms it holds in memory whenever a
-- statement opens a savepoint, and a statement that fires a trigger does:
-- with the triggers, every write after a person was indexed (the change
-- feed's row, the next record's delete) wrote a segment of a row or two
-- first, 30–45 µs each. The index's content is unchanged.
DROP TRIGGER person_index_insert;
DROP TRIGGER person_index_delete;
