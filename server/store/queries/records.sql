-- name: RecordKeysByID :many
-- Every record this node keeps under an id, whatever its kind, with the
-- agency whose node is its home and the record it belongs to: what the
-- ownership rule checks a partner's envelope against. A case entry's home
-- is its case's; a manifest action's is the agency the manifest goes to.
-- The homes of entries and actions are scalar subqueries, not joins: as
-- joins inside this compound query it cost about 77 microseconds a call
-- where it now costs 5 to 11 (BenchmarkRecordsUnder), once or twice for
-- every envelope applied. An entry whose case is missing (the foreign key
-- forbids it) has an empty home, which no partner's node is.
SELECT CAST('lead' AS TEXT) AS kind, origin_agency AS home, CAST('' AS TEXT) AS parent
FROM leads WHERE leads.id = @id
UNION ALL
SELECT 'case', origin_agency, '' FROM cases WHERE cases.id = @id
UNION ALL
SELECT 'case_entry', coalesce((SELECT cases.origin_agency FROM cases WHERE cases.id = case_entries.case_id), ''), case_entries.case_id
FROM case_entries WHERE case_entries.id = @id
UNION ALL
SELECT 'manifest', origin_agency, '' FROM manifests WHERE manifests.id = @id
UNION ALL
SELECT 'manifest_action', coalesce((SELECT manifests.receiving_agency FROM manifests WHERE manifests.id = manifest_actions.manifest_id), ''), manifest_actions.manifest_id
FROM manifest_actions WHERE manifest_actions.id = @id
UNION ALL
SELECT 'permission_request', origin_agency, record_id FROM permission_requests WHERE permission_requests.id = @id
UNION ALL
SELECT 'match_index', holder, '' FROM match_remote_indexes WHERE match_remote_indexes.index_id = @id
UNION ALL
SELECT 'match_follow_up', holder, '' FROM match_follow_ups WHERE match_follow_ups.id = @id;
