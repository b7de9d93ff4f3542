package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

func init() {
	// A group that is itself the command: "liaisonctl import leads.ndjson".
	register(&group{name: "import", summary: "bulk import of leads from a file (LeadService.ImportLeads)", commands: []*command{
		{name: "", synopsis: "FILE [--format ndjson|csv] [--batch N] [--parallel N] [--progress|--no-progress]", args: []string{"FILE"}, setup: importLeads,
			summary: "create a lead from each line of FILE (- for stdin), NDJSON or CSV (see --format); safe to run again, as a line " +
				"already imported is not created twice; reports each rejected line with its number and reason, and exits 0 only if every line was accepted"},
	}})
}

// Import formats (export writes the same).
const (
	formatNDJSON = "ndjson"
	formatCSV    = "csv"
)

const importFormatUsage = "`FORMAT` of FILE: ndjson, one protojson liaison.v1.Lead a line, or csv (default: from FILE's extension, " +
	".ndjson, .jsonl or .json for ndjson, .csv for csv). A CSV file starts with a header row naming its columns, in any order: " +
	"title, summary, crime_areas (;-separated: migrant-smuggling, trafficking, document-fraud, telecom-fraud, money-laundering, other), " +
	"source_reliability (A, B, C, X), information_accuracy (1-4), handling_code (H0-H3), handling_conditions, originator_reference, " +
	"review_date (YYYY-MM-DD), and for one subject a row: subject_family_name, subject_given_names, subject_latin_family_name, " +
	"subject_latin_given_names, subject_date_of_birth (YYYY[-MM[-DD]]), subject_nationalities (;-separated alpha-3: CHN;THA), " +
	"subject_phones (;-separated, international: +66 81 234 5678), subject_documents (;-separated TYPE:NUMBER:COUNTRY, like passport:E1234567:CHN), " +
	"subject_role (organiser, recruiter, transporter, facilitator, document-forger, financier, unknown); an unknown column is an error"

// Limits of a batch: the node takes at most 1000 items a call, and a
// message of a few MiB (4 by default).
const (
	maxImportBatch      = 1000
	maxImportBatchBytes = 1 << 20
	maxImportParallel   = 16
	importRetries       = 5
)

// importNamespace makes the request id of a line: a name-based UUID of the
// lead it holds (deterministic protobuf encoding), so the same lead gets
// the same id in every run and in every file.
var importNamespace = uuid.MustParse("4e75b6f3-da1b-4e8d-8a5b-0eb26bc1de28")

var marshalDet = proto.MarshalOptions{Deterministic: true}

func importLeads(fs *flag.FlagSet) handler {
	format := fs.String("format", "", importFormatUsage)
	batch := fs.Int("batch", 500, fmt.Sprintf("send at most `N` lines a call (1 to %d)", maxImportBatch))
	parallel := fs.Int("parallel", 2, fmt.Sprintf("make up to `N` calls at a time (1 to %d)", maxImportParallel))
	var prog progressFlags
	prog.define(fs)
	return func(ctx context.Context, c *cli, args []string) error {
		path := args[0]
		f, err := fileFormat("--format", *format, path, formatNDJSON)
		if err != nil {
			return err
		}
		if *batch < 1 || *batch > maxImportBatch {
			return usageErrorf("--batch %d is out of range (1 to %d)", *batch, maxImportBatch)
		}
		if *parallel < 1 || *parallel > maxImportParallel {
			return usageErrorf("--parallel %d is out of range (1 to %d)", *parallel, maxImportParallel)
		}
		show, err := prog.enabled(c.stderr)
		if err != nil {
			return err
		}
		svc, err := c.leadService()
		if err != nil {
			return err
		}
		var total int64
		if show && path != "-" {
			total = countRecords(path, f) // for the bar and the time left only
		}
		src, closeSrc, err := c.openImport(path)
		if err != nil {
			return err
		}
		defer closeSrc()
		rd, err := newRecordReader(src, f, true)
		if err != nil {
			return fmt.Errorf("%s: %w", displayName(path), err)
		}
		im := &importer{c: c, path: path, svc: svc, batch: *batch, parallel: *parallel, prog: startProgress(c.stderr, show, total, "lines")}
		return im.run(ctx, rd)
	}
}

