package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"google.golang.org/protobuf/proto"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

func init() {
	// Adding entries lives in case_entries.go, open requests in requests.go.
	register(&group{name: "cases", summary: "joint case files shared with partners, and their entries (CaseService)", commands: append([]*command{
		{name: "create", detail: "FILE is a liaison.v1.Case in protojson (\"-\" reads stdin); the request id works as for leads create.",
			synopsis: "-f FILE [--request-id UUID]", setup: casesCreate,
			summary: "open a case on this node, its home, from a protojson liaison.v1.Case"},
		{name: "get", detail: "Its subjects are merged with those of its linked leads, each person once with where it appears; the counts are of entries and of open requests.",
			synopsis: "ID", args: []string{"ID"}, setup: casesGet,
			summary: "show a case in detail, with its subjects and those of its linked leads (each person once) and its counts"},
		{name: "list", detail: "--status is open, active, suspended or closed.",
			synopsis: "[--status S] [--crime-area A] [--origin AGENCY] [--shared-with AGENCY] [--updated-after TIME] [--page-size N] [--page-token T] [--all]", setup: casesList,
			summary: "list cases, newest first"},
		{name: "update", detail: "As leads update, for a case (home node only).",
			synopsis: "ID -f PATCH [--etag E]", args: []string{"ID"}, setup: casesUpdate,
			summary: "change the fields named by the top-level keys of PATCH (a partial protojson Case; home node only)"},
		{name: "share", detail: "Optionally with the contact point the partners get with it (--contact-desk, --contact-phone, --contact-email).",
			synopsis: "ID --to AGENCY[,AGENCY] [--contact-desk D] [--contact-phone P] [--contact-email E]", args: []string{"ID"}, setup: casesShare,
			summary: "share a case, with all its entries, with partner agencies (supervisors, home node only)"},
		{name: "link-lead", synopsis: "CASE_ID LEAD_ID", args: []string{"CASE_ID", "LEAD_ID"}, setup: casesLink(true),
			summary: "link a lead this node holds to a case (home node only)"},
		{name: "unlink-lead", synopsis: "CASE_ID LEAD_ID", args: []string{"CASE_ID", "LEAD_ID"}, setup: casesLink(false),
			summary: "remove the link between a case and a lead (home node only)"},
		{name: "close", synopsis: "ID --reason TEXT", args: []string{"ID"}, setup: casesClose(true),
			summary: "close a case (supervisors, home node only); no entries can be added to it after"},
		{name: "reopen", synopsis: "ID --reason TEXT", args: []string{"ID"}, setup: casesClose(false),
			summary: "reopen a closed case (supervisors, home node only)"},
	}, caseEntryCommands...)})
}

func (c *cli) caseService() (liaisonv1.CaseServiceClient, error) {
	conn, err := c.dial()
	if err != nil {
		return nil, err
	}
	return liaisonv1.NewCaseServiceClient(conn), nil
}

// caseResponse is the response of a call returning one case.
type caseResponse interface {
	proto.Message
	GetCase() *liaisonv1.Case
}

// printCase prints the response of a call returning one case: the case in
// detail, or the whole response as JSON.
func (c *cli) printCase(resp caseResponse) error {
	return c.print(resp, func(w io.Writer) { c.caseDetail(w, resp.GetCase(), nil) })
}

func casesCreate(fs *flag.FlagSet) handler {
	file := fs.String("f", "", "read the case from `FILE`, a liaison.v1.Case in protojson (- for stdin)")
	requestID := fs.String("request-id", "", "idempotency key (`UUID`); without it one is chosen and printed, to repeat for a safe retry")
	return func(ctx context.Context, c *cli, _ []string) error {
		if *file == "" {
			return usageErrorf("cases create needs -f FILE")
		}
		id, err := idempotencyKey(*requestID)
		if err != nil {
			return err
		}
		cs := &liaisonv1.Case{}
		if _, err := c.readProtoJSON(*file, cs); err != nil {
			return err
		}
		svc, err := c.caseService()
		if err != nil {
			return err
		}
		resp, err := svc.CreateCase(ctx, &liaisonv1.CreateCaseRequest{Case: cs, RequestId: id})
		if err != nil {
			return retryNote(err, "the case may or may not have been created", id)
		}
		fmt.Fprintf(c.stderr, "request id: %s\n", id)
		return c.printCase(resp)
	}
}

func casesGet(*flag.FlagSet) handler {
	return func(ctx context.Context, c *cli, args []string) error {
		svc, err := c.caseService()
		if err != nil {
			return err
		}
		resp, err := svc.GetCase(ctx, &liaisonv1.GetCaseRequest{Id: args[0]})
		if err != nil {
			return err
		}
		return c.print(resp, func(w io.Writer) { c.caseDetail(w, resp.GetCase(), resp) })
	}
}

