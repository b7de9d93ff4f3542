// Package changefeed implements ChangeFeedService: every change the node
// applies — own records, replicas arriving, tombstones, case entries,
// manifest transitions — streamed in order from a durable cursor.
//
// The feed is the store's feed table: each change is appended with a
// gap-free sequence number (the cursor) in the transaction that makes it,
// and commits happen one at a time, so readers always see a gap-free
// prefix. A watcher reads that table in pages through the reader pool and
// writers never wait for it: they append a row and, after commit, close a
// channel (store.FeedSignal). What a consumer costs the node is bounded —
// one page in memory, one goroutine sending, and gRPC's flow-control
// window — whatever its speed.
//
// A change carries its record as it is when the change is read (the feed
// keeps no copies): possibly a later version than the change's, and none
// once the content is gone, so withdrawn content is never replayed.
//
// The cursor contract, for clients: resume from the last cursor received,
// which is the cursor of the last change or the head of the last
// heartbeat, whichever came later. Heartbeats ({head}) come when the
// stream first catches up and every few seconds while nothing else is
// sent; they let a client that filters rare kinds persist its progress.
// A stream ends with
//   - OUT_OF_RANGE when its cursor is older than the feed keeps (or names a
//     change the node never made): the client must resync, then watch from
//     the cursor the error names;
//   - UNAVAILABLE when the consumer is cut off (it fell more than MaxLag
//     changes further behind than it was when it connected, or did not
//     take a message for SendTimeout) or the node stops: the client
//     reconnects from its last cursor.
//
// Both errors carry a google.rpc.ErrorInfo (domain ErrorDomain) whose
// metadata "resume_cursor" is the cursor to watch from next.
package changefeed

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/handling"
	"github.com/liaison-exchange/liaison/server/identity"
	"github.com/liaison-exchange/liaison/server/store"
)

// ErrorDomain is the domain of the ErrorInfo that ends a stream; its
// reasons are the Reason* constants.
const ErrorDomain = "changefeed.liaison"

// Reasons of the ErrorInfo that ends a stream.
const (
	ReasonCursorExpired = "CURSOR_EXPIRED"   // OUT_OF_RANGE: resync
	ReasonCursorAhead   = "CURSOR_AHEAD"     // OUT_OF_RANGE: resync
	ReasonLagging       = "CONSUMER_LAGGING" // UNAVAILABLE: reconnect
	ReasonStalled       = "CONSUMER_STALLED" // UNAVAILABLE: reconnect
	ReasonStopping      = "NODE_STOPPING"    // UNAVAILABLE: reconnect
)

// ResumeCursorKey is the ErrorInfo metadata key of the cursor to watch
// from next.
const ResumeCursorKey = "resume_cursor"

// Options tune the feed. Zero values take the defaults.
type Options struct {
	// MaxLag is how many changes a consumer may fall further behind than
	// it was when it connected before it is cut off (default 100000).
	MaxLag int64
	// SendTimeout cuts off a consumer that does not take a message for
	// this long (default 30s).
	SendTimeout time.Duration
	// Retention is how long changes are kept to resume from (default 30d).
	Retention time.Duration
	Logger    *slog.Logger

	// Heartbeat is how long a stream may stay silent before it says where
	// it is (default 5s).
	Heartbeat time.Duration
	// TrimInterval is how often RunTrim trims (default 10m).
	TrimInterval time.Duration
	// PageSize is how many changes a watcher reads at once (default 500).
	PageSize int
	// NodeID is the principal of the node's own audit events (default
	// "node").
	NodeID string
	// Handling is the handling-code policy applied to every lead sent
	// (the node always sets it; nil serves leads as stored).
	Handling *handling.Policy
}

func (o *Options) setDefaults() {
	if o.MaxLag <= 0 {
		o.MaxLag = 100000
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = 30 * time.Second
	}
	if o.Retention <= 0 {
		o.Retention = 30 * 24 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 5 * time.Second
	}
	if o.TrimInterval <= 0 {
		o.TrimInterval = 10 * time.Minute
	}
	if o.PageSize <= 0 {
		o.PageSize = 500
	}
	if o.NodeID == "" {
		o.NodeID = string(identity.Node)
	}
}

// trimChunk bounds the changes one trim transaction deletes, so that a
// large backlog never holds the writer for long.
const trimChunk = 10000

