package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// caseEntryCommands are the commands of the cases group about entries:
// they join the group registered in cases.go.
var caseEntryCommands = []*command{
	{name: "add-entry", detail: "An entry is given by flags or read from ENTRY, a liaison.v1.CaseEntry in protojson. On the case's home node it is applied at once and shown with its position; on a partner's node it is pending until the home node applies it, or rejects it with a reason. The node's refusal of a field names the flag that sets it.",
		synopsis: "ID --kind note|request|response|outcome --text TEXT [--urgency urgent|high|normal] [--due TIME] [--requested-of AGENCY] " +
			"[--responds-to ENTRY_ID] [--outcome KIND] [--count N] [--request-id UUID]  |  ID -f ENTRY [--request-id UUID]", args: []string{"ID"}, setup: casesAddEntry,
		summary: "append an entry to a case: on its home node it is applied at once, on a partner's it is pending until the home node applies or rejects it"},
	{name: "entries", detail: "Shows state, author, a request's urgency, deadline, debtor and answer, the request a response answers, an outcome's count; then the reasons of rejected entries.",
		synopsis: "ID [--page-size N] [--page-token T] [--all]", args: []string{"ID"}, setup: casesEntries,
		summary: "list a case's entries in the home node's order, pending ones last, with the reasons of rejected ones"},
}

// entryFlags are the flags that make an entry, by the field each sets: a
// field violation on it names its flag too.
var entryFlags = map[string]string{
	"entry.kind": "--kind", "entry.text": "--text",
	"entry.request.urgency": "--urgency", "entry.request.due_time": "--due", "entry.request.requested_of": "--requested-of",
	"entry.response.request_entry_id": "--responds-to",
	"entry.outcome.kind":              "--outcome", "entry.outcome.count": "--count",
}

func casesAddEntry(fs *flag.FlagSet) handler {
	file := fs.String("f", "", "read the entry from `FILE`, a liaison.v1.CaseEntry in protojson (- for stdin), instead of from the flags that make one")
	kind := fs.String("kind", "", "what the entry is, `KIND`: note, request (for assistance), response (to a request) or outcome")
	text := fs.String("text", "", "the entry's `TEXT`")
	urgency := fs.String("urgency", "", "of a request, its `URGENCY`: urgent (due in 8 hours), high (3 days) or normal (7 days)")
	due := fs.String("due", "", "of a request, when the answer is due, `TIME` (RFC 3339; default from the urgency)")
	requestedOf := fs.String("requested-of", "", "of a request, the `AGENCY` that owes the answer (default: the other agency of a bilateral case)")
	respondsTo := fs.String("responds-to", "", "of a response, the `ENTRY_ID` of the request it answers")
	outcomeKind := fs.String("outcome", "", "of an outcome, its `KIND`: arrest, charge, conviction, disruption, victims-identified or assets-seized")
	count := fs.Int("count", 1, "of an outcome, how many arrests, charges… (`N`, default 1)")
	requestID := fs.String("request-id", "", "idempotency key (`UUID`); without it one is chosen and printed, to repeat for a safe retry")
	return func(ctx context.Context, c *cli, args []string) error {
		given := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
		var fromFlags []string
		for _, f := range entryFlags {
			if given[strings.TrimPrefix(f, "--")] {
				fromFlags = append(fromFlags, f)
			}
		}
		sort.Strings(fromFlags)
		id, err := idempotencyKey(*requestID)
		if err != nil {
			return err
		}
		e := &liaisonv1.CaseEntry{}
		switch {
		case *file != "" && len(fromFlags) > 0:
			return usageErrorf("-f reads the whole entry from a file: it does not go with %s", strings.Join(fromFlags, ", "))
		case *file != "":
			if _, err := c.readProtoJSON(*file, e); err != nil {
				return err
			}
		case *kind == "":
			return usageErrorf("cases add-entry needs --kind KIND and --text TEXT, or -f FILE")
		default:
			if e, err = buildEntry(given, *kind, *text, *urgency, *due, *requestedOf, *respondsTo, *outcomeKind, *count); err != nil {
				return err
			}
		}
		svc, err := c.caseService()
		if err != nil {
			return err
		}
		resp, err := svc.AddCaseEntry(ctx, &liaisonv1.AddCaseEntryRequest{CaseId: args[0], Entry: e, RequestId: id})
		if err != nil {
			if *file == "" {
				err = flagNotes(err)
			}
			return retryNote(err, "the entry may or may not have been added", id)
		}
		fmt.Fprintf(c.stderr, "request id: %s\n", id)
		home := ""
		if c.output != outputJSON && resp.GetEntry().GetState() == liaisonv1.EntryState_ENTRY_STATE_PENDING {
			// To name the node the entry waits for; without it the
			// entry is still shown.
			if cs, err := svc.GetCase(ctx, &liaisonv1.GetCaseRequest{Id: args[0]}); err == nil {
				home = cs.GetCase().GetOriginAgency()
			}
		}
		return c.print(resp, func(w io.Writer) { entryDetail(w, resp.GetEntry(), home) })
	}
}

