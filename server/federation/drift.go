package federation

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/identity"
	"github.com/liaison-exchange/liaison/server/paging"
	"github.com/liaison-exchange/liaison/server/store"
)

// RecordKindSpec says how copies of a replicated record kind are compared
// and repaired.
type RecordKindSpec struct {
	Kind liaisonv1.RecordKind
	// Upsert and Tombstone are the envelope kinds that carry the record.
	Upsert, Tombstone liaisonv1.EnvelopeKind
	// Replicas reads, in one snapshot, the last sequence applied from
	// origin and the replicas of origin's records with ids in [fromID,
	// toID) (receiving side).
	Replicas func(ctx context.Context, origin, fromID, toID string, limit int) (int64, []store.DigestItem, error)
	// Repair builds the envelope that brings a partner's copy of a record
	// back in line with the home node's (home side); nil if nothing can be
	// sent (the difference is then reported only).
	Repair func(tx *store.Tx, partner, recordID string) (*store.Outgoing, error)
}

// Kind registers a replicated record kind.
func (r *Registry) Kind(spec RecordKindSpec) { r.kinds[spec.Kind] = spec }

// BucketOf is the digest bucket of a record id: the hour (UTC) of the
// time in its UUIDv7.
func BucketOf(id string) string {
	u, err := uuid.Parse(id)
	if err != nil || u.Version() != 7 {
		return "0000-01-01T00"
	}
	sec, nsec := u.Time().UnixTime()
	return time.Unix(sec, nsec).UTC().Format("2006-01-02T15")
}

// bucketRange is the id range [from, to) of a bucket.
func bucketRange(bucket string) (string, string, error) {
	t, err := time.Parse("2006-01-02T15", bucket)
	if err != nil {
		return "", "", errs.Invalid("bucket", "must look like 2026-11-22T04")
	}
	prefix := func(t time.Time) string {
		ms := uint64(t.UnixMilli())
		return fmt.Sprintf("%08x-%04x", ms>>16, ms&0xffff)
	}
	return prefix(t), prefix(t.Add(time.Hour)), nil
}

// Summarize groups items (sorted by id) into digest buckets.
func Summarize(items []store.DigestItem) []*liaisonv1.DigestBucket {
	byBucket := map[string][]store.DigestItem{}
	for _, it := range items {
		b := BucketOf(it.ID)
		byBucket[b] = append(byBucket[b], it)
	}
	names := make([]string, 0, len(byBucket))
	for b := range byBucket {
		names = append(names, b)
	}
	sort.Strings(names)
	out := make([]*liaisonv1.DigestBucket, 0, len(names))
	for _, b := range names {
		its := byBucket[b]
		sort.Slice(its, func(i, j int) bool { return its[i].ID < its[j].ID })
		h := sha256.New()
		for _, it := range its {
			fmt.Fprintf(h, "%s %d %t\n", it.ID, it.Version, it.Tombstone)
		}
		out = append(out, &liaisonv1.DigestBucket{Bucket: b, Count: int64(len(its)), Hash: h.Sum(nil)})
	}
	return out
}

// GetDigest implements liaisonv1.FederationServiceServer.
func (r *Receiver) GetDigest(ctx context.Context, req *liaisonv1.GetDigestRequest) (*liaisonv1.GetDigestResponse, error) {
	caller, _ := identity.FromContext(ctx)
	spec, ok := r.registry.kinds[req.GetKind()]
	if !ok {
		return nil, errs.Invalid("kind", "%s is not replicated", req.GetKind())
	}
	audit.SetResource(ctx, "channels/"+caller.Agency)
	asOf, items, err := spec.Replicas(ctx, caller.Agency, "", "\xff", math.MaxInt32)
	if err != nil {
		return nil, err
	}
	return &liaisonv1.GetDigestResponse{AsOfSequence: uint64(asOf), Buckets: Summarize(items)}, nil
}

