package main

import (
	"context"
	"flag"
	"io"
	"strings"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

func init() {
	register(&group{name: "permissions", summary: "asking a lead's originator for permission to use it beyond its handling code (PermissionService)", commands: []*command{
		{name: "request", detail: "Use beyond its handling code: the originator's supervisors grant or refuse, and the decision travels back.",
			synopsis: "LEAD_ID --purpose export --justification TEXT", args: []string{"LEAD_ID"}, setup: permissionsRequest,
			summary: "ask the originator of a partner's lead for permission to use it; the originator's supervisors decide"},
		{name: "list", synopsis: "[--direction incoming|outgoing] [--status pending|granted|refused] [--lead ID] [--page-size N] [--page-token T] [--all]", setup: permissionsList,
			summary: "list requests made by this agency (outgoing) and of its leads (incoming), newest first"},
		{name: "grant", detail: "Supervisors of the lead's originator decide incoming requests.",
			synopsis: "ID --reason TEXT", args: []string{"ID"}, setup: permissionsDecide(true),
			summary: "grant an incoming request (supervisors); the decision travels back to the requester"},
		{name: "refuse", detail: "Supervisors of the lead's originator decide incoming requests.",
			synopsis: "ID --reason TEXT", args: []string{"ID"}, setup: permissionsDecide(false),
			summary: "refuse an incoming request (supervisors); the decision travels back to the requester"},
	}})
}

func (c *cli) permissionService() (liaisonv1.PermissionServiceClient, error) {
	conn, err := c.dial()
	if err != nil {
		return nil, err
	}
	return liaisonv1.NewPermissionServiceClient(conn), nil
}

func permissionsRequest(fs *flag.FlagSet) handler {
	purpose := fs.String("purpose", "", "the use asked for, `PURPOSE`: export")
	justification := fs.String("justification", "", "why the lead is needed for that use (`TEXT`, shown to the originator)")
	return func(ctx context.Context, c *cli, args []string) error {
		if *purpose == "" {
			return usageErrorf("permissions request needs --purpose export")
		}
		p, err := parseEnum[liaisonv1.PermissionPurpose](*purpose, nil)
		if err != nil {
			return usageErrorf("--purpose: %v", err)
		}
		if strings.TrimSpace(*justification) == "" {
			return usageErrorf("permissions request needs --justification TEXT")
		}
		svc, err := c.permissionService()
		if err != nil {
			return err
		}
		resp, err := svc.RequestPermission(ctx, &liaisonv1.RequestPermissionRequest{RecordId: args[0], Purpose: p, Justification: *justification})
		if err != nil {
			return err
		}
		return c.print(resp, func(w io.Writer) { permissionDetail(w, resp.GetRequest()) })
	}
}

func permissionsList(fs *flag.FlagSet) handler {
	direction := fs.String("direction", "", "only requests in `DIRECTION`: outgoing (made by this agency) or incoming (made of its leads)")
	statusFlag := fs.String("status", "", "only requests in `STATUS`: pending, granted or refused")
	lead := fs.String("lead", "", "only requests about lead `ID`")
	var pages pageFlags
	pages.define(fs)
	return func(ctx context.Context, c *cli, _ []string) error {
		req := &liaisonv1.ListPermissionRequestsRequest{RecordId: *lead}
		var err error
		if *direction != "" {
			if req.Direction, err = parseEnum[liaisonv1.PermissionDirection](*direction, nil); err != nil {
				return usageErrorf("--direction: %v", err)
			}
		}
		if *statusFlag != "" {
			if req.Status, err = parseEnum[liaisonv1.PermissionStatus](*statusFlag, nil); err != nil {
				return usageErrorf("--status: %v", err)
			}
		}
		if req.PageSize, err = pages.pageSize(); err != nil {
			return err
		}
		svc, err := c.permissionService()
		if err != nil {
			return err
		}
		out := &liaisonv1.ListPermissionRequestsResponse{}
		out.NextPageToken, err = pages.fetch(c, func(token string) (string, error) {
			req.PageToken = token
			resp, err := svc.ListPermissionRequests(ctx, req)
			out.Requests = append(out.Requests, resp.GetRequests()...)
			return resp.GetNextPageToken(), err
		})
		if err != nil {
			return err
		}
		return c.print(out, func(w io.Writer) {
			permissionTable(w, out.GetRequests())
			printNextPage(w, out.GetNextPageToken())
		})
	}
}

func permissionsDecide(grant bool) func(fs *flag.FlagSet) handler {
	verb, done := "refuse", "refused"
	if grant {
		verb, done = "grant", "granted"
	}
	return func(fs *flag.FlagSet) handler {
		reason := fs.String("reason", "", "why the request is "+done+" (`TEXT`, sent to the requester)")
		return func(ctx context.Context, c *cli, args []string) error {
			if strings.TrimSpace(*reason) == "" {
				return usageErrorf("permissions %s needs --reason TEXT", verb)
			}
			svc, err := c.permissionService()
			if err != nil {
				return err
			}
			resp, err := svc.DecidePermissionRequest(ctx, &liaisonv1.DecidePermissionRequestRequest{Id: args[0], Grant: grant, Reason: *reason})
			if err != nil {
				return err
			}
			return c.print(resp, func(w io.Writer) { permissionDetail(w, resp.GetRequest()) })
		}
	}
}

var permissionColumns = []string{"ID", "LEAD", "PURPOSE", "FROM", "TO", "STATUS", "REQUESTED BY", "CREATED", "DECIDED BY", "REASON", "JUSTIFICATION"}

// permissionTable lists requests: FROM is the requesting agency, TO the
// originator, who decides; REASON is the decision's.
func permissionTable(w io.Writer, rs []*liaisonv1.PermissionRequest) {
	row(w, permissionColumns...)
	for _, r := range rs {
		row(w, r.GetId(), r.GetRecordId(), enumName(r.GetPurpose()), r.GetRequestingAgency(), r.GetOriginAgency(),
			enumName(r.GetStatus()), orDash(r.GetRequestedBy()), timestamp(r.GetCreateTime()), orDash(r.GetDecidedBy()),
			orDash(truncate(r.GetDecisionReason(), 60)), orDash(truncate(r.GetJustification(), 60)))
	}
}

// permissionDetail is the key/value view of one request.
func permissionDetail(w io.Writer, r *liaisonv1.PermissionRequest) {
	row(w, "ID:", r.GetId())
	row(w, "LEAD:", r.GetRecordId())
	row(w, "PURPOSE:", enumName(r.GetPurpose()))
	row(w, "FROM:", r.GetRequestingAgency()+" (requester)")
	row(w, "TO:", r.GetOriginAgency()+" (originator, decides)")
	row(w, "STATUS:", enumName(r.GetStatus()))
	row(w, "JUSTIFICATION:", r.GetJustification())
	row(w, "REQUESTED BY:", orDash(r.GetRequestedBy()))
	row(w, "CREATED:", timestamp(r.GetCreateTime()))
	if r.GetStatus() != liaisonv1.PermissionStatus_PERMISSION_STATUS_PENDING {
		row(w, "DECIDED BY:", orDash(r.GetDecidedBy()))
		row(w, "DECIDED:", timestamp(r.GetDecideTime()))
		row(w, "REASON:", orDash(r.GetDecisionReason()))
	}
}