// buildEntry makes an entry from the flags of add-entry. An entry of a
// kind gets that kind's details, so that what is missing from them is the
// node's to point out; details of another kind are sent if their flags
// were given, for the node to refuse.
func buildEntry(given map[string]bool, kind, text, urgency, due, requestedOf, respondsTo, outcomeKind string, count int) (*liaisonv1.CaseEntry, error) {
	k, err := parseEnum[liaisonv1.CaseEntryKind](kind, nil)
	if err != nil {
		return nil, usageErrorf("--kind: %v", err)
	}
	e := &liaisonv1.CaseEntry{Kind: k, Text: text}
	if k == liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_REQUEST || given["urgency"] || given["due"] || given["requested-of"] {
		r := &liaisonv1.RequestDetails{RequestedOf: requestedOf}
		if urgency != "" {
			if r.Urgency, err = parseEnum[liaisonv1.RequestUrgency](urgency, nil); err != nil {
				return nil, usageErrorf("--urgency: %v", err)
			}
		}
		if r.DueTime, err = parseTime("--due", due); err != nil {
			return nil, err
		}
		e.Request = r
	}
	if k == liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_RESPONSE || given["responds-to"] {
		e.Response = &liaisonv1.ResponseDetails{RequestEntryId: respondsTo}
	}
	if k == liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_OUTCOME || given["outcome"] || given["count"] {
		if count < math.MinInt32 || count > math.MaxInt32 {
			return nil, usageErrorf("--count %d is out of range", count)
		}
		o := &liaisonv1.OutcomeDetails{Count: int32(count)}
		if outcomeKind != "" {
			if o.Kind, err = parseEnum[liaisonv1.OutcomeKind](outcomeKind, nil); err != nil {
				return nil, usageErrorf("--outcome: %v", err)
			}
		}
		e.Outcome = o
	}
	return e, nil
}

// flagNotes adds to a refusal of an entry made from flags which flag sets
// each field the node found wrong.
func flagNotes(err error) error {
	var re *rpcError
	if !errors.As(err, &re) || re.st.Code() != codes.InvalidArgument {
		return err
	}
	var notes []string
	seen := map[string]bool{}
	for _, d := range re.st.Details() {
		br, ok := d.(*errdetails.BadRequest)
		if !ok {
			continue
		}
		for _, v := range br.GetFieldViolations() {
			if f, ok := entryFlags[v.GetField()]; ok && !seen[f] {
				seen[f] = true
				notes = append(notes, fmt.Sprintf("%s sets %s", f, v.GetField()))
			}
		}
	}
	if len(notes) == 0 {
		return err
	}
	return &noteError{err, notes}
}

func casesEntries(fs *flag.FlagSet) handler {
	var pages pageFlags
	pages.define(fs)
	return func(ctx context.Context, c *cli, args []string) error {
		req := &liaisonv1.ListCaseEntriesRequest{CaseId: args[0]}
		var err error
		if req.PageSize, err = pages.pageSize(); err != nil {
			return err
		}
		svc, err := c.caseService()
		if err != nil {
			return err
		}
		out := &liaisonv1.ListCaseEntriesResponse{}
		out.NextPageToken, err = pages.fetch(c, func(token string) (string, error) {
			req.PageToken = token
			resp, err := svc.ListCaseEntries(ctx, req)
			out.Entries = append(out.Entries, resp.GetEntries()...)
			return resp.GetNextPageToken(), err
		})
		if err != nil {
			return err
		}
		return c.print(out, func(w io.Writer) {
			entryTable(w, out.GetEntries())
			printNextPage(w, out.GetNextPageToken())
		})
	}
}