// Server implements liaisonv1.ChangeFeedServiceServer.
type Server struct {
	liaisonv1.UnimplementedChangeFeedServiceServer
	store *store.Store
	opts  Options

	consumers atomic.Int64
	stopOnce  sync.Once
	stopping  chan struct{}
}

var _ liaisonv1.ChangeFeedServiceServer = (*Server)(nil)

// New returns the change feed service.
func New(s *store.Store, o Options) *Server {
	o.setDefaults()
	return &Server{store: s, opts: o, stopping: make(chan struct{})}
}

// Consumers is the number of Watch streams open now.
func (s *Server) Consumers() int { return int(s.consumers.Load()) }

// Watch implements liaisonv1.ChangeFeedServiceServer.
func (s *Server) Watch(req *liaisonv1.WatchRequest, stream liaisonv1.ChangeFeedService_WatchServer) error {
	s.consumers.Add(1)
	defer s.consumers.Add(-1)
	ctx := stream.Context()
	w := &watcher{s: s, ctx: ctx, from: req.GetCursor(), lastSent: req.GetCursor()}
	for _, k := range req.GetKinds() {
		if k > 0 && int(k) < len(w.kinds) {
			w.kinds[k] = true
			w.filtered = true
		}
	}
	audit.SetResource(ctx, "feed")
	defer func() { audit.SetDetail(ctx, w.summary(req.GetKinds())) }()
	select {
	case <-s.stopping:
		return w.cutOff(ReasonStopping, "the node is stopping")
	default:
	}
	w.snd = newSender(stream)
	defer w.snd.close()
	w.sendTimer = time.NewTimer(time.Hour)
	w.sendTimer.Stop()
	err := w.run()
	if c := errs.CodeOf(err); err != nil && (c == errs.Unavailable || c == errs.OutOfRange) {
		id, _ := identity.FromContext(ctx)
		s.opts.Logger.Info("change feed: stream ended", "principal", id.ID, "code", errs.CodeName(err), "reason", err.Error())
	}
	return err
}

// watcher is one Watch stream.
type watcher struct {
	s   *Server
	ctx context.Context
	snd *sender
	// sendTimer bounds each Send (stopped between sends).
	sendTimer *time.Timer
	kinds     [5]bool // by liaisonv1.ChangeKind
	filtered  bool

	from int64 // the cursor asked for
	// pos is the last change read and dealt with: sent, or filtered out.
	pos int64
	// lastSent is the cursor of the last message the consumer took.
	lastSent     int64
	lastSendTime time.Time
	sent         int64 // changes, not heartbeats
	// limit is how far behind the newest change the consumer may be.
	limit int64
}

