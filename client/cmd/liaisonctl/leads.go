package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

func init() {
	// The commands about leads and partners live in leads_fed.go.
	register(&group{name: "leads", summary: "smuggler leads (LeadService)", commands: append([]*command{
		{name: "create", detail: "FILE is a liaison.v1.Lead in protojson (\"-\" reads stdin). Without --request-id a UUIDv7 is chosen and printed on stderr, so the same invocation, given that --request-id, can be retried safely: it returns the first result.",
			synopsis: "-f FILE [--request-id UUID]", setup: leadsCreate,
			summary: "create a draft lead from a protojson liaison.v1.Lead"},
		{name: "get", detail: "A partner's replica is marked read-only, with the restriction its handling code puts on this agency.",
			synopsis: "ID", args: []string{"ID"}, setup: leadsGet,
			summary: "show a lead in detail"},
		{name: "list", detail: "--all follows the pages to the end.",
			synopsis: "[--status S] [--crime-area A] [--origin AGENCY] [--updated-after TIME] [--page-size N] [--page-token T] [--all]", setup: leadsList,
			summary: "list leads, newest first"},
		{name: "update", detail: "Without --etag the lead is read first; with a stale --etag the node refuses the change (ABORTED).",
			synopsis: "ID -f PATCH [--etag E]", args: []string{"ID"}, setup: leadsUpdate,
			summary: "change the fields named by the top-level keys of PATCH (a partial protojson Lead)"},
		{name: "release", detail: "A contact point given goes to every partner holding the lead: officers' names do not cross the border, so it says whom to contact.",
			synopsis: "ID --to AGENCY[,AGENCY] [--etag E] [--contact-desk D] [--contact-phone P] [--contact-email E]", args: []string{"ID"}, setup: leadsRelease,
			summary: "release a lead to partner agencies (supervisors)"},
		{name: "withdraw", synopsis: "ID --reason TEXT [--etag E]", args: []string{"ID"}, setup: leadsWithdraw,
			summary: "withdraw a lead (supervisors); partners keep only a tombstone"},
	}, leadsFederationCommands...)})
}

func (c *cli) leadService() (liaisonv1.LeadServiceClient, error) {
	conn, err := c.dial()
	if err != nil {
		return nil, err
	}
	return liaisonv1.NewLeadServiceClient(conn), nil
}

func leadsCreate(fs *flag.FlagSet) handler {
	file := fs.String("f", "", "read the lead from `FILE`, a liaison.v1.Lead in protojson (- for stdin)")
	requestID := fs.String("request-id", "", "idempotency key (`UUID`); without it one is chosen and printed, to repeat for a safe retry")
	return func(ctx context.Context, c *cli, _ []string) error {
		if *file == "" {
			return usageErrorf("leads create needs -f FILE")
		}
		id, err := idempotencyKey(*requestID)
		if err != nil {
			return err
		}
		lead := &liaisonv1.Lead{}
		if _, err := c.readProtoJSON(*file, lead); err != nil {
			return err
		}
		svc, err := c.leadService()
		if err != nil {
			return err
		}
		resp, err := svc.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: lead, RequestId: id})
		if err != nil {
			return retryNote(err, "the lead may or may not have been created", id)
		}
		// The response has no field for it, so it goes to stderr in both
		// formats, leaving stdout to the response.
		fmt.Fprintf(c.stderr, "request id: %s\n", id)
		return c.printLead(resp, resp.GetLead())
	}
}

// retryable says whether a failed call may not have taken effect, or may
// succeed if repeated unchanged.
func retryable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.Internal, codes.Unknown, codes.ResourceExhausted, codes.Aborted:
		return true
	}
	return false
}

func leadsGet(*flag.FlagSet) handler {
	return func(ctx context.Context, c *cli, args []string) error {
		svc, err := c.leadService()
		if err != nil {
			return err
		}
		resp, err := svc.GetLead(ctx, &liaisonv1.GetLeadRequest{Id: args[0]})
		if err != nil {
			return err
		}
		return c.printLead(resp, resp.GetLead())
	}
}

