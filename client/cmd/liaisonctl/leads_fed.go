package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// leadsFederationCommands are the commands of the leads group about what
// partners hold: they join the group registered in leads.go.
var leadsFederationCommands = []*command{
	{name: "receipts", detail: "Shows each envelope sent to partners about an own lead with the partner's receipt, and which partners confirmed deleting it.",
		synopsis: "ID", args: []string{"ID"}, setup: leadsReceipts,
		summary: "list the envelopes sent to partners about an own lead and each partner's receipt (e.g. of its deletion)"},
	{name: "export", detail: "Writes one compact protojson Lead a line (NDJSON), to stdout or, once complete, to FILE. A partner's lead whose handling code forbids export is reported on stderr and makes the exit status 1; with --id the export is all or nothing. -o does not change the format. For bulk NDJSON or CSV with progress, see 'liaisonctl help export' and 'liaisonctl help import'.",
		synopsis: "[--id ID]... [--origin AGENCY] [--updated-after TIME] [--out FILE]", setup: leadsExport,
		summary: "write leads as NDJSON (a protojson Lead a line) for the agency's own systems; exit status 1 if any was refused; --timeout bounds the whole export"},
}

func leadsReceipts(*flag.FlagSet) handler {
	return func(ctx context.Context, c *cli, args []string) error {
		svc, err := c.leadService()
		if err != nil {
			return err
		}
		resp, err := svc.ListLeadReceipts(ctx, &liaisonv1.ListLeadReceiptsRequest{Id: args[0]})
		if err != nil {
			return err
		}
		return c.print(resp, func(w io.Writer) {
			if len(resp.GetDeliveries()) == 0 {
				fmt.Fprintf(w, "nothing was sent to partners about lead %s: it was never released\n", args[0])
				return
			}
			row(w, "PARTNER", "SEQ", "KIND", "VERSION", "SENT", "STATUS", "RECEIPT TIME", "REASON")
			for _, d := range resp.GetDeliveries() {
				row(w, d.GetPartner(), fmt.Sprint(d.GetSequence()), envelopeKindName(d.GetKind()), fmt.Sprint(d.GetRecordVersion()),
					timestamp(d.GetCreateTime()), receiptStatusName(d.GetStatus()), timestamp(d.GetReceiptTime()), orDash(d.GetReason()))
			}
			if lines := deletionSummary(resp.GetDeliveries()); len(lines) > 0 {
				fmt.Fprintln(w)
				for _, l := range lines {
					fmt.Fprintln(w, l)
				}
			}
		})
	}
}

func envelopeKindName(k liaisonv1.EnvelopeKind) string {
	switch k {
	case liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD:
		return "lead"
	case liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD_TOMBSTONE:
		return "tombstone"
	}
	return enumName(k)
}

// receiptStatusName is what became of an envelope; "waiting" while the
// partner has not answered.
func receiptStatusName(s liaisonv1.ReceiptStatus) string {
	if s == liaisonv1.ReceiptStatus_RECEIPT_STATUS_UNSPECIFIED {
		return "waiting"
	}
	return enumName(s)
}

// deletionSummary says which partners confirmed deleting the lead: by the
// receipt of the last tombstone sent to each. Nothing if no tombstone was
// sent.
func deletionSummary(ds []*liaisonv1.Delivery) []string {
	last := map[string]*liaisonv1.Delivery{}
	for _, d := range ds {
		if d.GetKind() != liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD_TOMBSTONE {
			continue
		}
		if cur, ok := last[d.GetPartner()]; !ok || d.GetSequence() > cur.GetSequence() {
			last[d.GetPartner()] = d
		}
	}
	var confirmed, pending []string
	for p, d := range last {
		switch d.GetStatus() {
		case liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED:
			confirmed = append(confirmed, p)
		case liaisonv1.ReceiptStatus_RECEIPT_STATUS_UNSPECIFIED:
			pending = append(pending, p)
		default:
			pending = append(pending, fmt.Sprintf("%s (%s)", p, receiptStatusName(d.GetStatus())))
		}
	}
	slices.Sort(confirmed)
	slices.Sort(pending)
	var lines []string
	if len(confirmed) > 0 {
		lines = append(lines, "deletion confirmed by: "+strings.Join(confirmed, ", "))
	}
	if len(pending) > 0 {
		lines = append(lines, "deletion not yet confirmed by: "+strings.Join(pending, ", "))
	}
	return lines
}

func leadsExport(fs *flag.FlagSet) handler {
	var ids listFlag
	fs.Var(&ids, "id", "export exactly lead `ID` (repeatable, or comma-separated); all or nothing: if one may not be exported, none is")
	origin := fs.String("origin", "", "only leads whose home is `AGENCY`")
	updatedAfter := fs.String("updated-after", "", "only leads changed after `TIME` (RFC 3339)")
	out := fs.String("out", "", "write the leads to `FILE` instead of stdout; it is replaced only when the export is complete")
	return func(ctx context.Context, c *cli, _ []string) error {
		req := &liaisonv1.ExportLeadsRequest{Ids: ids, OriginAgency: *origin}
		var err error
		if req.UpdatedAfter, err = parseTime("--updated-after", *updatedAfter); err != nil {
			return err
		}
		if len(ids) > 0 && (*origin != "" || *updatedAfter != "") {
			return usageErrorf("--id exports exactly the leads named: it does not go with --origin or --updated-after")
		}
		return c.exportLeads(ctx, leadExport{req: req, out: *out, format: formatNDJSON, progress: isTerminal(c.stderr)})
	}
}

// handlingCodeName is "H2"; "-" for none (a withdrawn lead keeps none).
func handlingCodeName(h liaisonv1.HandlingCode) string {
	if h == liaisonv1.HandlingCode_HANDLING_CODE_UNSPECIFIED {
		return "-"
	}
	return enumSuffix(h)
}

func leadCount(n int) string {
	if n == 1 {
		return "1 lead"
	}
	return fmt.Sprintf("%d leads", n)
}

func isCode(err error, code codes.Code) bool {
	var re *rpcError
	return errors.As(err, &re) && re.st.Code() == code
}
