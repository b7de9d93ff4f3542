-- name: RecordKeysByID :many
-- Every record this node keeps under an id, whatever its kind, with the
-- agency whose node is its home and the record it belongs to: what the
-- ownership rule checks a partner's envelope against. A case entry's home
-- is its case's; a manifest action's is the agency the manifest goes to.
SELECT CAST('lead' AS TEXT) AS kind, origin_agency AS home, CAST('' AS TEXT) AS parent
FROM leads WHERE leads.id = @id
UNION ALL
SELECT 'case', origin_agency, '' FROM cases WHERE cases.id = @id
UNION ALL
SELECT 'case_entry', cases.origin_agency, case_entries.case_id
FROM case_entries JOIN cases ON cases.id = case_entries.case_id WHERE case_entries.id = @id
UNION ALL
SELECT 'manifest', origin_agency, '' FROM manifests WHERE manifests.id = @id
UNION ALL
SELECT 'manifest_action', coalesce(manifests.receiving_agency, ''), manifest_actions.manifest_id
FROM manifest_actions LEFT JOIN manifests ON manifests.id = manifest_actions.manifest_id WHERE manifest_actions.id = @id
UNION ALL
SELECT 'permission_request', origin_agency, record_id FROM permission_requests WHERE permission_requests.id = @id
UNION ALL
SELECT 'match_index', holder, '' FROM match_remote_indexes WHERE match_remote_indexes.index_id = @id
UNION ALL
SELECT 'match_follow_up', holder, '' FROM match_follow_ups WHERE match_follow_ups.id = @id;
