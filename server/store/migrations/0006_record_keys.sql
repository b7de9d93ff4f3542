-- 0006: the person index is keyed by (kind, record id), so that a record
-- of one kind can never remove or change the index rows of another that
-- happens to share its id.

DROP INDEX person_index_by_record;
CREATE INDEX person_index_by_record ON person_index (record_kind, record_id);