// ListDigestItems implements liaisonv1.FederationServiceServer.
func (r *Receiver) ListDigestItems(ctx context.Context, req *liaisonv1.ListDigestItemsRequest) (*liaisonv1.ListDigestItemsResponse, error) {
	caller, _ := identity.FromContext(ctx)
	spec, ok := r.registry.kinds[req.GetKind()]
	if !ok {
		return nil, errs.Invalid("kind", "%s is not replicated", req.GetKind())
	}
	audit.SetResource(ctx, "channels/"+caller.Agency)
	from, to, err := bucketRange(req.GetBucket())
	if err != nil {
		return nil, err
	}
	fp := paging.Fingerprint(req.GetKind(), req.GetBucket())
	after, err := paging.Decode(req.GetPageToken(), fp)
	if err != nil {
		return nil, err
	}
	if after != "" {
		from = after + "\x00"
	}
	size := int(req.GetPageSize())
	if size <= 0 {
		size = 1000
	}
	asOf, items, err := spec.Replicas(ctx, caller.Agency, from, to, size+1)
	if err != nil {
		return nil, err
	}
	resp := &liaisonv1.ListDigestItemsResponse{AsOfSequence: uint64(asOf)}
	if len(items) > size {
		items = items[:size]
		resp.NextPageToken = paging.Encode(items[size-1].ID, fp)
	}
	for _, it := range items {
		resp.Items = append(resp.Items, &liaisonv1.DigestItem{Id: it.ID, Version: it.Version, Tombstone: it.Tombstone})
	}
	return resp, nil
}

// DriftChecker compares, for the records this node is home to, what each
// partner holds with what it should hold, and queues repairs.
type DriftChecker struct {
	own      string
	nodeID   string
	store    *store.Store
	registry *Registry
	relays   map[string]*Relay
	log      *slog.Logger
}

// NewDriftChecker returns a checker over the relays' connections.
func NewDriftChecker(own, nodeID string, s *store.Store, reg *Registry, relays map[string]*Relay, log *slog.Logger) *DriftChecker {
	return &DriftChecker{own: own, nodeID: nodeID, store: s, registry: reg, relays: relays, log: log}
}

// Run checks every partner every interval until ctx is done.
func (d *DriftChecker) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.CheckAll(ctx)
		}
	}
}

// CheckAll checks every partner now.
func (d *DriftChecker) CheckAll(ctx context.Context) []*liaisonv1.DriftCheckResult {
	names := make([]string, 0, len(d.relays))
	for p := range d.relays {
		names = append(names, p)
	}
	sort.Strings(names)
	out := make([]*liaisonv1.DriftCheckResult, 0, len(names))
	for _, p := range names {
		out = append(out, d.Check(ctx, p))
	}
	return out
}

// difference is one record whose copy is not what it should be.
type difference struct {
	id        string
	kind      liaisonv1.RecordKind
	want, got *store.DigestItem
}

func (f difference) String() string {
	show := func(it *store.DigestItem) string {
		switch {
		case it == nil:
			return "absent"
		case it.Tombstone:
			return fmt.Sprintf("tombstone v%d", it.Version)
		}
		return fmt.Sprintf("v%d", it.Version)
	}
	return fmt.Sprintf("%s: should be %s, is %s", f.id, show(f.want), show(f.got))
}

