package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

func init() {
	register(&group{name: "audit", summary: "the node's tamper-evident audit log (AuditService, auditors)", commands: []*command{
		{name: "list", synopsis: "[--record ID] [--principal P] [--action A] [--resource R] [--outcome O] [--agency A] [--since TIME] [--until TIME] [--page-size N] [--page-token T] [--all]", setup: auditList,
			summary: "list audit events, newest first"},
		{name: "verify", setup: auditVerify,
			summary: "recompute the chain and the Merkle tree against the signed checkpoints; exit status 3 if broken"},
		{name: "prove", synopsis: "SEQ --out FILE", setup: auditProve,
			summary: "write the evidence that event SEQ is in the log (check it offline with `liaison audit check-proof`)"},
	}})
}

func (c *cli) auditService() (liaisonv1.AuditServiceClient, error) {
	conn, err := c.dial()
	if err != nil {
		return nil, err
	}
	return liaisonv1.NewAuditServiceClient(conn), nil
}

func auditList(fs *flag.FlagSet) handler {
	principal := fs.String("principal", "", "only events of `SPIFFE-ID`")
	action := fs.String("action", "", "only events of `ACTION`, a full method name like /liaison.v1.LeadService/CreateLead")
	resource := fs.String("resource", "", "only events on `RESOURCE`, like leads/ID")
	record := fs.String("record", "", "only events about the record `ID`: calls aimed at it and calls that returned it (list pages, searches, exports, change feed); with --outcome OK, who saw it")
	outcome := fs.String("outcome", "", "only events with `OUTCOME`: OK or a gRPC code (PERMISSION_DENIED or PermissionDenied)")
	agency := fs.String("agency", "", "only events of callers of `AGENCY`")
	since := fs.String("since", "", "only events at or after `TIME` (RFC 3339)")
	until := fs.String("until", "", "only events before `TIME` (RFC 3339)")
	var pages pageFlags
	pages.define(fs)
	return func(ctx context.Context, c *cli, _ []string) error {
		req := &liaisonv1.ListAuditEventsRequest{
			Principal: *principal, Action: *action, Resource: *resource, Outcome: outcomeFilter(*outcome), Agency: *agency,
			RecordId: *record,
		}
		var err error
		if req.StartTime, err = parseTime("--since", *since); err != nil {
			return err
		}
		if req.EndTime, err = parseTime("--until", *until); err != nil {
			return err
		}
		if req.PageSize, err = pages.pageSize(); err != nil {
			return err
		}
		svc, err := c.auditService()
		if err != nil {
			return err
		}
		out := &liaisonv1.ListAuditEventsResponse{}
		out.NextPageToken, err = pages.fetch(c, func(token string) (string, error) {
			req.PageToken = token
			resp, err := svc.ListAuditEvents(ctx, req)
			out.Events = append(out.Events, resp.GetEvents()...)
			return resp.GetNextPageToken(), err
		})
		if err != nil {
			return err
		}
		return c.print(out, func(w io.Writer) {
			row(w, "SEQ", "TIME", "AGENCY", "PRINCIPAL", "ROLE", "ACTION", "RESOURCE", "OUTCOME", "REQUEST ID", "DETAIL")
			for _, e := range out.GetEvents() {
				row(w, fmt.Sprint(e.GetSequence()), timestamp(e.GetTime()), orDash(e.GetAgency()), orDash(e.GetPrincipal()), orDash(e.GetRole()),
					e.GetAction(), orDash(e.GetResource()), e.GetOutcome(), orDash(e.GetRequestId()), orDash(truncate(e.GetDetail(), 80)))
			}
			printNextPage(w, out.GetNextPageToken())
		})
	}
}

// outcomeFilter spells a status code the way the node records outcomes,
// canonically ("PERMISSION_DENIED"), accepting any case, dashes, and Go's
// spelling ("PermissionDenied"). Anything else passes unchanged.
func outcomeFilter(s string) string {
	norm := strings.ToUpper(strings.ReplaceAll(s, "-", "_"))
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		if norm == codeName(c) || strings.EqualFold(s, c.String()) {
			return codeName(c)
		}
	}
	return s
}

func auditVerify(*flag.FlagSet) handler {
	return func(ctx context.Context, c *cli, _ []string) error {
		svc, err := c.auditService()
		if err != nil {
			return err
		}
		resp, err := svc.VerifyAuditLog(ctx, &liaisonv1.VerifyAuditLogRequest{})
		if err != nil {
			return err
		}
		err = c.print(resp, func(w io.Writer) {
			if resp.GetOk() {
				row(w, "RESULT:", "ok, the chain verifies")
			} else {
				row(w, "RESULT:", "BROKEN")
				row(w, "FIRST BAD SEQUENCE:", fmt.Sprint(resp.GetFirstBadSequence()))
				row(w, "PROBLEM:", resp.GetProblem())
			}
			row(w, "EVENTS CHECKED:", fmt.Sprint(resp.GetEventsChecked()))
			row(w, "CHECKPOINTS MATCHED:", fmt.Sprintf("%d, the latest at %d events", resp.GetCheckpointsMatched(), resp.GetCheckpointSize()))
			if resp.GetWitnessedSize() > 0 {
				row(w, "WITNESSED:", fmt.Sprintf("at %d events by %s", resp.GetWitnessedSize(), strings.Join(resp.GetWitnesses(), ", ")))
			} else {
				row(w, "WITNESSED:", "no checkpoint cosigned by a witness yet")
			}
			row(w, "HEAD SEQUENCE:", fmt.Sprint(resp.GetHeadSequence()))
			row(w, "HEAD HASH:", hex.EncodeToString(resp.GetHeadHash()))
		})
		if err != nil {
			return err
		}
		if !resp.GetOk() {
			return &exitError{exitVerifyFailed, fmt.Sprintf("audit chain broken at sequence %d: %s", resp.GetFirstBadSequence(), resp.GetProblem())}
		}
		return nil
	}
}

func auditProve(fs *flag.FlagSet) handler {
	out := fs.String("out", "", "write the evidence (JSON) to `FILE`")
	return func(ctx context.Context, c *cli, args []string) error {
		if len(args) != 1 {
			return usageErrorf("audit prove: give one event sequence number")
		}
		seq, err := strconv.ParseInt(args[0], 10, 64)
		if err != nil || seq < 1 {
			return usageErrorf("audit prove: %q is not an event sequence number", args[0])
		}
		if *out == "" {
			return usageErrorf("audit prove: --out is required")
		}
		svc, err := c.auditService()
		if err != nil {
			return err
		}
		resp, err := svc.ProveAuditEvent(ctx, &liaisonv1.ProveAuditEventRequest{Sequence: seq})
		if err != nil {
			return err
		}
		b, err := protojson.MarshalOptions{Multiline: true}.Marshal(resp.GetEvidence())
		if err != nil {
			return err
		}
		if err := os.WriteFile(*out, append(b, '\n'), 0o600); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "evidence of event %d written to %s\n", seq, *out)
		return nil
	}
}