func leadsList(fs *flag.FlagSet) handler {
	var filters recordFilters[liaisonv1.LeadStatus]
	filters.define(fs, "leads", "draft, released or withdrawn")
	origin := fs.String("origin", "", "only leads whose home is `AGENCY`")
	var pages pageFlags
	pages.define(fs)
	return func(ctx context.Context, c *cli, _ []string) error {
		req := &liaisonv1.ListLeadsRequest{OriginAgency: *origin}
		var err error
		if req.Status, req.CrimeArea, req.UpdatedAfter, err = filters.parse(); err != nil {
			return err
		}
		if req.PageSize, err = pages.pageSize(); err != nil {
			return err
		}
		svc, err := c.leadService()
		if err != nil {
			return err
		}
		out := &liaisonv1.ListLeadsResponse{}
		out.NextPageToken, err = pages.fetch(c, func(token string) (string, error) {
			req.PageToken = token
			resp, err := svc.ListLeads(ctx, req)
			out.Leads = append(out.Leads, resp.GetLeads()...)
			return resp.GetNextPageToken(), err
		})
		if err != nil {
			return err
		}
		return c.print(out, func(w io.Writer) {
			leadTable(w, out.GetLeads())
			printNextPage(w, out.GetNextPageToken())
		})
	}
}

func leadsUpdate(fs *flag.FlagSet) handler {
	file := fs.String("f", "", "read the changes from `FILE`: a partial Lead in protojson whose top-level keys name the fields to change, a key set to null clearing its field (- for stdin)")
	etag := fs.String("etag", "", "change the lead only if it is still at `ETAG` (default: the etag in the patch, else the lead's current one)")
	return func(ctx context.Context, c *cli, args []string) error {
		if *file == "" {
			return usageErrorf("leads update needs -f PATCH")
		}
		patch := &liaisonv1.Lead{}
		mask, err := c.readPatch(*file, args[0], *etag, patch, func() (string, error) {
			svc, err := c.leadService()
			if err != nil {
				return "", err
			}
			cur, err := svc.GetLead(ctx, &liaisonv1.GetLeadRequest{Id: args[0]})
			return cur.GetLead().GetEtag(), err
		})
		if err != nil {
			return err
		}
		svc, err := c.leadService()
		if err != nil {
			return err
		}
		resp, err := svc.UpdateLead(ctx, &liaisonv1.UpdateLeadRequest{Lead: patch, UpdateMask: mask})
		if err != nil {
			return err
		}
		return c.printLead(resp, resp.GetLead())
	}
}

func leadsRelease(fs *flag.FlagSet) handler {
	var to listFlag
	fs.Var(&to, "to", "release to partner `AGENCY` (repeatable, or comma-separated)")
	etag := fs.String("etag", "", "release only if the lead is still at `ETAG`")
	contact := contactFlags(fs, "every partner holding the lead")
	return func(ctx context.Context, c *cli, args []string) error {
		if len(to) == 0 {
			return usageErrorf("leads release needs --to AGENCY")
		}
		svc, err := c.leadService()
		if err != nil {
			return err
		}
		resp, err := svc.ReleaseLead(ctx, &liaisonv1.ReleaseLeadRequest{Id: args[0], Partners: to, Etag: *etag, Contact: contact()})
		if err != nil {
			return err
		}
		return c.printLead(resp, resp.GetLead())
	}
}

func leadsWithdraw(fs *flag.FlagSet) handler {
	reason := fs.String("reason", "", "why the lead is withdrawn (`TEXT`, recorded in the audit log)")
	etag := fs.String("etag", "", "withdraw only if the lead is still at `ETAG`")
	return func(ctx context.Context, c *cli, args []string) error {
		if strings.TrimSpace(*reason) == "" {
			return usageErrorf("leads withdraw needs --reason TEXT")
		}
		svc, err := c.leadService()
		if err != nil {
			return err
		}
		resp, err := svc.WithdrawLead(ctx, &liaisonv1.WithdrawLeadRequest{Id: args[0], Reason: *reason, Etag: *etag})
		if err != nil {
			return err
		}
		return c.printLead(resp, resp.GetLead())
	}
}

// contactFlags defines --contact-desk, --contact-phone and --contact-email
// and returns the contact point they give (nil if none).
func contactFlags(fs *flag.FlagSet, who string) func() *liaisonv1.ContactPoint {
	desk := fs.String("contact-desk", "", "the `DESK` "+who+" should contact (officers' names do not cross the border)")
	phone := fs.String("contact-phone", "", "the contact `PHONE` (international format, +…)")
	email := fs.String("contact-email", "", "the contact `EMAIL`")
	return func() *liaisonv1.ContactPoint {
		if *desk == "" && *phone == "" && *email == "" {
			return nil
		}
		return &liaisonv1.ContactPoint{Desk: *desk, Phone: *phone, Email: *email}
	}
}
