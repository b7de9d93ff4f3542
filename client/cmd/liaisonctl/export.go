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
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

func init() {
	// A group that is itself the command: "liaisonctl export --kind leads".
	register(&group{name: "export", summary: "bulk export of records for the agency's own systems", commands: []*command{
		{name: "", synopsis: "--kind leads [--since TIME] [--origin AGENCY] [--out FILE] [--format ndjson|csv] [--progress|--no-progress]", setup: exportRecords,
			summary: "write records as NDJSON (a protojson record a line, lossless) or CSV (the columns 'liaisonctl help import' lists); " +
				"a partner's record whose handling code forbids export is reported on stderr and makes the exit status 1; --timeout bounds the whole export"},
	}})
}

// exportKinds are the kinds of record export --kind takes.
var exportKinds = []string{"leads"}

func exportRecords(fs *flag.FlagSet) handler {
	kind := fs.String("kind", "", "the `KIND` of record to export: "+strings.Join(exportKinds, ", "))
	since := fs.String("since", "", "only records changed after `TIME` (RFC 3339)")
	origin := fs.String("origin", "", "only records whose home is `AGENCY`")
	out := fs.String("out", "", "write to `FILE` instead of stdout; it is replaced only when the export is complete")
	format := fs.String("format", "", "`FORMAT`: ndjson, lossless, or csv (default: csv if --out ends in .csv, else ndjson); "+
		"a lead the CSV columns cannot hold whole (several subjects, locations, routes, aliases, a second name, sex, a document's expiry) is refused, not cut")
	var prog progressFlags
	prog.define(fs)
	return func(ctx context.Context, c *cli, _ []string) error {
		switch *kind {
		case "leads":
		case "":
			return usageErrorf("export needs --kind KIND (%s)", strings.Join(exportKinds, ", "))
		default:
			return usageErrorf("--kind %q: the kinds that can be exported are %s", *kind, strings.Join(exportKinds, ", "))
		}
		f, err := fileFormat("--format", *format, *out, formatNDJSON)
		if err != nil {
			return err
		}
		req := &liaisonv1.ExportLeadsRequest{OriginAgency: *origin}
		if req.UpdatedAfter, err = parseTime("--since", *since); err != nil {
			return err
		}
		show, err := prog.enabled(c.stderr)
		if err != nil {
			return err
		}
		return c.exportLeads(ctx, leadExport{req: req, out: *out, format: f, progress: show})
	}
}

// leadExport is one export of leads: what to ask the node for, and where
// and how to write it.
type leadExport struct {
	req *liaisonv1.ExportLeadsRequest
	// out is the file to write ("" or "-": stdout); format is formatNDJSON
	// or formatCSV.
	out, format string
	// progress draws a progress line on stderr.
	progress bool
}

// exportLeads runs an export of leads: `leads export` and `export --kind
// leads`. Leads are written as they arrive; refusals (by the node, for a
// handling code, or by the format, a lead CSV cannot hold) are reported on
// stderr and make the export fail once it has written the rest.
func (c *cli) exportLeads(ctx context.Context, x leadExport) error {
	byID := len(x.req.GetIds()) > 0
	svc, err := c.leadService()
	if err != nil {
		return err
	}
	dst, err := c.exportOutput(x.out, x.format)
	if err != nil {
		return err
	}
	defer dst.abort()
	// Cancelled on return, so that a stream left unread (a failed write)
	// ends at once.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := svc.ExportLeads(ctx, x.req)
	if err != nil {
		return exportFailed(err, dst, 0, byID)
	}
	prog := startProgress(c.stderr, x.progress, 0, "leads")
	defer prog.end()
	var exported, refused, restricted int
	own := c.callerAgency()
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			prog.end()
			return exportFailed(err, dst, exported, byID)
		}
		prog.add(1)
		switch item := resp.GetItem().(type) {
		case *liaisonv1.ExportLeadsResponse_Lead:
			l := item.Lead
			var unfit *csvUnfitError
			err := dst.write(l)
			switch {
			case errors.As(err, &unfit):
				prog.printf("refused %s (%s, %s): %v\n", l.GetId(), l.GetOriginAgency(), handlingCodeName(l.GetHandling().GetCode()), unfit)
				refused++
				continue
			case err != nil:
				prog.end()
				return exportFailed(err, dst, exported, false)
			}
			exported++
		case *liaisonv1.ExportLeadsResponse_Refused:
			r := item.Refused
			prog.printf("refused %s (%s, %s): %s\n", r.GetId(), r.GetOriginAgency(), handlingCodeName(r.GetHandlingCode()), r.GetReason())
			refused++
			if r.GetOriginAgency() != own && r.GetHandlingCode() > liaisonv1.HandlingCode_HANDLING_CODE_H0 {
				restricted++
			}
		}
	}
	prog.end()
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

