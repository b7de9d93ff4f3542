package match

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/ids"
	"github.com/liaison-exchange/liaison/server/store"
)

// Record kinds whose persons are indexed.
const (
	kindLead     = "lead"
	kindCase     = "case"
	kindManifest = "manifest"
	// kindCanary holds an epoch's canary entry; it is no record.
	kindCanary = "canary"
)

// Discoverable is the default policy: whether an own record's persons are
// in the index published to a partner, before any per-record override
// (SetDiscoverability).
//   - A lead: yes, unless withdrawn or coded H3 (its conditions are free
//     text no machine can check, so a hit could breach them).
//   - A case: yes.
//   - A manifest (on the sending node): no. Its persons are people being
//     returned, many of them victims; an officer can make one discoverable.
func Discoverable(rec proto.Message) bool {
	switch r := rec.(type) {
	case *liaisonv1.Lead:
		return r.GetStatus() != liaisonv1.LeadStatus_LEAD_STATUS_WITHDRAWN &&
			r.GetHandling().GetCode() != liaisonv1.HandlingCode_HANDLING_CODE_H3
	case *liaisonv1.Case:
		return true
	}
	return false
}

// personsOf are the persons a record holds.
func personsOf(rec proto.Message) []*liaisonv1.Person {
	switch r := rec.(type) {
	case *liaisonv1.Lead:
		return r.GetSubjects()
	case *liaisonv1.Case:
		return r.GetSubjects()
	case *liaisonv1.Manifest:
		out := make([]*liaisonv1.Person, 0, len(r.GetPersons()))
		for _, p := range r.GetPersons() {
			out = append(out, p.GetIdentity())
		}
		return out
	}
	return nil
}

func decodeRecord(kind string, body []byte) (proto.Message, error) {
	var m proto.Message
	switch kind {
	case kindLead:
		m = &liaisonv1.Lead{}
	case kindCase:
		m = &liaisonv1.Case{}
	case kindManifest:
		m = &liaisonv1.Manifest{}
	default:
		return nil, fmt.Errorf("no persons in records of kind %q", kind)
	}
	if err := proto.Unmarshal(body, m); err != nil {
		return nil, fmt.Errorf("decode %s: %w", kind, err)
	}
	return m, nil
}

func originOf(rec proto.Message) string {
	switch r := rec.(type) {
	case *liaisonv1.Lead:
		return r.GetOriginAgency()
	case *liaisonv1.Case:
		return r.GetOriginAgency()
	case *liaisonv1.Manifest:
		return r.GetOriginAgency()
	}
	return ""
}

// recordKeys are the blocking keys of a record's persons, each once.
func recordKeys(rec proto.Message) []Key {
	var out []Key
	seen := map[string]bool{}
	for _, p := range personsOf(rec) {
		for _, k := range Keys(p) {
			if !seen[string(k.Input)] {
				seen[string(k.Input)] = true
				out = append(out, k)
			}
		}
	}
	return out
}

// IndexerOptions configure the holder's side.
type IndexerOptions struct {
	Store    *store.Store
	Own      string
	Partners []string
	// Secret is the node's secret the OPRF keys are derived from.
	Secret []byte
	// EpochLength is how long an epoch's key is used before a new one.
	EpochLength time.Duration
	// Interval is how often the change feed is looked at (besides every
	// change's signal).
	Interval time.Duration
	Logger   *slog.Logger
	Now      func() time.Time
}

// Indexer keeps the index this node publishes to each partner current:
// it indexes every own record when an epoch starts, then each change the
// change feed reports, and sends what changed as MATCH_INDEX envelopes.
type Indexer struct {
	o    IndexerOptions
	mu   sync.Mutex // one cycle at a time
	evMu sync.Mutex
	evs  map[string]*evaluator // by partner and epoch
	kick chan struct{}         // a rotation wants a cycle now
}

// NewIndexer returns the indexer; Run runs it.
func NewIndexer(o IndexerOptions) *Indexer {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Indexer{o: o, evs: map[string]*evaluator{}, kick: make(chan struct{}, 1)}
}

// evaluator returns the holder's evaluator of a partner's epoch.
func (ix *Indexer) evaluator(partner string, epoch int64) (*evaluator, error) {
	k := evaluatorKey(partner, epoch)
	ix.evMu.Lock()
	defer ix.evMu.Unlock()
	if e, ok := ix.evs[k]; ok {
		return e, nil
	}
	e, err := newEvaluator(ix.o.Secret, ix.o.Own, partner, epoch)
	if err != nil {
		return nil, err
	}
	ix.evs[k] = e
	return e, nil
}