// Check compares one partner's copies of every replicated kind, queues a
// repair envelope for each difference, and records the result.
func (d *DriftChecker) Check(ctx context.Context, partner string) *liaisonv1.DriftCheckResult {
	res := &liaisonv1.DriftCheckResult{Partner: partner, Time: timestamppb.Now()}
	var diffs []difference
	var inFlight int64
	kinds := make([]liaisonv1.RecordKind, 0, len(d.registry.kinds))
	for k := range d.registry.kinds {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool { return kinds[i] < kinds[j] })
	var failure error
	for _, k := range kinds {
		compared, kd, flight, err := d.checkKind(ctx, partner, d.registry.kinds[k])
		if err != nil {
			failure = fmt.Errorf("%s: %w", strings.ToLower(strings.TrimPrefix(k.String(), "RECORD_KIND_")), err)
			break
		}
		res.RecordsCompared += compared
		diffs = append(diffs, kd...)
		inFlight += flight
	}
	res.Differences = int64(len(diffs))
	switch {
	case failure != nil:
		res.Error = failure.Error()
		res.Summary = "drift check could not run: " + failure.Error()
	case len(diffs) == 0:
		res.InStep = true
		res.Summary = fmt.Sprintf("in step: %d records compared", res.RecordsCompared)
		if inFlight > 0 {
			res.Summary += fmt.Sprintf(" (%d changes in flight)", inFlight)
		}
	default:
		var list []string
		for i, f := range diffs {
			if i == 10 {
				list = append(list, fmt.Sprintf("and %d more", len(diffs)-10))
				break
			}
			list = append(list, f.String())
		}
		res.Summary = fmt.Sprintf("%d of %d records differ: %s", len(diffs), res.RecordsCompared, strings.Join(list, "; "))
	}
	err := d.store.Write(ctx, func(tx *store.Tx) error {
		for _, f := range diffs {
			spec := d.registry.kinds[f.kind]
			out, err := spec.Repair(tx, partner, f.id)
			if err != nil {
				return err
			}
			if out == nil {
				continue
			}
			out.Repair = true
			if _, err := tx.AppendOutbox(*out); err != nil {
				return err
			}
			res.RepairsQueued++
		}
		if res.RepairsQueued > 0 {
			res.Summary += fmt.Sprintf("; %d repairs queued", res.RepairsQueued)
		}
		outcome := "OK"
		if !res.InStep {
			outcome = "DRIFT"
		}
		if failure != nil {
			outcome = "ERROR"
		}
		if err := tx.Audit(&audit.Event{Principal: d.nodeID, Role: string(identity.Node), Action: "federation.drift.check",
			Resource: "channels/" + partner, Outcome: outcome, Detail: res.Summary}); err != nil {
			return err
		}
		return tx.SaveDriftCheck(res)
	})
	if err != nil {
		res.Error = "recording the check failed: " + err.Error()
	}
	switch {
	case failure != nil || err != nil:
		d.log.Warn("drift check failed", "partner", partner, "err", res.Error)
	case !res.InStep:
		d.log.Warn("copies drifted; repairs queued", "partner", partner, "summary", res.Summary)
	default:
		d.log.Info("drift check: in step", "partner", partner, "records", res.RecordsCompared)
	}
	return res
}

// expectation is what a partner should hold of one kind after a sequence.
type expectation struct {
	items    map[string]store.DigestItem
	inFlight map[string]bool // records with envelopes after that sequence
}

func (d *DriftChecker) expect(ctx context.Context, partner string, spec RecordKindSpec, asOf int64) (*expectation, error) {
	ch, err := d.store.OutChannel(ctx, partner)
	if err != nil {
		return nil, err
	}
	rows, err := d.store.OutboxUpTo(ctx, partner, ch.LastSeq)
	if err != nil {
		return nil, err
	}
	e := &expectation{items: map[string]store.DigestItem{}, inFlight: map[string]bool{}}
	for _, r := range rows {
		if r.Kind != spec.Upsert && r.Kind != spec.Tombstone {
			continue
		}
		if r.Seq > asOf {
			e.inFlight[r.RecordID] = true
			continue
		}
		e.items[r.RecordID] = store.DigestItem{ID: r.RecordID, Version: r.RecordVersion, Tombstone: r.Kind == spec.Tombstone}
	}
	return e, nil
}