func (w *watcher) run() error {
	opts := &w.s.opts
	oldest, newest, err := w.s.store.FeedBounds(w.ctx)
	if err != nil {
		return err
	}
	switch {
	case w.from > newest:
		return w.ahead(newest)
	case w.from > 0 && w.from < oldest-1:
		return w.expired(w.from, oldest, newest)
	}
	w.pos = w.from
	// From cursor 0 the stream starts at the oldest change still kept when
	// it is read, whatever a concurrent trim removed meanwhile; from any
	// other cursor, each change must follow the one before, or the ones in
	// between were trimmed under the consumer.
	anchored := w.from > 0
	start := max(w.from, oldest-1, 0)
	w.limit = newest - start + opts.MaxLag
	w.lastSendTime = time.Now()

	idle := time.NewTimer(opts.Heartbeat)
	defer idle.Stop()
	caughtUp := false
	for {
		// Taken before reading, so a commit after the read still wakes us.
		wake := w.s.store.FeedSignal()
		page, err := w.s.store.FeedAfter(w.ctx, w.pos, opts.PageSize)
		if err != nil {
			return err
		}
		var batch []*liaisonv1.Change
		gap := false
		for _, ev := range page {
			if anchored && ev.Seq != w.pos+1 {
				gap = true
				break
			}
			anchored = true
			w.pos = ev.Seq
			if w.filtered && (int(ev.Kind) >= len(w.kinds) || !w.kinds[ev.Kind]) {
				continue
			}
			c, err := toChange(ev)
			if err == nil {
				err = w.restrict(c)
			}
			if err != nil {
				return err
			}
			batch = append(batch, c)
		}
		if err := w.deliver(batch); err != nil {
			return err
		}
		if gap {
			oldest, newest, err := w.s.store.FeedBounds(w.ctx)
			if err != nil {
				return err
			}
			return w.expired(w.pos, oldest, newest)
		}
		if len(page) > 0 {
			_, newest, err := w.s.store.FeedBounds(w.ctx)
			if err != nil {
				return err
			}
			if behind := newest - w.pos; behind > w.limit {
				why := fmt.Sprintf("you are %d changes behind the newest (%d), more than the %d allowed", behind, newest, w.limit)
				if w.limit > opts.MaxLag {
					why += fmt.Sprintf(" (the %d you were behind when you connected, plus %d)", w.limit-opts.MaxLag, opts.MaxLag)
				}
				return w.cutOff(ReasonLagging, why)
			}
		}
		if len(page) == opts.PageSize {
			// More to read. A consumer filtering rare kinds hears where it
			// is now and then, so its cursor does not fall behind the
			// retention while nothing it wants comes.
			if w.pos > w.lastSent && time.Since(w.lastSendTime) >= opts.Heartbeat {
				if err := w.heartbeat(); err != nil {
					return err
				}
			}
			continue
		}
		if !caughtUp {
			// The first heartbeat says the backlog is done (liaisonctl
			// watch --once stops there).
			caughtUp = true
			if err := w.heartbeat(); err != nil {
				return err
			}
		}
		resetTimer(idle, opts.Heartbeat-time.Since(w.lastSendTime))
		select {
		case <-wake:
		case <-idle.C:
			if err := w.heartbeat(); err != nil {
				return err
			}
		case <-w.ctx.Done():
			return w.ctx.Err()
		case <-w.s.stopping:
			return w.cutOff(ReasonStopping, "the node is stopping")
		}
	}
}

// deliver sends a batch of changes, after recording in the audit log the
// ids of the records they carry: a stream cut off at any point has
// recorded everything it sent (and at most the rest of the batch it was
// sending; the stream's closing event says up to which cursor it got).
// One event per batch read keeps the cost to one group-commit write per
// page while catching up, and per wake-up once live.
func (w *watcher) deliver(batch []*liaisonv1.Change) error {
	if len(batch) == 0 {
		return nil
	}
	ids := make([]string, len(batch))
	for i, c := range batch {
		ids[i] = c.GetRecordId()
	}
	detail := fmt.Sprintf("changes %d to %d", batch[0].GetCursor(), batch[len(batch)-1].GetCursor())
	if err := w.s.store.RecordDelivery(w.ctx, detail, ids); err != nil {
		return err
	}
	for _, c := range batch {
		if err := w.send(&liaisonv1.WatchResponse{Change: c}, c.GetCursor()); err != nil {
			return err
		}
		w.sent++
	}
	return nil
}

// restrict applies the handling policy to the lead a change carries: the
// consumer sees its code and conditions, or only a stub when its content is
// withheld from the consumer's role.
func (w *watcher) restrict(c *liaisonv1.Change) error {
	l := c.GetLead()
	if l == nil || w.s.opts.Handling == nil {
		return nil
	}
	caller, _ := identity.FromContext(w.ctx)
	served, err := w.s.opts.Handling.Serve(w.ctx, handling.Watch, caller, l)
	if err != nil {
		return err
	}
	c.Record = &liaisonv1.Change_Lead{Lead: served}
	return nil
}

// heartbeat tells the consumer where it is: every change up to pos has
// been sent to it or did not match its filter.
func (w *watcher) heartbeat() error {
	return w.send(&liaisonv1.WatchResponse{Head: w.pos}, w.pos)
}

// send hands m to the sender and waits until gRPC took it, for at most
// SendTimeout. gRPC's Send blocks while the consumer's flow-control window
// is full, and only the end of the call unblocks it: so a consumer that
// does not read is cut off here, and the sender is left to finish once
// gRPC ends the stream.
func (w *watcher) send(m *liaisonv1.WatchResponse, cursor int64) error {
	select {
	case w.snd.in <- m: // the sender is idle: it answered the message before
	case <-w.ctx.Done():
		return w.ctx.Err()
	}
	w.sendTimer.Reset(w.s.opts.SendTimeout)
	defer w.sendTimer.Stop()
	select {
	case err := <-w.snd.done:
		if err != nil {
			if w.ctx.Err() != nil {
				return w.ctx.Err()
			}
			return err
		}
		w.lastSent, w.lastSendTime = cursor, time.Now()
		return nil
	case <-w.sendTimer.C:
		return w.cutOff(ReasonStalled, fmt.Sprintf("you took no message for %v", w.s.opts.SendTimeout))
	case <-w.ctx.Done():
		return w.ctx.Err()
	case <-w.s.stopping:
		return w.cutOff(ReasonStopping, "the node is stopping")
	}
}