// cachedEvaluator is partner's evaluator of epoch if this node has used
// it since it started (never deriving one).
func (ix *Indexer) cachedEvaluator(partner string, epoch int64) (*evaluator, bool) {
	ix.evMu.Lock()
	defer ix.evMu.Unlock()
	e, ok := ix.evs[evaluatorKey(partner, epoch)]
	return e, ok
}

func evaluatorKey(partner string, epoch int64) string { return fmt.Sprintf("%s\x00%d", partner, epoch) }

// Run indexes and publishes until ctx ends.
func (ix *Indexer) Run(ctx context.Context) {
	t := time.NewTicker(ix.o.Interval)
	defer t.Stop()
	for {
		// The signal is taken before the cycle, so that a change committed
		// while the cycle runs wakes the next one at once (taken after, it
		// would wait for the ticker).
		changed := ix.o.Store.FeedSignal()
		if err := ix.Cycle(ctx); err != nil && ctx.Err() == nil {
			ix.o.Logger.Error("match index", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-changed:
		case <-ix.kick:
		}
	}
}

// Cycle brings every partner's index up to date once: a new epoch when
// the current one is over, the scan of every own record for an epoch not
// yet scanned, the changes since, and the updates that send them.
func (ix *Indexer) Cycle(ctx context.Context) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	var errsOut []error
	for _, p := range ix.o.Partners {
		if err := ix.cycle(ctx, p); err != nil {
			errsOut = append(errsOut, fmt.Errorf("index for %s: %w", p, err))
		}
	}
	return errors.Join(errsOut...)
}

// Rotate starts a new epoch for partner now; its index is built in the
// background (Run), and the partner switches to it once it is complete.
func (ix *Indexer) Rotate(ctx context.Context, partner string) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	epochs, err := ix.o.Store.MatchEpochs(ctx, partner)
	if err != nil {
		return err
	}
	if _, err := ix.startEpoch(ctx, partner, epochs); err != nil {
		return err
	}
	select {
	case ix.kick <- struct{}{}:
	default:
	}
	return nil
}

