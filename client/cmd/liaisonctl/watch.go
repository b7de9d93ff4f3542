package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

func init() {
	register(&group{name: "watch", summary: "follow every change this node applies, in order, from a cursor (ChangeFeedService)", commands: []*command{
		{name: "", detail: "Prints every change the node applies after cursor N (0: from the oldest it keeps), in order, then follows new ones: a table line each (CURSOR TIME KIND ACTION ORIGIN RECORD VERSION SUMMARY). --kind keeps only lead, case, case-entry or manifest changes; --once stops when caught up. On stopping, the cursor to resume from goes to stderr; nothing is kept locally. A stream the node cuts off (the consumer fell behind or stopped reading, the node restarts) exits 1 with that cursor, or with --reconnect resumes from it. A cursor older than the node keeps is OUT_OF_RANGE: resync, then watch from the cursor the error names. --timeout bounds the whole watch only when given.",
			synopsis: "[--cursor N] [--kind KIND[,KIND]] [--once | --follow=false] [--reconnect]", setup: watchChanges,
			summary: "print each change as it commits — own records, partners' copies arriving, tombstones, case entries, manifest transitions — " +
				"one table line each, or with -o json one protojson Change a line (NDJSON); the cursor to resume from goes to stderr when it stops"},
	}})
}

// The ErrorInfo of a stream the change feed ended (see server/changefeed).
const (
	feedErrorDomain = "changefeed.liaison"
	feedResumeKey   = "resume_cursor"
)

// Waits between reconnections: doubled after each attempt that received
// nothing, back to the first after one that did.
const (
	watchFirstBackoff = 200 * time.Millisecond
	watchMaxBackoff   = 30 * time.Second
)

func watchChanges(fs *flag.FlagSet) handler {
	cursor := fs.Int64("cursor", 0, "start after change `N` (0: from the oldest change the node keeps); resume with the last cursor watch reported")
	var kinds listFlag
	fs.Var(&kinds, "kind", "only changes to records of `KIND`: lead, case, case-entry, manifest (repeatable, or comma-separated)")
	follow := fs.Bool("follow", true, "keep following new changes once caught up")
	once := fs.Bool("once", false, "stop once caught up with the changes made so far (--follow=false)")
	reconnect := fs.Bool("reconnect", false, "when the stream is cut off (too far behind, not reading, the node restarting or unreachable), "+
		"reconnect and resume from the last cursor instead of stopping; for an agency system that must miss nothing")
	return func(ctx context.Context, c *cli, _ []string) error {
		if *cursor < 0 {
			return usageErrorf("--cursor %d: a cursor is 0 or more", *cursor)
		}
		req := &liaisonv1.WatchRequest{}
		for _, k := range kinds {
			v, err := parseEnum[liaisonv1.ChangeKind](k, nil)
			if err != nil {
				return usageErrorf("--kind: %v", err)
			}
			if !slices.Contains(req.Kinds, v) {
				req.Kinds = append(req.Kinds, v)
			}
		}
		// The global --timeout bounds a watch only when given: by default a
		// watch follows until stopped.
		if flagSet(fs, "timeout") && c.timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, c.timeout)
			defer cancel()
		}
		c.timeout = 0
		conn, err := c.dial()
		if err != nil {
			return err
		}
		w := &watchRun{c: c, svc: liaisonv1.NewChangeFeedServiceClient(conn), req: req, pos: *cursor, stopAtHead: *once || !*follow}
		return w.run(ctx, *reconnect)
	}
}

// flagSet says whether the command line set the flag name.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// watchRun is one `liaisonctl watch`, across reconnections.
type watchRun struct {
	c          *cli
	svc        liaisonv1.ChangeFeedServiceClient
	req        *liaisonv1.WatchRequest
	stopAtHead bool
	// pos is the cursor to resume from: of the last change printed, or the
	// head of the last heartbeat, whichever came later.
	pos     int64
	printed int64
	line    bytes.Buffer
}

func (w *watchRun) run(ctx context.Context, reconnect bool) error {
	backoff := watchFirstBackoff
	for {
		before := w.printed
		err := w.stream(ctx)
		switch {
		case err == nil:
			fmt.Fprintf(w.c.stderr, "caught up at cursor %d; resume with --cursor %d\n", w.pos, w.pos)
			return nil
		case errors.Is(ctx.Err(), context.Canceled):
			// Stopped (Ctrl-C): not a failure.
			fmt.Fprintf(w.c.stderr, "stopped at cursor %d; resume with --cursor %d\n", w.pos, w.pos)
			return nil
		case ctx.Err() != nil:
			return &noteError{fmt.Errorf("watch: %w", ctx.Err()), []string{w.resumeNote()}}
		}
		if !reconnect || !resumable(err) {
			return w.failed(err)
		}
		if w.printed > before {
			backoff = watchFirstBackoff
		}
		fmt.Fprintf(w.c.stderr, "%v\nreconnecting in %v from cursor %d\n", err, backoff, w.pos)
		select {
		case <-ctx.Done():
			continue // reported above, with the cursor
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, watchMaxBackoff)
	}
}