// cutOff is the UNAVAILABLE that ends a stream the consumer can resume.
func (w *watcher) cutOff(reason, why string) error {
	msg := fmt.Sprintf("%s: the change feed cut this stream off; reconnect with cursor %d (the last one sent to you) to miss nothing", why, w.lastSent)
	return w.withInfo(errs.Unavailable, msg, reason, w.lastSent, nil)
}

// expired is the OUT_OF_RANGE of a cursor whose next changes were trimmed.
func (w *watcher) expired(cursor, oldest, newest int64) error {
	msg := fmt.Sprintf("cursor %d is older than the change feed keeps (the oldest change kept is %d; changes are kept for %s): "+
		"changes after it are gone. Resync: re-read the records you keep (e.g. liaisonctl leads export), then watch from cursor %d, the newest now",
		cursor, oldest, days(w.s.opts.Retention), newest)
	return w.withInfo(errs.OutOfRange, msg, ReasonCursorExpired, newest, map[string]string{
		"cursor": strconv.FormatInt(cursor, 10), "oldest_cursor": strconv.FormatInt(oldest, 10),
	})
}

// ahead is the OUT_OF_RANGE of a cursor this node never issued.
func (w *watcher) ahead(newest int64) error {
	msg := fmt.Sprintf("cursor %d is ahead of the change feed, whose newest change is %d: it was not issued by this node "+
		"(another node's cursor, or a database restored from an older backup). Resync: re-read the records you keep, then watch from cursor %d",
		w.from, newest, newest)
	return w.withInfo(errs.OutOfRange, msg, ReasonCursorAhead, newest, map[string]string{"cursor": strconv.FormatInt(w.from, 10)})
}

func (w *watcher) withInfo(code errs.Code, msg, reason string, resume int64, more map[string]string) error {
	md := map[string]string{ResumeCursorKey: strconv.FormatInt(resume, 10)}
	for k, v := range more {
		md[k] = v
	}
	return &errs.Error{Code: code, Message: msg, Info: &errs.Info{Reason: reason, Domain: ErrorDomain, Metadata: md}}
}

// summary is the audit detail of the stream.
func (w *watcher) summary(kinds []liaisonv1.ChangeKind) string {
	s := fmt.Sprintf("sent %d changes from cursor %d to %d", w.sent, w.from, w.lastSent)
	if len(kinds) > 0 {
		names := make([]string, len(kinds))
		for i, k := range kinds {
			names[i] = strings.ToLower(strings.TrimPrefix(k.String(), "CHANGE_KIND_"))
		}
		s += " (kinds " + strings.Join(names, ",") + ")"
	}
	return s
}

// sender owns the stream's Send, so that the watcher can give up on a
// Send that blocks.
type sender struct {
	stream grpc.ServerStreamingServer[liaisonv1.WatchResponse]
	in     chan *liaisonv1.WatchResponse
	done   chan error
}

func newSender(stream grpc.ServerStreamingServer[liaisonv1.WatchResponse]) *sender {
	s := &sender{stream: stream, in: make(chan *liaisonv1.WatchResponse), done: make(chan error, 1)}
	go s.loop()
	return s
}

func (s *sender) loop() {
	for m := range s.in {
		// done holds one answer, and the watcher hands over the next
		// message only after reading it: this never blocks, even once the
		// watcher has gone.
		s.done <- s.stream.Send(m)
	}
}

// close lets the sender end once it is done with the message in hand (a
// blocked Send returns when gRPC ends the call).
func (s *sender) close() { close(s.in) }

