-- name: InsertCase :exec
INSERT INTO cases (id, origin_agency, status, crime_mask, version, create_time, update_time, body)
VALUES (?, ?, ?, ?, ?, ?, ?, ?);

-- name: UpdateCase :execrows
UPDATE cases
SET status = @status, crime_mask = @crime_mask, version = @version, update_time = @update_time, body = @body
WHERE id = @id AND version = @prev_version;

-- name: OverwriteCase :execrows
UPDATE cases
SET origin_agency = @origin_agency, status = @status, crime_mask = @crime_mask, version = @version,
    update_time = @update_time, body = @body
WHERE id = @id;

-- name: GetCase :one
SELECT body FROM cases WHERE id = ?;

-- name: ListCases :many
SELECT c.id, c.body FROM cases c
WHERE (CAST(@status AS INTEGER) = 0 OR c.status = @status)
  AND (CAST(@crime_mask AS INTEGER) = 0 OR (c.crime_mask & CAST(@crime_mask AS INTEGER)) != 0)
  AND (CAST(@origin_agency AS TEXT) = '' OR c.origin_agency = @origin_agency)
  AND (CAST(@shared_with AS TEXT) = '' OR EXISTS (SELECT 1 FROM case_shares s WHERE s.case_id = c.id AND s.partner = @shared_with))
  AND c.update_time > CAST(@updated_after AS INTEGER)
  AND (CAST(@before_id AS TEXT) = '' OR c.id < CAST(@before_id AS TEXT))
ORDER BY c.id DESC
LIMIT @page_limit;

-- name: AddCaseShare :exec
INSERT INTO case_shares (case_id, partner) VALUES (?, ?) ON CONFLICT DO NOTHING;

-- name: SetCaseLinks :exec
DELETE FROM case_leads WHERE case_id = ?;

-- name: AddCaseLink :exec
INSERT INTO case_leads (case_id, lead_id) VALUES (?, ?) ON CONFLICT DO NOTHING;

-- name: CasesLinkingLead :many
-- Only this node's own cases keep a lead from retention: a partner's case
-- links by reference (rows it may have left before 0006 included).
SELECT c.id, c.status FROM case_leads l JOIN cases c ON c.id = l.case_id
WHERE l.lead_id = @lead_id AND c.origin_agency = @own;

-- name: InsertCaseEntry :exec
INSERT INTO case_entries (id, case_id, sequence, sort_key, kind, state, requested_of, request_open, due_time, create_time, body)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: UpdateCaseEntry :exec
UPDATE case_entries
SET sequence = ?, sort_key = ?, state = ?, request_open = ?, body = ?
WHERE id = ?;

-- name: GetCaseEntry :one
SELECT body FROM case_entries WHERE id = ?;

-- name: MaxCaseSequence :one
SELECT CAST(coalesce(max(sequence), 0) AS INTEGER) FROM case_entries WHERE case_id = ?;

-- name: ListCaseEntries :many
SELECT id, sort_key, body FROM case_entries
WHERE case_id = @case_id
  AND (sort_key > CAST(@after_key AS INTEGER) OR (sort_key = CAST(@after_key AS INTEGER) AND id > CAST(@after_id AS TEXT)))
ORDER BY sort_key, id
LIMIT @page_limit;

-- name: AppliedCaseEntries :many
SELECT body FROM case_entries WHERE case_id = ? AND sequence > 0 ORDER BY sequence;

-- name: CountCaseEntries :one
SELECT count(*) AS entries, CAST(coalesce(sum(request_open), 0) AS INTEGER) AS open_requests FROM case_entries WHERE case_id = ?;

-- name: OpenRequestsOf :many
SELECT e.body, c.body AS case_body FROM case_entries e JOIN cases c ON c.id = e.case_id
WHERE e.request_open = 1 AND e.requested_of = @agency
ORDER BY e.due_time
LIMIT @page_limit;

-- name: OpenRequestsNotOf :many
SELECT e.body, c.body AS case_body FROM case_entries e JOIN cases c ON c.id = e.case_id
WHERE e.request_open = 1 AND e.requested_of != @agency
ORDER BY e.due_time
LIMIT @page_limit;

-- name: CaseReplicaItems :many
SELECT id, version, 0 AS tombstone FROM cases
WHERE origin_agency = @origin_agency AND id >= @from_id AND id < @to_id
ORDER BY id LIMIT @page_limit;
