// Command liaisonctl is the command-line client of a Liaison node. It
// connects over mutual TLS with the caller's own certificate and calls one
// RPC per command.
//
//	liaisonctl [global flags] GROUP COMMAND [flags] [args]
//
// Leads (LeadService):
//
//	leads create -f FILE [--request-id UUID]
//	    Create a draft lead from FILE, a liaison.v1.Lead in protojson ("-"
//	    reads stdin). Without --request-id a UUIDv7 is chosen and printed on
//	    stderr, so the same invocation can be retried safely.
//	leads get ID
//	    Show a lead in detail, marking a partner's replica as read-only.
//	leads list [--status S] [--crime-area A] [--origin AGENCY]
//	           [--updated-after RFC3339] [--page-size N] [--page-token T] [--all]
//	    List leads, newest first; --all follows the pages to the end.
//	leads update ID -f PATCH [--etag E]
//	    Change the fields named by the top-level keys of PATCH (a partial
//	    Lead in protojson); without --etag the lead is read first.
//	leads release ID --to AGENCY[,AGENCY] [--etag E] [--contact-desk D] [--contact-phone P] [--contact-email E]
//	    Release a lead to partner agencies (supervisors). A contact point
//	    given goes to every partner holding the lead: officers' names do not
//	    cross the border, so it says whom to contact.
//	leads withdraw ID --reason TEXT [--etag E]
//	    Withdraw a lead (supervisors).
//	leads receipts ID
//	    List the envelopes sent to partners about an own lead, with each
//	    partner's receipt, and which partners confirmed deleting it.
//	leads export [--id ID]... [--origin AGENCY] [--updated-after RFC3339]
//	             [--out FILE]
//	    Write leads for the agency's own systems, one compact protojson
//	    Lead a line (NDJSON), to stdout or, once complete, to FILE. A
//	    partner's lead whose handling code forbids export is reported on
//	    stderr and makes the exit status 1; with --id the export is all or
//	    nothing. -o does not change the format; --timeout bounds the whole
//	    export.
//	import FILE and export --kind leads: bulk, NDJSON or CSV, with progress ('liaisonctl help import', 'help export').
//
// Transfer manifests (ManifestService). The sending agency's node is a
// manifest's home; on the receiving agency's node review, accept, handover,
// cancel and the holds are proposals the home node applies, and the
// command prints the pending action ("proposed to alpha: review of person
// X (pending — alpha applies it)"). A step a protection safeguard blocks
// fails with FAILED_PRECONDITION listing each person, rule and what
// clears it.
//
//	manifests create --to AGENCY -f FILE [--request-id UUID]
//	    Start a draft from FILE, a liaison.v1.Manifest in protojson (legal
//	    basis, transport, escorts).
//	manifests get ID
//	    Show a manifest: header, persons with every status (nationality,
//	    fitness, vulnerabilities, handover, holds), on the sending node
//	    the screenings (never on a receiving node), on the receiving node
//	    its pending actions, and the history.
//	manifests list [--state S] [--to AGENCY] [--from AGENCY]
//	               [--page-size N] [--page-token T] [--all]
//	manifests update ID -f PATCH [--etag E]
//	    Change a draft's legal_basis, transport or escorts (the top-level
//	    keys of PATCH); without --etag the manifest is read first.
//	manifests add-person ID -f FILE
//	manifests update-person ID -f FILE [--person PERSON]
//	manifests remove-person ID PERSON
//	    Edit the persons (a liaison.v1.ManifestPerson in protojson).
//	manifests screen ID PERSON --claim none|pending|decided
//	                 --assessment cleared|concern --officer NAME
//	                 [--bid [--bid-ref REF]] [--notes TEXT]
//	    Record a person's protection screening; it stays on this node.
//	manifests propose ID                      (sending supervisors)
//	manifests review ID PERSON --nationality confirmed|not-confirmed
//	                 [--reason TEXT]          (receiving supervisors)
//	manifests accept ID                       (receiving supervisors)
//	manifests schedule ID --departure TIME [--flight NUMBER] [--carrier NAME]
//	                 [--mode air|sea|land|rail] [--from PLACE]
//	                 [--to-place PLACE] [--arrival TIME]
//	manifests depart ID                       (sending supervisors)
//	manifests handover ID PERSON --status handed-over|not-handed-over
//	                 [--reason TEXT]          (receiving supervisors)
//	manifests cancel ID --reason TEXT         (either side, before departure)
//	manifests withdraw ID PERSON --reason TEXT
//	manifests hold ID PERSON --reason TEXT    (prints the hold's id)
//	manifests lift-hold ID PERSON HOLD --reason TEXT
//	manifests separate ID PERSON OTHER_ID OTHER_PERSON --reason TEXT
//	    Record that two persons held for a possible match of one
//	    individual are different people (sending supervisors).
//	manifests history ID
//	    Every step with time, agency, officer, action, person, note and
//	    state; on this node also its local notes.
//
// Federation (FederationAdminService):
//
//	federation status
//	    Show, per partner, both channels: connection, envelopes waiting,
//	    sequences, last error, the fork alarm and the cross-witnessing of
//	    the audit logs, and the last drift check.
//	federation check
//	    Compare now what each partner holds of this node's records and
//	    queue repairs. Drift found is reported, not a failure: exit status 1
//	    only if a partner could not be checked.
//	federation witnessed --partner AGENCY [--out FILE]
//	    Fetch from the partner the latest checkpoint of this node's audit
//	    log it cosigned, to verify the log against with
//	    liaison audit verify --config FILE --checkpoint FILE.
//
// Permissions (PermissionService):
//
//	permissions request LEAD_ID --purpose export --justification TEXT
//	    Ask the originator of a partner's lead for permission to use it
//	    beyond its handling code.
//	permissions list [--direction incoming|outgoing]
//	                 [--status pending|granted|refused] [--lead ID]
//	                 [--page-size N] [--page-token T] [--all]
//	    List requests made by this agency and of its leads, newest first.
//	permissions grant ID --reason TEXT
//	permissions refuse ID --reason TEXT
//	    Decide an incoming request (supervisors of the originator); the
//	    decision travels back to the requester.
//
// Cases (CaseService):
//
//	cases create -f FILE [--request-id UUID]
//	    Open a case on this node, its home, from FILE, a liaison.v1.Case in
//	    protojson ("-" reads stdin); the request id as for leads create.
//	cases get ID
//	    Show a case in detail: its subjects merged with those of its linked
//	    leads, each person once with where it appears, and the number of
//	    entries and of open requests.
//	cases list [--status open|active|suspended|closed] [--crime-area A]
//	           [--origin AGENCY] [--shared-with AGENCY]
//	           [--updated-after RFC3339] [--page-size N] [--page-token T] [--all]
//	    List cases, newest first.
//	cases update ID -f PATCH [--etag E]
//	    As leads update, for a case (home node only).
//	cases share ID --to AGENCY[,AGENCY] [--contact-desk D] [--contact-phone P] [--contact-email E]
//	    Share a case, with all its entries, with partners (supervisors),
//	    optionally with the contact point they get with it.
//	cases link-lead CASE_ID LEAD_ID
//	cases unlink-lead CASE_ID LEAD_ID
//	    Link a lead this node holds to a case, or remove the link.
//	cases close ID --reason TEXT
//	cases reopen ID --reason TEXT
//	    Close a case, or reopen a closed one (supervisors).
//	cases add-entry ID --kind note|request|response|outcome --text TEXT
//	          [--urgency urgent|high|normal] [--due RFC3339]
//	          [--requested-of AGENCY] [--responds-to ENTRY_ID]
//	          [--outcome KIND] [--count N] [--request-id UUID]
//	cases add-entry ID -f ENTRY [--request-id UUID]
//	    Append an entry (or one read from ENTRY, a liaison.v1.CaseEntry in
//	    protojson) and show its state: applied at once with its position on
//	    the case's home node; on a partner's node pending until the home
//	    node applies it, or rejects it with a reason. The node's refusal of
//	    a field names the flag that sets it.
//	cases entries ID [--page-size N] [--page-token T] [--all]
//	    List a case's entries in the home node's order, pending ones last:
//	    state, author, a request's urgency, deadline, debtor and answer, the
//	    request a response answers, an outcome's count; then the reasons of
//	    rejected entries.
//
// Requests for assistance (CaseService):
//
//	requests list [--owed-to-us] [--page-size N]
//	    List open requests, overdue first, with how overdue or how long is
//	    left: those this agency owes, or with --owed-to-us those it awaits
//	    answers to.
//
// Search (SearchService):
//
//	search [NAME...] [--phone NUMBER [--region CC]] [--document NUMBER]
//	       [--dob YYYY[-MM[-DD]]] [--born-from YYYY] [--born-to YYYY]
//	       [--page-size N]
//	    Find persons in every record the node holds, own and partners',
//	    best first, with why each matched. NAME is the words of the line
//	    joined ("search Chen Wei" is "search 'Chen Wei'"). A number with
//	    spaces is best quoted; unquoted, the groups of digits right after
//	    --phone or --document are taken as part of it
//	    ("--phone +66 81 234 5678").
//
// Change feed (ChangeFeedService, analysts and the agency's systems):
//
//	watch [--cursor N] [--kind KIND[,KIND]] [--once | --follow=false]
//	      [--reconnect]
//	    Print every change the node applies after cursor N (0: from the
//	    oldest it keeps), in order, then follow new ones: own records,
//	    partners' copies arriving, tombstones, case entries, manifest
//	    transitions. A table line each (CURSOR TIME KIND ACTION ORIGIN
//	    RECORD VERSION SUMMARY), or with -o json one protojson Change a
//	    line. --kind keeps only lead, case, case-entry or manifest changes;
//	    --once stops when caught up. On stopping, the cursor to resume from
//	    goes to stderr; nothing is kept locally. A stream the node cuts off
//	    (the consumer fell behind or stopped reading, the node restarts)
//	    exits 1 with that cursor, or with --reconnect resumes from it. A
//	    cursor older than the node keeps is OUT_OF_RANGE: resync, then
//	    watch from the cursor the error names. --timeout bounds the whole
//	    watch only when given.
//
// Retention (RetentionService):
//
//	retention preview
//	    List the own leads the next purge would remove (review date passed,
//	    no open case linking them) and the expired leads an open case keeps
//	    (supervisors, like the purge).
//	retention run
//	    Purge now (supervisors): delete their content, keep a tombstone, and
//	    send the tombstone to every partner holding a copy. The node also
//	    purges on its own every retention.purge_interval.
//
// Audit (AuditService, auditors):
//
//	audit list [--principal P] [--action A] [--resource R] [--outcome O]
//	           [--agency A] [--since RFC3339] [--until RFC3339]
//	           [--page-size N] [--page-token T] [--all]
//	    List audit events, newest first.
//	audit verify
//	    Recompute the audit hash chain; exit status 3 if it is broken.
//
// Global flags, accepted anywhere on the line: --addr, --ca, --cert, --key
// (defaults from LIAISON_ADDR, LIAISON_CA, LIAISON_CERT, LIAISON_KEY),
// -o/--output table|json, and --timeout (the deadline of each RPC).
//
// Exit status: 0 success, 1 an error from the node or in reaching it,
// 2 a usage error, 3 an audit chain that does not verify.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