func (ix *Indexer) cycle(ctx context.Context, partner string) error {
	epochs, err := ix.o.Store.MatchEpochs(ctx, partner)
	if err != nil {
		return err
	}
	// The change feed keeps changes for its retention period; a node down
	// longer has missed changes the index cannot follow: it starts over.
	oldest, _, err := ix.o.Store.FeedBounds(ctx)
	if err != nil {
		return err
	}
	missed := len(epochs) > 0 && epochs[0].Scanned && oldest > epochs[0].FeedCursor+1
	if len(epochs) == 0 || missed || (ix.o.EpochLength > 0 && ix.o.Now().Sub(epochs[0].Start) >= ix.o.EpochLength) {
		if epochs, err = ix.startEpoch(ctx, partner, epochs); err != nil {
			return err
		}
	}
	cur := epochs[0]
	ev, err := ix.evaluator(partner, cur.Epoch)
	if err != nil {
		return err
	}
	if !cur.Scanned {
		if err := ix.scan(ctx, &cur, ev); err != nil {
			return err
		}
	}
	if err := ix.follow(ctx, &cur, ev); err != nil {
		return err
	}
	if err := ix.publish(ctx, &cur, ev); err != nil {
		return err
	}
	// Once the partner has the new epoch in full, it drops the older ones;
	// the holder keeps the one before (to resolve follow-ups of hits made
	// just before) and drops the rest.
	if cur.CompleteSent {
		for _, old := range epochs[1:] {
			if old.Epoch < cur.Epoch-1 {
				if err := ix.o.Store.Write(ctx, func(tx *store.Tx) error { return tx.DropMatchEpoch(partner, old.Epoch) }); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// startEpoch starts the next epoch: its feed cursor is the feed's newest
// change, so that what changes during its scan is indexed again after.
func (ix *Indexer) startEpoch(ctx context.Context, partner string, epochs []store.MatchEpoch) ([]store.MatchEpoch, error) {
	_, newest, err := ix.o.Store.FeedBounds(ctx)
	if err != nil {
		return nil, err
	}
	e := store.MatchEpoch{Partner: partner, Epoch: 1, IndexID: ids.New(), Start: ix.o.Now().UTC(), FeedCursor: newest}
	if len(epochs) > 0 {
		e.Epoch = epochs[0].Epoch + 1
	}
	// Started by a call (RotateMatchKey), the call's audit event is written
	// in this transaction and says which epoch it started.
	if err := ix.o.Store.Write(ctx, func(tx *store.Tx) error {
		audit.SetDetail(ctx, fmt.Sprintf("epoch %d started", e.Epoch))
		return tx.InsertMatchEpoch(e)
	}); err != nil {
		return nil, err
	}
	ix.o.Logger.Info("match index epoch started", "partner", partner, "epoch", e.Epoch)
	return append([]store.MatchEpoch{e}, epochs...), nil
}

// pageSize is the records indexed, and entries sent, per transaction.
const pageSize = 500

// maxEntriesPerUpdate keeps an update envelope (16 bytes an entry, added
// and removed) well under federation.MaxPayloadBytes.
const maxEntriesPerUpdate = 8192

// indexed is the entries of one record for one epoch.
type indexed struct {
	kind, id string
	entries  []store.MatchEntry
}

// entriesOfBody computes a record's entries for partner's epoch from its
// serialized body (none for an empty body: content deleted).
func (ix *Indexer) entriesOfBody(ctx context.Context, partner string, ev *evaluator, kind, id string, body []byte) (indexed, error) {
	if len(body) == 0 {
		return indexed{kind: kind, id: id}, nil
	}
	rec, err := decodeRecord(kind, body)
	if err != nil {
		// One unreadable record must not stop the index: it gives no
		// entries (so none of it can be found blind) and is reported.
		ix.o.Logger.Error("match index: a record could not be read; it is left out of the index", "kind", kind, "id", id, "err", err)
		return indexed{kind: kind, id: id}, nil
	}
	return ix.entriesOf(ctx, partner, ev, kind, id, rec)
}

// entriesOf computes a record's entries for partner's epoch (none if it
// is not an own record or not discoverable by partner).
func (ix *Indexer) entriesOf(ctx context.Context, partner string, ev *evaluator, kind, id string, rec proto.Message) (indexed, error) {
	out := indexed{kind: kind, id: id}
	if originOf(rec) != ix.o.Own {
		return out, nil
	}
	ok := Discoverable(rec)
	over, err := ix.o.Store.Discoverability(ctx, id)
	if err != nil {
		return out, err
	}
	if v, set := over[partner]; set {
		ok = v
	}
	if !ok {
		return out, nil
	}
	keys := recordKeys(rec)
	es, err := ev.entries(keys)
	if err != nil {
		return out, err
	}
	for i, e := range es {
		out.entries = append(out.entries, store.MatchEntry{Entry: e, Kind: keys[i].Kind})
	}
	return out, nil
}

// entriesOfPage computes the entries of a page of records on every core
// (an OPRF evaluation is about 0.1 ms of CPU a key).
func (ix *Indexer) entriesOfPage(ctx context.Context, partner string, ev *evaluator, kind string, page []store.OwnRecord) ([]indexed, error) {
	recs := make([]indexed, len(page))
	err := parallel(len(page), func(i int) (err error) {
		recs[i], err = ix.entriesOfBody(ctx, partner, ev, kind, page[i].ID, page[i].Body)
		return err
	})
	return recs, err
}

func (ix *Indexer) save(ctx context.Context, e *store.MatchEpoch, recs []indexed) error {
	return ix.o.Store.Write(ctx, func(tx *store.Tx) error {
		for _, r := range recs {
			if err := tx.SetRecordEntries(e.Partner, e.Epoch, r.kind, r.id, r.entries); err != nil {
				return err
			}
		}
		return tx.UpdateMatchEpoch(*e)
	})
}

// scan indexes every own record into a new epoch, sending updates as it
// goes.
func (ix *Indexer) scan(ctx context.Context, e *store.MatchEpoch, ev *evaluator) error {
	// The epoch's canary first (see canary): it is in the index as long as
	// the epoch is.
	c, err := ev.entries([]Key{canary(ix.o.Own, e.Partner, e.Epoch)})
	if err != nil {
		return err
	}
	if err := ix.save(ctx, e, []indexed{{kind: kindCanary, id: e.IndexID, entries: []store.MatchEntry{{Entry: c[0]}}}}); err != nil {
		return err
	}
	for _, kind := range []string{kindLead, kindCase, kindManifest} {
		after := ""
		for {
			page, err := ix.o.Store.OwnRecordsAfter(ctx, kind, after, pageSize)
			if err != nil {
				return err
			}
			if len(page) == 0 {
				break
			}
			recs, err := ix.entriesOfPage(ctx, e.Partner, ev, kind, page)
			if err != nil {
				return err
			}
			if err := ix.save(ctx, e, recs); err != nil {
				return err
			}
			if err := ix.publish(ctx, e, ev); err != nil {
				return err
			}
			after = page[len(page)-1].ID
		}
	}
	e.Scanned = true
	return ix.o.Store.Write(ctx, func(tx *store.Tx) error { return tx.UpdateMatchEpoch(*e) })
}

// follow indexes the records the change feed reports changed since the
// epoch's cursor.
func (ix *Indexer) follow(ctx context.Context, e *store.MatchEpoch, ev *evaluator) error {
	for {
		evs, err := ix.o.Store.FeedAfter(ctx, e.FeedCursor, pageSize)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			return nil
		}
		var recs []indexed
		done := map[string]bool{}
		for _, fe := range evs {
			kind := ""
			switch fe.Kind {
			case liaisonv1.ChangeKind_CHANGE_KIND_LEAD:
				kind = kindLead
			case liaisonv1.ChangeKind_CHANGE_KIND_CASE:
				kind = kindCase
			case liaisonv1.ChangeKind_CHANGE_KIND_MANIFEST:
				kind = kindManifest
			}
			if kind == "" || fe.OriginAgency != ix.o.Own || done[kind+fe.RecordID] {
				continue
			}
			done[kind+fe.RecordID] = true
			// The feed carries the record as it is now (nil once its content
			// is gone): its entries are computed from that.
			x, err := ix.entriesOfBody(ctx, e.Partner, ev, kind, fe.RecordID, fe.Record)
			if err != nil {
				return err
			}
			recs = append(recs, x)
		}
		e.FeedCursor = evs[len(evs)-1].Seq
		if err := ix.save(ctx, e, recs); err != nil {
			return err
		}
	}
}

// Reindex indexes one own record again for every partner (after its
// discoverability changed).
func (ix *Indexer) Reindex(ctx context.Context, kind, id string, rec proto.Message) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, p := range ix.o.Partners {
		epochs, err := ix.o.Store.MatchEpochs(ctx, p)
		if err != nil {
			return err
		}
		if len(epochs) == 0 {
			continue // its first scan will see the record
		}
		e := epochs[0]
		ev, err := ix.evaluator(p, e.Epoch)
		if err != nil {
			return err
		}
		x, err := ix.entriesOf(ctx, p, ev, kind, id, rec)
		if err != nil {
			return err
		}
		if err := ix.save(ctx, &e, []indexed{x}); err != nil {
			return err
		}
		if err := ix.publish(ctx, &e, ev); err != nil {
			return err
		}
	}
	return nil
}

// publish sends the changed entries of an epoch as updates: one envelope
// per up to maxEntriesPerUpdate entries, in the transaction that records
// them as sent. The first update of an epoch carries its public key (all
// do), the last of a scanned epoch's snapshot is marked complete.
func (ix *Indexer) publish(ctx context.Context, e *store.MatchEpoch, ev *evaluator) error {
	// Most cycles find nothing changed: they read, and write nothing (a
	// write a second a partner would queue before the calls' audit events
	// in the writer for nothing).
	if !e.Scanned || e.CompleteSent {
		pending, err := ix.o.Store.MatchPending(ctx, e.Partner, e.Epoch)
		if err != nil || !pending {
			return err
		}
	}
	for {
		more, sent := false, *e
		err := ix.o.Store.Write(ctx, func(tx *store.Tx) error {
			sent = *e
			dirty, err := tx.MatchDirty(e.Partner, e.Epoch, maxEntriesPerUpdate)
			if err != nil {
				return err
			}
			more = len(dirty) == maxEntriesPerUpdate
			complete := e.Scanned && !more && !e.CompleteSent
			var added, removed, seen [][]byte
			for _, d := range dirty {
				seen = append(seen, d.Entry)
				switch {
				case d.Wanted && !d.Published:
					added = append(added, d.Entry)
				case !d.Wanted && d.Published:
					removed = append(removed, d.Entry)
				}
			}
			if len(added) == 0 && len(removed) == 0 && !complete {
				// Nothing to send. (A scanned epoch's last snapshot update is
				// sent even empty: it completes the epoch.)
				return tx.PublishMatchEntries(e.Partner, e.Epoch, nil, nil, seen)
			}
			u := &liaisonv1.MatchIndexUpdate{IndexId: e.IndexID, Holder: ix.o.Own, Partner: e.Partner, Epoch: uint32(e.Epoch),
				PublicKey: ev.public, Complete: complete, Added: bytes.Join(added, nil), Removed: bytes.Join(removed, nil)}
			next := *e
			next.Version++
			next.CompleteSent = e.CompleteSent || complete
			if _, err := tx.AppendOutbox(store.Outgoing{Receiver: e.Partner, Kind: liaisonv1.EnvelopeKind_ENVELOPE_KIND_MATCH_INDEX,
				RecordID: e.IndexID, RecordVersion: next.Version, Payload: u}); err != nil {
				return err
			}
			if err := tx.PublishMatchEntries(e.Partner, e.Epoch, added, removed, seen); err != nil {
				return err
			}
			if err := tx.UpdateMatchEpoch(next); err != nil {
				return err
			}
			sent = next
			return nil
		})
		if err != nil {
			return err
		}
		*e = sent
		if !more {
			return nil
		}
	}
}