func (d *DriftChecker) checkKind(ctx context.Context, partner string, spec RecordKindSpec) (compared int64, diffs []difference, inFlight int64, err error) {
	relay, ok := d.relays[partner]
	if !ok {
		return 0, nil, 0, fmt.Errorf("no channel to %s", partner)
	}
	client := relay.Client()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	dg, err := client.GetDigest(cctx, &liaisonv1.GetDigestRequest{Kind: spec.Kind})
	if err != nil {
		return 0, nil, 0, describe("partner digest", err)
	}
	exp, err := d.expect(ctx, partner, spec, int64(dg.GetAsOfSequence()))
	if err != nil {
		return 0, nil, 0, err
	}
	expList := make([]store.DigestItem, 0, len(exp.items))
	for _, it := range exp.items {
		expList = append(expList, it)
	}
	mine := map[string]*liaisonv1.DigestBucket{}
	for _, b := range Summarize(expList) {
		mine[b.GetBucket()] = b
	}
	theirs := map[string]*liaisonv1.DigestBucket{}
	var held int64
	for _, b := range dg.GetBuckets() {
		theirs[b.GetBucket()] = b
		held += b.GetCount()
	}
	// What it should hold or does hold, whichever is more (a lost copy counts).
	compared = max(held, int64(len(exp.items)))
	var suspect []string
	for name, b := range mine {
		t, ok := theirs[name]
		if !ok || t.GetCount() != b.GetCount() || string(t.GetHash()) != string(b.GetHash()) {
			suspect = append(suspect, name)
		}
	}
	for name := range theirs {
		if _, ok := mine[name]; !ok {
			suspect = append(suspect, name)
		}
	}
	sort.Strings(suspect)
	for _, bucket := range suspect {
		got, asOf, err := d.bucketItems(cctx, client, spec.Kind, bucket)
		if err != nil {
			return compared, nil, 0, err
		}
		e := exp
		if asOf != int64(dg.GetAsOfSequence()) {
			// Envelopes were applied meanwhile: compare with what the
			// partner should hold as of the bucket's own snapshot.
			if e, err = d.expect(ctx, partner, spec, asOf); err != nil {
				return compared, nil, 0, err
			}
		}
		ids := map[string]bool{}
		for id := range got {
			ids[id] = true
		}
		for id, it := range e.items {
			if BucketOf(it.ID) == bucket {
				ids[id] = true
			}
		}
		sorted := make([]string, 0, len(ids))
		for id := range ids {
			sorted = append(sorted, id)
		}
		sort.Strings(sorted)
		for _, id := range sorted {
			w, hasW := e.items[id]
			g, hasG := got[id]
			if hasW && hasG && w == g {
				continue
			}
			if e.inFlight[id] {
				inFlight++ // a newer envelope on its way will set it right
				continue
			}
			f := difference{id: id, kind: spec.Kind}
			if hasW {
				f.want = &w
			}
			if hasG {
				f.got = &g
			}
			diffs = append(diffs, f)
		}
	}
	return compared, diffs, inFlight, nil
}

func (d *DriftChecker) bucketItems(ctx context.Context, client liaisonv1.FederationServiceClient, kind liaisonv1.RecordKind, bucket string) (map[string]store.DigestItem, int64, error) {
	out := map[string]store.DigestItem{}
	token := ""
	var asOf int64 = -1
	for page := 0; page < 10000; page++ {
		resp, err := client.ListDigestItems(ctx, &liaisonv1.ListDigestItemsRequest{Kind: kind, Bucket: bucket, PageSize: 10000, PageToken: token})
		if err != nil {
			return nil, 0, describe("partner digest items", err)
		}
		if asOf >= 0 && int64(resp.GetAsOfSequence()) != asOf {
			// The partner applied envelopes between pages: start over.
			out, token, asOf = map[string]store.DigestItem{}, "", -1
			continue
		}
		asOf = int64(resp.GetAsOfSequence())
		for _, it := range resp.GetItems() {
			out[it.GetId()] = store.DigestItem{ID: it.GetId(), Version: it.GetVersion(), Tombstone: it.GetTombstone()}
		}
		if token = resp.GetNextPageToken(); token == "" {
			return out, asOf, nil
		}
	}
	return nil, 0, fmt.Errorf("bucket %s did not settle", bucket)
}
