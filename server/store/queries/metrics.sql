-- name: CountLeads :many
SELECT origin_agency, status, CAST(body IS NULL AS INTEGER) AS tombstone, count(*) AS n
FROM leads GROUP BY origin_agency, status, body IS NULL;

-- name: CountCases :many
SELECT origin_agency, count(*) AS n FROM cases GROUP BY origin_agency;

-- name: CountManifests :many
SELECT origin_agency, count(*) AS n FROM manifests GROUP BY origin_agency;

-- name: CountOutbox :many
SELECT partner, receipt_status, count(*) AS n FROM outbox GROUP BY partner, receipt_status;

-- name: CountInbox :many
SELECT sender, status, count(*) AS n FROM inbox GROUP BY sender, status;