// leadEncoder writes leads in one format.
type leadEncoder interface {
	encode(l *liaisonv1.Lead) error
	flush() error
}

// ndjsonEncoder writes a lead as one line of compact protojson.
type ndjsonEncoder struct {
	w    io.Writer
	line bytes.Buffer
}

func (e *ndjsonEncoder) encode(l *liaisonv1.Lead) error {
	b, err := protojson.Marshal(l)
	if err != nil {
		return fmt.Errorf("encode lead %s: %w", l.GetId(), err)
	}
	// protojson's spacing varies on purpose; compact it to one stable form.
	e.line.Reset()
	if err := json.Compact(&e.line, b); err != nil {
		return fmt.Errorf("encode lead %s: %w", l.GetId(), err)
	}
	e.line.WriteByte('\n')
	if _, err := e.w.Write(e.line.Bytes()); err != nil {
		return writeError{err}
	}
	return nil
}

func (e *ndjsonEncoder) flush() error { return nil }

// exportOutput is where an export goes: stdout, or a temporary file next
// to --out that becomes it when the export is complete. Leads are written
// as they arrive, never gathered in memory.
type exportOutput struct {
	w    *bufio.Writer
	enc  leadEncoder
	file *os.File // nil for stdout
	path string
	done bool
}

func (c *cli) exportOutput(path, format string) (*exportOutput, error) {
	o := &exportOutput{path: path}
	if path == "" || path == "-" {
		o.w = bufio.NewWriter(c.stdout)
	} else {
		// Created 0600: an export holds personal data.
		f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.part")
		if err != nil {
			return nil, fmt.Errorf("--out: %w", err)
		}
		o.w, o.file = bufio.NewWriter(f), f
	}
	if format != formatCSV {
		o.enc = &ndjsonEncoder{w: o.w}
		return o, nil
	}
	enc, err := newCSVEncoder(o.w)
	if err != nil {
		o.abort()
		return nil, o.writeErr(err)
	}
	o.enc = enc
	return o, nil
}

// write writes a lead; a *csvUnfitError if the format cannot hold it.
func (o *exportOutput) write(l *liaisonv1.Lead) error {
	err := o.enc.encode(l)
	var we writeError
	if errors.As(err, &we) {
		return o.writeErr(we.err)
	}
	return err
}

// writeError is an encoder's failure to write (not to encode).
type writeError struct{ err error }

func (e writeError) Error() string { return e.err.Error() }

func (o *exportOutput) writeErr(err error) error {
	if o.file == nil {
		return fmt.Errorf("write stdout: %w", err)
	}
	return fmt.Errorf("write %s: %w", o.path, err)
}

// commit flushes the leads out and puts the file in place.
func (o *exportOutput) commit() error {
	if err := o.enc.flush(); err != nil {
		return o.writeErr(err)
	}
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
		if o.enc != nil {
			o.enc.flush()
		}
		o.w.Flush()
		return
	}
	o.file.Close()
	os.Remove(o.file.Name())
}