// fileFormat is the format given by flag, else the one path's extension
// names, else def.
func fileFormat(flagName, given, path, def string) (string, error) {
	switch strings.ToLower(given) {
	case formatNDJSON, formatCSV:
		return strings.ToLower(given), nil
	case "":
	default:
		return "", usageErrorf("%s %q: want ndjson or csv", flagName, given)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".ndjson", ".jsonl", ".json":
		return formatNDJSON, nil
	case ".csv":
		return formatCSV, nil
	}
	return def, nil
}

func displayName(path string) string {
	if path == "-" {
		return "stdin"
	}
	return path
}

func (c *cli) openImport(path string) (io.Reader, func(), error) {
	if path == "-" {
		return c.stdin, func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

// countRecords counts the records of a file without parsing leads; 0 if
// it cannot.
func countRecords(path, format string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	rd, err := newRecordReader(f, format, false)
	if err != nil {
		return 0
	}
	var n int64
	for {
		if _, err := rd.next(); err != nil {
			if err == io.EOF {
				return n
			}
			return 0
		}
		n++
	}
}

// rawRecord is one record of an import file: where it starts, and its lead
// or why it could not be read.
type rawRecord struct {
	line int64
	lead *liaisonv1.Lead
	bad  error
}

// recordReader reads the records of an import file. next returns io.EOF
// at the end; any other error ends the import.
type recordReader interface {
	next() (rawRecord, error)
}

// newRecordReader reads records of format from r; unless parse, leads are
// not decoded (to count records).
func newRecordReader(r io.Reader, format string, parse bool) (recordReader, error) {
	if format == formatCSV {
		return newCSVRecords(r, parse)
	}
	return &ndjsonRecords{r: bufio.NewReaderSize(r, 1<<20), parse: parse}, nil
}

// ndjsonRecords reads one protojson Lead a line. Blank lines are skipped;
// unknown fields are errors.
type ndjsonRecords struct {
	r     *bufio.Reader
	line  int64
	parse bool
}

var utf8BOM = []byte("\uFEFF")

func (n *ndjsonRecords) next() (rawRecord, error) {
	for {
		b, err := n.r.ReadBytes('\n')
		if len(b) == 0 && err != nil {
			return rawRecord{}, err
		}
		if err != nil && err != io.EOF {
			return rawRecord{}, err
		}
		n.line++
		if n.line == 1 {
			b = bytes.TrimPrefix(b, utf8BOM)
		}
		if b = bytes.TrimSpace(b); len(b) == 0 {
			continue
		}
		rec := rawRecord{line: n.line}
		if n.parse {
			l := &liaisonv1.Lead{}
			if err := protojson.Unmarshal(b, l); err != nil {
				rec.bad = protojsonError(err)
			} else {
				rec.lead = l
			}
		}
		return rec, nil
	}
}

// protojsonErrorPattern takes apart protojson's errors: "proto: (line
// 1:12): unknown field …", "proto: syntax error (line 1:30): …". Its
// prefix is followed by a space or, at random, a no-break space.
var protojsonErrorPattern = regexp.MustCompile(`^proto:[\s\x{00a0}]*(syntax error )?\(line \d+:(\d+)\): (.*)$`)

// protojsonError words an error of protojson about one line: "unknown
// field "colour" (column 45)".
func protojsonError(err error) error {
	m := protojsonErrorPattern.FindStringSubmatch(err.Error())
	if m == nil {
		return errors.New(strings.TrimLeft(strings.TrimPrefix(err.Error(), "proto:"), " \u00a0"))
	}
	msg := m[3]
	if m[1] != "" {
		msg = "syntax error: " + msg
	}
	return fmt.Errorf("%s (column %s)", msg, m[2])
}

// csvRecords reads the rows of a CSV file with a header row (see csv.go).
type csvRecords struct {
	r     *csv.Reader
	idx   map[string]int
	width int
	parse bool
}

func newCSVRecords(r io.Reader, parse bool) (*csvRecords, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // checked per row, so that one bad row is one rejected line
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("no header row: a CSV file starts with one naming its columns")
	}
	if err != nil {
		return nil, fmt.Errorf("header row: %w", err)
	}
	idx, err := csvHeader(header)
	if err != nil {
		return nil, fmt.Errorf("line 1: %w", err)
	}
	return &csvRecords{r: cr, idx: idx, width: len(header), parse: parse}, nil
}

func (c *csvRecords) next() (rawRecord, error) {
	rec, err := c.r.Read()
	var pe *csv.ParseError
	switch {
	case errors.As(err, &pe):
		return rawRecord{line: int64(pe.StartLine), bad: pe.Err}, nil
	case err != nil:
		return rawRecord{}, err
	}
	line, _ := c.r.FieldPos(0)
	out := rawRecord{line: int64(line)}
	switch {
	case len(rec) > c.width:
		out.bad = fmt.Errorf("%d cells, but the header row names %d columns", len(rec), c.width)
	case c.parse:
		out.lead, out.bad = leadFromCSV(c.idx, rec)
	}
	return out, nil
}

// importer sends the records of a file in batches, several calls at a
// time, and gathers what became of each line.
type importer struct {
	c        *cli
	path     string
	svc      liaisonv1.LeadServiceClient
	batch    int
	parallel int
	prog     *progress
}

// importLine is a record to send.
type importLine struct {
	seq       int // the record's place in the file
	line      int64
	requestID string
	lead      *liaisonv1.Lead
}

// lineResult is what became of a record.
type lineResult struct {
	line int64
	// res is the node's answer; nil for a line not sent.
	res *liaisonv1.ImportResult
	// unreadable says why the line could not be read (it was not sent).
	unreadable error
	// dupOf is the seq of the earlier line this one repeats (it was not
	// sent), or -1.
	dupOf int
}

// importEvent is news for the collector: a line not sent, or a batch
// answered or failed.
type importEvent struct {
	seq     int
	local   *lineResult
	batch   []importLine
	results []*liaisonv1.ImportResult
	err     error
}

func (im *importer) run(parent context.Context, rd recordReader) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	batches := make(chan []importLine, im.parallel)
	events := make(chan importEvent, im.parallel)
	var wg sync.WaitGroup
	var readErr error
	wg.Go(func() {
		defer close(batches)
		readErr = im.produce(ctx, rd, batches, events)
	})
	for range im.parallel {
		wg.Go(func() {
			for b := range batches {
				results, err := im.send(ctx, b)
				select {
				case events <- importEvent{batch: b, results: results, err: err}:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	go func() {
		wg.Wait()
		close(events)
	}()

	var results []lineResult
	at := func(seq int) *lineResult {
		for len(results) <= seq {
			results = append(results, lineResult{dupOf: -1})
		}
		return &results[seq]
	}
	var callErr error
	for ev := range events {
		switch {
		case ev.local != nil:
			*at(ev.seq) = *ev.local
			im.prog.add(1)
		case ev.err != nil:
			if callErr == nil {
				callErr = ev.err
				cancel() // stop: the rest is reported as unfinished
			}
			for _, l := range ev.batch {
				at(l.seq).line = l.line
			}
		default:
			for i, l := range ev.batch {
				*at(l.seq) = lineResult{line: l.line, res: ev.results[i], dupOf: -1}
			}
			im.prog.add(len(ev.batch))
		}
	}
	im.prog.end()
	sum := im.report(results)
	fmt.Fprintln(im.c.stderr, sum.line(im.prog.elapsed()))
	switch {
	case callErr != nil:
	case parent.Err() != nil: // interrupted: a sender may have quit without a word
		callErr = fmt.Errorf("import interrupted: %w", parent.Err())
	case readErr != nil:
		callErr = fmt.Errorf("read %s: %w", displayName(im.path), readErr)
	case sum.notSent > 0:
		callErr = fmt.Errorf("%s unfinished", counted(sum.notSent, "line"))
	}
	switch {
	case callErr != nil:
		return &noteError{callErr, []string{"the import stopped early: run it again to finish it (a line already imported is not created twice)"}}
	case sum.rejected > 0:
		return &exitError{code: exitFailed, msg: fmt.Sprintf("%s of %s rejected", thousands(int64(sum.rejected)), counted(sum.total, "line"))}
	}
	return nil
}

// produce reads the records, sends the lines it cannot read and repeated
// lines to the collector, and the others in batches to the senders.
func (im *importer) produce(ctx context.Context, rd recordReader, batches chan<- []importLine, events chan<- importEvent) error {
	first := map[uuid.UUID]int{} // request id → seq of the line that first had it
	var cur []importLine
	var curBytes int
	emit := func(ev importEvent) error {
		select {
		case events <- ev:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	flush := func() error {
		if len(cur) == 0 {
			return nil
		}
		select {
		case batches <- cur:
			cur, curBytes = nil, 0
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for seq := 0; ; seq++ {
		rec, err := rd.next()
		if err == io.EOF {
			return flush()
		}
		if err != nil {
			return err
		}
		if rec.bad != nil {
			if err := emit(importEvent{seq: seq, local: &lineResult{line: rec.line, unreadable: rec.bad, dupOf: -1}}); err != nil {
				return err
			}
			continue
		}
		b, err := marshalDet.Marshal(rec.lead)
		if err != nil {
			return fmt.Errorf("line %d: %w", rec.line, err)
		}
		id := uuid.NewSHA1(importNamespace, b)
		if orig, ok := first[id]; ok {
			if err := emit(importEvent{seq: seq, local: &lineResult{line: rec.line, dupOf: orig}}); err != nil {
				return err
			}
			continue
		}
		first[id] = seq
		cur = append(cur, importLine{seq: seq, line: rec.line, requestID: id.String(), lead: rec.lead})
		if curBytes += len(b); len(cur) >= im.batch || curBytes >= maxImportBatchBytes {
			if err := flush(); err != nil {
				return err
			}
		}
	}
}

// send imports a batch, again after a failure that may pass (every item
// is idempotent), in halves if the node finds the message too large. It
// returns one result per line.
func (im *importer) send(ctx context.Context, b []importLine) ([]*liaisonv1.ImportResult, error) {
	req := &liaisonv1.ImportLeadsRequest{Items: make([]*liaisonv1.ImportItem, len(b))}
	for i, l := range b {
		req.Items[i] = &liaisonv1.ImportItem{Line: l.line, RequestId: l.requestID, Lead: l.lead}
	}
	wait := 200 * time.Millisecond
	for attempt := 0; ; attempt++ {
		resp, err := im.svc.ImportLeads(ctx, req)
		if err == nil {
			if len(resp.GetResults()) != len(b) {
				return nil, fmt.Errorf("the node answered %d results for %d lines", len(resp.GetResults()), len(b))
			}
			return resp.GetResults(), nil
		}
		switch {
		case tooLarge(err) && len(b) > 1:
			half := len(b) / 2
			r1, err := im.send(ctx, b[:half])
			if err != nil {
				return nil, err
			}
			r2, err := im.send(ctx, b[half:])
			return append(r1, r2...), err
		case tooLarge(err):
			st := status.Convert(err)
			return []*liaisonv1.ImportResult{{Line: b[0].line, Outcome: liaisonv1.ImportOutcome_IMPORT_OUTCOME_REJECTED,
				Code: codeName(st.Code()), Message: "too large for the node: " + st.Message()}}, nil
		case transient(err) && attempt < importRetries && ctx.Err() == nil:
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return nil, err
			}
			wait *= 2
		default:
			return nil, err
		}
	}
}

// tooLarge says whether the node refused a message for its size.
func tooLarge(err error) bool {
	st := status.Convert(err)
	return st.Code() == codes.ResourceExhausted && strings.Contains(st.Message(), "larger than max")
}

// transient says whether a failed call may succeed if made again.
func transient(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.ResourceExhausted, codes.Aborted, codes.DeadlineExceeded:
		return true
	}
	return false
}

// importSummary counts what became of the lines of an import.
type importSummary struct {
	total, created, already, rejected int
	// notSent are the lines whose import did not finish: not sent, or
	// sent in a call that failed.
	notSent int
}

func (s importSummary) line(elapsed time.Duration) string {
	out := fmt.Sprintf("imported %s (created %s, already imported %s), rejected %s", counted(s.created+s.already, "lead"),
		thousands(int64(s.created)), thousands(int64(s.already)), thousands(int64(s.rejected)))
	if s.notSent > 0 {
		out += fmt.Sprintf(", unfinished %s", thousands(int64(s.notSent)))
	}
	return out + fmt.Sprintf(" of %s in %.1fs (%s lines/s)", counted(s.total, "line"), elapsed.Seconds(), thousands(int64(perSecond(int64(s.total), elapsed))))
}

// counted is "1 line", "8,130 lines".
func counted(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return thousands(int64(n)) + " " + unit + "s"
}

// report resolves repeated lines to the fate of the line they repeat,
// prints a line for each line rejected or repeated (or, with -o json, the
// result of every line) and counts them.
func (im *importer) report(results []lineResult) importSummary {
	s := importSummary{total: len(results)}
	out := &liaisonv1.ImportLeadsResponse{}
	w := bufio.NewWriter(im.c.stdout)
	defer w.Flush()
	asJSON := im.c.output == outputJSON
	for _, r := range results {
		res := r.res
		switch {
		case r.unreadable != nil:
			s.rejected++
			res = &liaisonv1.ImportResult{Line: r.line, Outcome: liaisonv1.ImportOutcome_IMPORT_OUTCOME_REJECTED,
				Code: codeName(codes.InvalidArgument), Message: "cannot parse: " + r.unreadable.Error()}
			if !asJSON {
				fmt.Fprintf(w, "line %d: cannot parse: %v\n", r.line, r.unreadable)
			}
		case r.dupOf >= 0:
			orig := results[r.dupOf]
			res = &liaisonv1.ImportResult{Line: r.line, Message: fmt.Sprintf("duplicate of line %d", orig.line)}
			fate := "unfinished"
			switch o := orig.res.GetOutcome(); {
			case o == liaisonv1.ImportOutcome_IMPORT_OUTCOME_REJECTED:
				s.rejected++
				res.Outcome, res.Code, fate = liaisonv1.ImportOutcome_IMPORT_OUTCOME_REJECTED, orig.res.GetCode(), "rejected"
			case o == liaisonv1.ImportOutcome_IMPORT_OUTCOME_CREATED || o == liaisonv1.ImportOutcome_IMPORT_OUTCOME_ALREADY_IMPORTED:
				s.already++
				res.Outcome, res.LeadId, fate = liaisonv1.ImportOutcome_IMPORT_OUTCOME_ALREADY_IMPORTED, orig.res.GetLeadId(), "imported once"
			default:
				s.notSent++
			}
			if !asJSON {
				fmt.Fprintf(w, "line %d: duplicate of line %d (%s)\n", r.line, orig.line, fate)
			}
		case res == nil:
			s.notSent++
			res = &liaisonv1.ImportResult{Line: r.line}
		case res.GetOutcome() == liaisonv1.ImportOutcome_IMPORT_OUTCOME_CREATED:
			s.created++
		case res.GetOutcome() == liaisonv1.ImportOutcome_IMPORT_OUTCOME_ALREADY_IMPORTED:
			s.already++
		default:
			s.rejected++
			if asJSON {
				break
			}
			if len(res.GetFieldErrors()) == 0 {
				fmt.Fprintf(w, "line %d: %s: %s\n", r.line, res.GetCode(), res.GetMessage())
			}
			for _, fe := range res.GetFieldErrors() {
				fmt.Fprintf(w, "line %d: %s: %s: %s\n", r.line, res.GetCode(), fe.GetField(), fe.GetDescription())
			}
		}
		if asJSON {
			out.Results = append(out.Results, res)
		}
	}
	if asJSON {
		w.Flush()
		if err := im.c.print(out, nil); err != nil {
			fmt.Fprintf(im.c.stderr, "error: %v\n", err)
		}
	}
	return s
}