func casesList(fs *flag.FlagSet) handler {
	var filters recordFilters[liaisonv1.CaseStatus]
	filters.define(fs, "cases", "open, active, suspended or closed")
	origin := fs.String("origin", "", "only cases whose home is `AGENCY`")
	sharedWith := fs.String("shared-with", "", "only cases shared with partner `AGENCY`")
	var pages pageFlags
	pages.define(fs)
	return func(ctx context.Context, c *cli, _ []string) error {
		req := &liaisonv1.ListCasesRequest{OriginAgency: *origin, SharedWith: *sharedWith}
		var err error
		if req.Status, req.CrimeArea, req.UpdatedAfter, err = filters.parse(); err != nil {
			return err
		}
		if req.PageSize, err = pages.pageSize(); err != nil {
			return err
		}
		svc, err := c.caseService()
		if err != nil {
			return err
		}
		out := &liaisonv1.ListCasesResponse{}
		out.NextPageToken, err = pages.fetch(c, func(token string) (string, error) {
			req.PageToken = token
			resp, err := svc.ListCases(ctx, req)
			out.Cases = append(out.Cases, resp.GetCases()...)
			return resp.GetNextPageToken(), err
		})
		if err != nil {
			return err
		}
		return c.print(out, func(w io.Writer) {
			caseTable(w, out.GetCases())
			printNextPage(w, out.GetNextPageToken())
		})
	}
}

func casesUpdate(fs *flag.FlagSet) handler {
	file := fs.String("f", "", "read the changes from `FILE`: a partial Case in protojson whose top-level keys name the fields to change, a key set to null clearing its field (- for stdin)")
	etag := fs.String("etag", "", "change the case only if it is still at `ETAG` (default: the etag in the patch, else the case's current one)")
	return func(ctx context.Context, c *cli, args []string) error {
		if *file == "" {
			return usageErrorf("cases update needs -f PATCH")
		}
		patch := &liaisonv1.Case{}
		mask, err := c.readPatch(*file, args[0], *etag, patch, func() (string, error) {
			svc, err := c.caseService()
			if err != nil {
				return "", err
			}
			cur, err := svc.GetCase(ctx, &liaisonv1.GetCaseRequest{Id: args[0]})
			return cur.GetCase().GetEtag(), err
		})
		if err != nil {
			return err
		}
		svc, err := c.caseService()
		if err != nil {
			return err
		}
		resp, err := svc.UpdateCase(ctx, &liaisonv1.UpdateCaseRequest{Case: patch, UpdateMask: mask})
		if err != nil {
			return err
		}
		return c.printCase(resp)
	}
}

func casesShare(fs *flag.FlagSet) handler {
	var to listFlag
	fs.Var(&to, "to", "share with partner `AGENCY` (repeatable, or comma-separated)")
	contact := contactFlags(fs, "every partner the case is shared with")
	return func(ctx context.Context, c *cli, args []string) error {
		if len(to) == 0 {
			return usageErrorf("cases share needs --to AGENCY")
		}
		svc, err := c.caseService()
		if err != nil {
			return err
		}
		resp, err := svc.ShareCase(ctx, &liaisonv1.ShareCaseRequest{Id: args[0], Partners: to, Contact: contact()})
		if err != nil {
			return err
		}
		return c.printCase(resp)
	}
}

// casesLink links (or, link false, unlinks) a lead and a case.
func casesLink(link bool) func(*flag.FlagSet) handler {
	return func(*flag.FlagSet) handler {
		return func(ctx context.Context, c *cli, args []string) error {
			svc, err := c.caseService()
			if err != nil {
				return err
			}
			if link {
				resp, err := svc.LinkLead(ctx, &liaisonv1.LinkLeadRequest{CaseId: args[0], LeadId: args[1]})
				if err != nil {
					return err
				}
				return c.printCase(resp)
			}
			resp, err := svc.UnlinkLead(ctx, &liaisonv1.UnlinkLeadRequest{CaseId: args[0], LeadId: args[1]})
			if err != nil {
				return err
			}
			return c.printCase(resp)
		}
	}
}

// casesClose closes (or, close false, reopens) a case.
func casesClose(close bool) func(*flag.FlagSet) handler {
	verb, done := "reopen", "reopened"
	if close {
		verb, done = "close", "closed"
	}
	return func(fs *flag.FlagSet) handler {
		reason := fs.String("reason", "", "why the case is "+done+" (`TEXT`, kept with the case and in the audit log)")
		return func(ctx context.Context, c *cli, args []string) error {
			if strings.TrimSpace(*reason) == "" {
				return usageErrorf("cases %s needs --reason TEXT", verb)
			}
			svc, err := c.caseService()
			if err != nil {
				return err
			}
			if close {
				resp, err := svc.CloseCase(ctx, &liaisonv1.CloseCaseRequest{Id: args[0], Reason: *reason})
				if err != nil {
					return err
				}
				return c.printCase(resp)
			}
			resp, err := svc.ReopenCase(ctx, &liaisonv1.ReopenCaseRequest{Id: args[0], Reason: *reason})
			if err != nil {
				return err
			}
			return c.printCase(resp)
		}
	}
}
