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
//	leads release ID --to AGENCY[,AGENCY] [--etag E]
//	    Release a lead to partner agencies (supervisors).
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
//
// Federation (FederationAdminService):
//
//	federation status
//	    Show, per partner, both channels: connection, envelopes waiting,
//	    sequences, last error and last drift check.
//	federation check
//	    Compare now what each partner holds of this node's records and
//	    queue repairs. Drift found is reported, not a failure: exit status 1
//	    only if a partner could not be checked.
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
