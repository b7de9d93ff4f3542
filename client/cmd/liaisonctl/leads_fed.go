package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// leadsFederationCommands are the commands of the leads group about what
// partners hold: they join the group registered in leads.go.
var leadsFederationCommands = []*command{
	{name: "receipts", synopsis: "ID", args: []string{"ID"}, setup: leadsReceipts,
		summary: "list the envelopes sent to partners about an own lead and each partner's receipt (e.g. of its deletion)"},
	{name: "export", synopsis: "[--id ID]... [--origin AGENCY] [--updated-after TIME] [--out FILE]", setup: leadsExport,
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
		svc, err := c.leadService()
		if err != nil {
			return err
		}
		dst, err := c.exportOutput(*out)
		if err != nil {
			return err
		}
		defer dst.abort()
		// Cancelled on return, so that a stream left unread (a failed
		// write) ends at once.
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stream, err := svc.ExportLeads(ctx, req)
		if err != nil {
			return exportFailed(err, dst, 0, len(ids) > 0)
		}
		var exported, refused, restricted int
		own := c.callerAgency()
		for {
			resp, err := stream.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				return exportFailed(err, dst, exported, len(ids) > 0)
			}
			switch item := resp.GetItem().(type) {
			case *liaisonv1.ExportLeadsResponse_Lead:
				if err := dst.write(item.Lead); err != nil {
					return exportFailed(err, dst, exported, false)
				}
				exported++
			case *liaisonv1.ExportLeadsResponse_Refused:
				r := item.Refused
				fmt.Fprintf(c.stderr, "refused %s (%s, %s): %s\n", r.GetId(), r.GetOriginAgency(), handlingCodeName(r.GetHandlingCode()), r.GetReason())
				refused++
				if r.GetOriginAgency() != own && r.GetHandlingCode() > liaisonv1.HandlingCode_HANDLING_CODE_H0 {
					restricted++
				}
			}
		}
		if err := dst.commit(); err != nil {
			return exportFailed(err, dst, exported, false)
		}
		fmt.Fprintf(c.stderr, "exported %d, refused %d\n", exported, refused)
		if refused > 0 {
			err := fmt.Errorf("%s not exported", leadCount(refused))
			if restricted > 0 {
				// Not for withdrawn leads: no permission brings them back.
				err = &noteError{err, []string{askPermission}}
			}
			return err
		}
		return nil
	}
}

// handlingCodeName is "H2"; "-" for none (a withdrawn lead keeps none).
func handlingCodeName(h liaisonv1.HandlingCode) string {
	if h == liaisonv1.HandlingCode_HANDLING_CODE_UNSPECIFIED {
		return "-"
	}
	return enumSuffix(h)
}

// exportFailed adds to an error that ended an export what became of the
// output.
func exportFailed(err error, dst *exportOutput, exported int, byID bool) error {
	var notes []string
	if byID && isCode(err, codes.FailedPrecondition) {
		notes = append(notes, "nothing was exported: with --id the export is all or nothing")
		if brokeHandlingRule(err) {
			notes = append(notes, askPermission)
		}
	}
	switch {
	case dst.file != nil && exported > 0:
		notes = append(notes, fmt.Sprintf("%s was not written (%s had been received)", dst.path, leadCount(exported)))
	case dst.file != nil:
		notes = append(notes, dst.path+" was not written")
	case exported > 0:
		notes = append(notes, fmt.Sprintf("the export is incomplete: stdout holds the %s received before the error", leadCount(exported)))
	}
	if len(notes) == 0 {
		return err
	}
	return &noteError{err, notes}
}

const askPermission = "to export a partner's lead its handling code restricts, ask its originator: liaisonctl permissions request LEAD_ID --purpose export --justification TEXT"

func leadCount(n int) string {
	if n == 1 {
		return "1 lead"
	}
	return fmt.Sprintf("%d leads", n)
}

// brokeHandlingRule says whether a refusal names a handling code that
// permission would lift (rules handling.h1, h2, h3).
func brokeHandlingRule(err error) bool {
	var re *rpcError
	if !errors.As(err, &re) {
		return false
	}
	for _, d := range re.st.Details() {
		if pf, ok := d.(*errdetails.PreconditionFailure); ok {
			for _, v := range pf.GetViolations() {
				if strings.HasPrefix(v.GetType(), "handling.h") {
					return true
				}
			}
		}
	}
	return false
}

func isCode(err error, code codes.Code) bool {
	var re *rpcError
	return errors.As(err, &re) && re.st.Code() == code
}

// exportOutput is where an export goes: stdout, or a temporary file next
// to --out that becomes it when the export is complete. Leads are written
// as they arrive, never gathered in memory.
type exportOutput struct {
	w    *bufio.Writer
	file *os.File // nil for stdout
	path string
	done bool
	line bytes.Buffer
}

func (c *cli) exportOutput(path string) (*exportOutput, error) {
	if path == "" || path == "-" {
		return &exportOutput{w: bufio.NewWriter(c.stdout)}, nil
	}
	// Created 0600: an export holds personal data.
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.part")
	if err != nil {
		return nil, fmt.Errorf("--out: %w", err)
	}
	return &exportOutput{w: bufio.NewWriter(f), file: f, path: path}, nil
}

// write writes a lead as one line of compact JSON.
func (o *exportOutput) write(l *liaisonv1.Lead) error {
	b, err := protojson.Marshal(l)
	if err != nil {
		return fmt.Errorf("encode lead %s: %w", l.GetId(), err)
	}
	// protojson's spacing varies on purpose; compact it to one stable form.
	o.line.Reset()
	if err := json.Compact(&o.line, b); err != nil {
		return fmt.Errorf("encode lead %s: %w", l.GetId(), err)
	}
	o.line.WriteByte('\n')
	if _, err := o.w.Write(o.line.Bytes()); err != nil {
		return o.writeErr(err)
	}
	return nil
}

func (o *exportOutput) writeErr(err error) error {
	if o.file == nil {
		return fmt.Errorf("write stdout: %w", err)
	}
	return fmt.Errorf("write %s: %w", o.path, err)
}

// commit flushes the leads out and puts the file in place.
func (o *exportOutput) commit() error {
	if err := o.w.Flush(); err != nil {
		return o.writeErr(err)
	}
	if o.file == nil {
		o.done = true
		return nil
	}
	if err := o.file.Sync(); err != nil {
		return o.writeErr(err)
	}
	if err := o.file.Close(); err != nil {
		return o.writeErr(err)
	}
	if err := os.Rename(o.file.Name(), o.path); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	o.done = true
	return nil
}

// abort, unless the export was committed, passes on to stdout what was
// received, or removes the temporary file.
func (o *exportOutput) abort() {
	if o.done {
		return
	}
	o.done = true
	if o.file == nil {
		o.w.Flush()
		return
	}
	o.file.Close()
	os.Remove(o.file.Name())
}