// toChange is the API form of a feed event, with the record as it is now
// (none once its content is gone).
func toChange(ev store.FeedEvent) (*liaisonv1.Change, error) {
	c := &liaisonv1.Change{
		Cursor: ev.Seq, Time: timestamppb.New(ev.Time), Kind: ev.Kind, RecordId: ev.RecordID,
		Version: ev.Version, OriginAgency: ev.OriginAgency, Action: ev.Action,
	}
	if ev.Record == nil {
		return c, nil
	}
	var m proto.Message
	switch ev.Kind {
	case liaisonv1.ChangeKind_CHANGE_KIND_LEAD:
		l := &liaisonv1.Lead{}
		m, c.Record = l, &liaisonv1.Change_Lead{Lead: l}
	case liaisonv1.ChangeKind_CHANGE_KIND_CASE:
		cs := &liaisonv1.Case{}
		m, c.Record = cs, &liaisonv1.Change_Case{Case: cs}
	case liaisonv1.ChangeKind_CHANGE_KIND_CASE_ENTRY:
		e := &liaisonv1.CaseEntry{}
		m, c.Record = e, &liaisonv1.Change_CaseEntry{CaseEntry: e}
	case liaisonv1.ChangeKind_CHANGE_KIND_MANIFEST:
		mf := &liaisonv1.Manifest{}
		m, c.Record = mf, &liaisonv1.Change_Manifest{Manifest: mf}
	default:
		return c, nil
	}
	if err := proto.Unmarshal(ev.Record, m); err != nil {
		return nil, fmt.Errorf("decode the record of change %d (%s %s): %w", ev.Seq, ev.Kind, ev.RecordID, err)
	}
	// Etags are derived on every read, never stored.
	switch r := m.(type) {
	case *liaisonv1.Lead:
		r.Etag = store.Etag(r.GetId(), r.GetVersion())
	case *liaisonv1.Case:
		r.Etag = store.Etag(r.GetId(), r.GetVersion())
	case *liaisonv1.Manifest:
		r.Etag = store.Etag(r.GetId(), r.GetVersion())
	}
	return c, nil
}

// days writes a retention as the config does: "30d" rather than "720h0m0s".
func days(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

func resetTimer(t *time.Timer, d time.Duration) {
	t.Stop()
	t.Reset(max(d, 0))
}

// RunTrim deletes changes older than the retention, at start and then
// every TrimInterval, until ctx is done. The node runs it for as long as
// it serves, so its end also ends every open Watch with a resumable
// UNAVAILABLE: a graceful stop need not wait for streams that never end.
func (s *Server) RunTrim(ctx context.Context) {
	defer s.stopOnce.Do(func() { close(s.stopping) })
	tick := time.NewTicker(s.opts.TrimInterval)
	defer tick.Stop()
	for {
		if n, err := s.Trim(ctx); err != nil && ctx.Err() == nil {
			s.opts.Logger.Error("change feed: trim", "err", err)
		} else if n > 0 {
			s.opts.Logger.Info("change feed: trimmed", "changes", n, "retention", days(s.opts.Retention))
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Trim deletes the changes older than the retention, always keeping the
// newest (a cursor stays meaningful only while its successor can be
// found), and records each deletion in the audit log. It returns how many
// changes it deleted.
func (s *Server) Trim(ctx context.Context) (int64, error) {
	var total int64
	// Each pass deletes at most trimChunk changes; the bound on passes only
	// guards against a clock that keeps moving the target.
	for range 10000 {
		var n int64
		more := false
		err := s.store.Write(ctx, func(tx *store.Tx) error {
			oldest, newest, err := tx.FeedBounds()
			if err != nil {
				return err
			}
			cutoff := tx.Now().Add(-s.opts.Retention)
			before, err := tx.FeedCursorBefore(cutoff)
			if err != nil {
				return err
			}
			target := min(before, newest-1)
			upTo := min(target, oldest+trimChunk-1)
			if upTo < oldest {
				return nil
			}
			if n, err = tx.TrimFeed(upTo); err != nil {
				return err
			}
			more = upTo < target
			return tx.Audit(&audit.Event{
				Principal: s.opts.NodeID, Role: string(identity.Node), Action: "feed.trim", Resource: "feed", Outcome: "OK",
				Detail: fmt.Sprintf("deleted %d changes, cursors %d to %d, made before %s (retention %s)",
					n, oldest, upTo, cutoff.UTC().Format(time.RFC3339), days(s.opts.Retention)),
			})
		})
		if err != nil {
			return total, err
		}
		total += n
		if !more {
			return total, nil
		}
	}
	return total, nil
}