// stream watches from pos until the stream ends; nil when caught up with
// stopAtHead.
func (w *watchRun) stream(ctx context.Context) error {
	// Cancelled on return, so that a stream left unread ends at once.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w.req.Cursor = w.pos
	s, err := w.svc.Watch(ctx, w.req)
	if err != nil {
		return err
	}
	for {
		resp, err := s.Recv()
		if err == io.EOF {
			return status.Error(codes.Unavailable, "the node ended the stream")
		}
		if err != nil {
			return err
		}
		ch := resp.GetChange()
		if ch == nil {
			w.pos = max(w.pos, resp.GetHead())
			if w.stopAtHead {
				return nil
			}
			continue
		}
		if err := w.print(ch); err != nil {
			return err
		}
		w.pos = ch.GetCursor()
		w.printed++
	}
}

func (w *watchRun) print(ch *liaisonv1.Change) error {
	if w.c.output == outputJSON {
		b, err := protojson.Marshal(ch)
		if err != nil {
			return fmt.Errorf("encode change %d: %w", ch.GetCursor(), err)
		}
		// protojson's spacing varies on purpose; compact it to one stable form.
		w.line.Reset()
		if err := json.Compact(&w.line, b); err != nil {
			return fmt.Errorf("encode change %d: %w", ch.GetCursor(), err)
		}
		w.line.WriteByte('\n')
		_, err = w.c.stdout.Write(w.line.Bytes())
		return err
	}
	if w.printed == 0 {
		fmt.Fprintf(w.c.stdout, watchRowFormat, "CURSOR", "TIME", "KIND", "ACTION", "ORIGIN", "RECORD", "VERSION", "SUMMARY")
	}
	_, err := fmt.Fprintf(w.c.stdout, watchRowFormat, strconv.FormatInt(ch.GetCursor(), 10), timestamp(ch.GetTime()), enumName(ch.GetKind()),
		orDash(ch.GetAction()), orDash(ch.GetOriginAgency()), orDash(ch.GetRecordId()), strconv.FormatInt(ch.GetVersion(), 10), changeSummary(ch))
	return err
}

// watchRowFormat lays out the table as it streams: no row waits for the
// widest.
const watchRowFormat = "%-8s  %-20s  %-10s  %-10s  %-8s  %-36s  %7s  %s\n"

// changeSummary says what the record is now: a title, an entry's text, a
// manifest's state, marked when the record has changed since.
func changeSummary(ch *liaisonv1.Change) string {
	var s string
	var now int64
	switch r := ch.GetRecord().(type) {
	case *liaisonv1.Change_Lead:
		s, now = restricted(r.Lead.GetTitle(), r.Lead.GetRestriction()), r.Lead.GetVersion()
	case *liaisonv1.Change_Case:
		s, now = r.Case.GetTitle(), r.Case.GetVersion()
	case *liaisonv1.Change_CaseEntry:
		e := r.CaseEntry
		s = fmt.Sprintf("case %s, %s: %s", e.GetCaseId(), enumName(e.GetKind()), e.GetText())
	case *liaisonv1.Change_Manifest:
		m := r.Manifest
		s, now = fmt.Sprintf("%s, to %s, %d persons", enumName(m.GetState()), m.GetReceivingAgency(), len(m.GetPersons())), m.GetVersion()
	default:
		if ch.GetAction() == "tombstone" {
			return "(content deleted)"
		}
		return "(content no longer held)"
	}
	if now > ch.GetVersion() {
		s = fmt.Sprintf("[now v%d] %s", now, s)
	}
	return truncate(strings.Join(strings.Fields(s), " "), 100)
}

// resumable says whether watching again from the last cursor may succeed:
// a cut-off, a node stopping or out of reach, a rate limit.
func resumable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.ResourceExhausted:
		return true
	}
	return false
}

func (w *watchRun) resumeNote() string {
	return fmt.Sprintf("resume with --cursor %d", w.pos)
}

// failed adds to the error that ended the watch the cursor to go on from:
// the last one received, or after a resync the one the node names.
func (w *watchRun) failed(err error) error {
	var info *errdetails.ErrorInfo
	for _, d := range status.Convert(err).Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok && i.GetDomain() == feedErrorDomain {
			info = i
		}
	}
	if status.Code(err) == codes.OutOfRange && info != nil {
		if r := info.GetMetadata()[feedResumeKey]; r != "" {
			return &noteError{err, []string{fmt.Sprintf("after resyncing, resume with --cursor %s", r)}}
		}
	}
	switch status.Code(err) {
	case codes.PermissionDenied, codes.Unauthenticated, codes.InvalidArgument:
		return err // watching again will not help
	}
	return &noteError{err, []string{w.resumeNote()}}
}
