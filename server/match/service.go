package match

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/federation"
	"github.com/liaison-exchange/liaison/server/identity"
	"github.com/liaison-exchange/liaison/server/store"
)

// Options configure the match service of a node.
type Options struct {
	Store    *store.Store
	Own      string
	Partners []string
	// PublishTo are the partners this node publishes an index to and
	// evaluates for (config match.partners).
	PublishTo []string
	Indexer   *Indexer
	// Conn is the connection to a partner's node (nil if none).
	Conn func(partner string) grpc.ClientConnInterface
	// DailyBudget is the evaluations a partner may ask of this node per UTC
	// day.
	DailyBudget int64
	// FollowUpDeadline is the default time a holder has to decide a
	// follow-up.
	FollowUpDeadline time.Duration
	Now              func() time.Time
}

// Server implements MatchService (the asker's and the holder's calls of
// its officers) and MatchPeerService (the holder's side for partners).
type Server struct {
	liaisonv1.UnimplementedMatchServiceServer
	liaisonv1.UnimplementedMatchPeerServiceServer
	o Options
}

var (
	_ liaisonv1.MatchServiceServer     = (*Server)(nil)
	_ liaisonv1.MatchPeerServiceServer = (*Server)(nil)
)

// New returns the match service.
func New(o Options) *Server {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.FollowUpDeadline <= 0 {
		o.FollowUpDeadline = 48 * time.Hour
	}
	return &Server{o: o}
}

func (s *Server) partner(p string) error {
	if !slices.Contains(s.o.Partners, p) {
		return errs.Precondition("match.not_a_partner", "partners/"+p, "%s is not a partner of %s", p, s.o.Own)
	}
	return nil
}

func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// ---- the holder's side -------------------------------------------------------

// EvaluateBlinded implements liaisonv1.MatchPeerServiceServer.
func (s *Server) EvaluateBlinded(ctx context.Context, req *liaisonv1.EvaluateBlindedRequest) (*liaisonv1.EvaluateBlindedResponse, error) {
	caller, _ := identity.FromContext(ctx)
	partner := caller.Agency
	audit.SetResource(ctx, "match_indexes/"+partner)
	if !slices.Contains(s.o.PublishTo, partner) {
		return nil, errs.Precondition("match.not_agreed", "match_indexes/"+partner,
			"%s publishes no blind index to %s (its config's match.partners does not list %s)", s.o.Own, partner, partner)
	}
	epoch := int64(req.GetEpoch())
	n := int64(0)
	for _, b := range req.GetBatches() {
		n += int64(len(b.GetElements()))
	}
	evaluate := func(ev *evaluator) (*liaisonv1.EvaluateBlindedResponse, error) {
		out := &liaisonv1.EvaluateBlindedResponse{Batches: make([]*liaisonv1.EvaluatedBatch, len(req.GetBatches()))}
		err := parallel(len(req.GetBatches()), func(i int) error {
			elements, err := ev.evaluate(req.GetBatches()[i].GetElements())
			if err != nil {
				return errs.Invalid(fmt.Sprintf("batches[%d].elements", i), "%v", err)
			}
			out.Batches[i] = &liaisonv1.EvaluatedBatch{Elements: elements}
			return nil
		})
		return out, err
	}
	// A small query (a person's keys) under a key already in use here is
	// evaluated while its epoch is checked and its budget committed, so
	// that neither the read nor the commit's fsync is added to the round
	// trip; the evaluations are answered only once both passed and the
	// budget is durable, and a refused query's are thrown away. A larger
	// one, or one under an epoch this node has no key of at hand, is
	// evaluated after, so a partner past its budget or asking under an
	// epoch it made up cannot make the holder compute more than
	// overlapEvaluations for nothing a call (nor derive a key).
	var (
		out     *liaisonv1.EvaluateBlindedResponse
		evalErr error
		done    chan struct{}
	)
	if ev, ok := s.o.Indexer.cachedEvaluator(partner, epoch); ok && n <= overlapEvaluations {
		done = make(chan struct{})
		go func() {
			defer close(done)
			out, evalErr = evaluate(ev)
		}()
	}
	today := day(s.o.Now())
	var used int64
	// The call's audit event is written in the budget's transaction: its
	// detail, the count, is set inside it.
	err := s.o.Store.Write(ctx, func(tx *store.Tx) error {
		epochs, err := tx.MatchEpochs(partner)
		if err != nil {
			return err
		}
		// The current epoch and the one before it (a query may be in
		// flight across a rotation) are evaluated; older keys are retired.
		if len(epochs) == 0 || epoch > epochs[0].Epoch || epoch < epochs[0].Epoch-1 {
			cur := int64(0)
			if len(epochs) > 0 {
				cur = epochs[0].Epoch
			}
			return errs.Precondition("match.epoch_retired", "match_indexes/"+partner,
				"epoch %d is not in use (the current epoch is %d); ask again with the current index", epoch, cur)
		}
		if used, err = tx.SpendMatchBudget(partner, today, n); err != nil {
			return err
		}
		if used > s.o.DailyBudget {
			audit.SetDetail(ctx, fmt.Sprintf("%d evaluations asked, epoch %d: refused, budget %d spent", n, epoch, s.o.DailyBudget))
			return errs.New(errs.ResourceExhausted, "%s's daily budget of %d evaluations is spent (%d used today, %d asked); it renews at 00:00 UTC",
				partner, s.o.DailyBudget, used-n, n)
		}
		audit.SetDetail(ctx, fmt.Sprintf("%d evaluations, epoch %d; %d of %d used today", n, epoch, used, s.o.DailyBudget))
		return nil
	})
	if done != nil {
		<-done
	} else if err == nil {
		var ev *evaluator
		if ev, err = s.o.Indexer.evaluator(partner, epoch); err == nil {
			out, evalErr = evaluate(ev)
		}
	}
	if err != nil {
		return nil, err
	}
	if evalErr != nil {
		return nil, evalErr
	}
	out.BudgetRemaining = s.o.DailyBudget - used
	return out, nil
}

// overlapEvaluations is the largest query whose evaluation overlaps the
// commit of its budget: a few persons' keys.
const overlapEvaluations = 64

// parallel runs fn(0..n-1) on as many goroutines as there are cores and
// returns the first error.
func parallel(n int, fn func(i int) error) error {
	failed := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(n, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				failed[i] = fn(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range failed {
		if err != nil {
			return err
		}
	}
	return nil
}

// RotateMatchKey implements liaisonv1.MatchServiceServer.
func (s *Server) RotateMatchKey(ctx context.Context, req *liaisonv1.RotateMatchKeyRequest) (*liaisonv1.RotateMatchKeyResponse, error) {
	audit.SetResource(ctx, "match_indexes/"+req.GetPartner())
	if err := s.partner(req.GetPartner()); err != nil {
		return nil, err
	}
	if !slices.Contains(s.o.PublishTo, req.GetPartner()) {
		return nil, errs.Precondition("match.not_agreed", "match_indexes/"+req.GetPartner(),
			"%s publishes no blind index to %s (match.partners in its config)", s.o.Own, req.GetPartner())
	}
	if err := s.o.Indexer.Rotate(ctx, req.GetPartner()); err != nil {
		return nil, err
	}
	// The call's audit event says which epoch it started (startEpoch sets
	// it in the epoch's transaction, where the event is written).
	st, err := s.status(ctx, req.GetPartner())
	if err != nil {
		return nil, err
	}
	return &liaisonv1.RotateMatchKeyResponse{Status: st}, nil
}

// SetDiscoverability implements liaisonv1.MatchServiceServer.
func (s *Server) SetDiscoverability(ctx context.Context, req *liaisonv1.SetDiscoverabilityRequest) (*liaisonv1.SetDiscoverabilityResponse, error) {
	if err := s.partner(req.GetPartner()); err != nil {
		return nil, err
	}
	id := req.GetRecordId()
	kind, rec, err := s.ownRecord(ctx, id)
	if err != nil {
		return nil, err
	}
	audit.SetResource(ctx, kind+"s/"+id)
	audit.SetDetail(ctx, fmt.Sprintf("discoverable by %s: %t", req.GetPartner(), req.GetDiscoverable()))
	if err := s.o.Store.Write(ctx, func(tx *store.Tx) error {
		return tx.SetDiscoverability(id, req.GetPartner(), req.GetDiscoverable())
	}); err != nil {
		return nil, err
	}
	if err := s.o.Indexer.Reindex(ctx, kind, id, rec); err != nil {
		return nil, err
	}
	return &liaisonv1.SetDiscoverabilityResponse{}, nil
}

// ownRecord finds an own lead, case or manifest by id.
func (s *Server) ownRecord(ctx context.Context, id string) (string, proto.Message, error) {
	for _, k := range []struct {
		kind string
		get  func() (proto.Message, error)
	}{
		{kindLead, func() (proto.Message, error) { return s.o.Store.Lead(ctx, id) }},
		{kindCase, func() (proto.Message, error) { return s.o.Store.Case(ctx, id) }},
		{kindManifest, func() (proto.Message, error) { return s.o.Store.Manifest(ctx, id) }},
	} {
		rec, err := k.get()
		if errs.CodeOf(err) == errs.NotFound {
			continue
		}
		if err != nil {
			return "", nil, err
		}
		if originOf(rec) != s.o.Own {
			return "", nil, errs.Precondition("match.own_records_only", k.kind+"s/"+id,
				"%s %s is %s's record; only its own records are in the index %s publishes", k.kind, id, originOf(rec), s.o.Own)
		}
		return k.kind, rec, nil
	}
	return "", nil, errs.NotFoundf("no lead, case or manifest %s", id)
}

// GetMatchStatus implements liaisonv1.MatchServiceServer.
func (s *Server) GetMatchStatus(ctx context.Context, _ *liaisonv1.GetMatchStatusRequest) (*liaisonv1.GetMatchStatusResponse, error) {
	audit.SetResource(ctx, "match_indexes")
	out := &liaisonv1.GetMatchStatusResponse{}
	for _, p := range s.o.Partners {
		st, err := s.status(ctx, p)
		if err != nil {
			return nil, err
		}
		out.Partners = append(out.Partners, st)
	}
	return out, nil
}

func (s *Server) status(ctx context.Context, partner string) (*liaisonv1.MatchPartnerStatus, error) {
	st := &liaisonv1.MatchPartnerStatus{Partner: partner, DailyBudget: s.o.DailyBudget}
	epochs, err := s.o.Store.MatchEpochs(ctx, partner)
	if err != nil {
		return nil, err
	}
	if len(epochs) > 0 {
		e := epochs[0]
		st.OwnEpoch, st.OwnEpochStart = uint32(e.Epoch), timestamppb.New(e.Start)
		if st.OwnEntries, st.OwnPending, err = s.o.Store.MatchCounts(ctx, partner, e.Epoch); err != nil {
			return nil, err
		}
		_, newest, err := s.o.Store.FeedBounds(ctx)
		if err != nil {
			return nil, err
		}
		st.OwnChangesBehind, st.OwnScanned = max(0, newest-e.FeedCursor), e.Scanned
	}
	if st.EvaluationsToday, err = s.o.Store.MatchBudgetUsed(ctx, partner, day(s.o.Now())); err != nil {
		return nil, err
	}
	idx, err := s.o.Store.RemoteIndexes(ctx, partner)
	if err != nil {
		return nil, err
	}
	if len(idx) > 0 {
		r := idx[0]
		st.PartnerEpoch, st.PartnerComplete, st.PartnerVersion = uint32(r.Epoch), r.Complete, r.Version
		st.PartnerUpdateTime = timestamppb.New(r.Updated)
		if st.PartnerEntries, err = s.o.Store.CountRemoteEntries(ctx, r.IndexID); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// ---- the asker's side --------------------------------------------------------

// subject is one person asked about.
type subject struct {
	res  *liaisonv1.MatchResult
	keys []Key
	// what the audit event says was asked about
	about string
}

// MatchPersons implements liaisonv1.MatchServiceServer.
func (s *Server) MatchPersons(ctx context.Context, req *liaisonv1.MatchPersonsRequest) (*liaisonv1.MatchPersonsResponse, error) {
	partner := req.GetPartner()
	audit.SetResource(ctx, "match_indexes/"+partner)
	if err := s.partner(partner); err != nil {
		return nil, err
	}
	// The partner's index is read while the keys are derived.
	type current struct {
		idx store.RemoteIndex
		err error
	}
	cur := make(chan current, 1)
	go func() {
		idx, err := s.currentIndex(ctx, partner)
		cur <- current{idx, err}
	}()
	var subs []subject
	for i, p := range req.GetPersons() {
		subs = append(subs, subject{res: &liaisonv1.MatchResult{PersonIndex: int32(i), SubjectIndex: -1, Label: label(p)},
			keys: Keys(p), about: fmt.Sprintf("typed person %d (%s)", i, identifiers(p))})
	}
	for _, id := range req.GetLeadIds() {
		l, err := s.o.Store.Lead(ctx, id)
		if err != nil {
			return nil, err
		}
		if l.GetStatus() == liaisonv1.LeadStatus_LEAD_STATUS_WITHDRAWN {
			return nil, errs.Precondition("lead.withdrawn", "leads/"+id, "lead %s was withdrawn; it has no subjects to ask about", id)
		}
		for j, p := range l.GetSubjects() {
			subs = append(subs, subject{res: &liaisonv1.MatchResult{PersonIndex: -1, LeadId: id, SubjectIndex: int32(j), Label: label(p)},
				keys: Keys(p), about: fmt.Sprintf("leads/%s subject %d", id, j)})
		}
	}
	var all []Key
	for _, sub := range subs {
		all = append(all, sub.keys...)
	}
	c := <-cur
	if c.err != nil {
		return nil, c.err
	}
	idx := c.idx
	resp := &liaisonv1.MatchPersonsResponse{Partner: partner, Epoch: uint32(idx.Epoch)}
	if len(all) > 0 {
		hits, tokens, remaining, calls, err := s.ask(ctx, partner, idx, all)
		if err != nil {
			return nil, err
		}
		resp.Evaluations = int32(len(all) + calls) // a canary a call
		resp.BudgetRemaining = remaining
		k := 0
		for _, sub := range subs {
			byKind := map[liaisonv1.MatchKeyKind]*liaisonv1.MatchKeyResult{}
			for _, key := range sub.keys {
				r := byKind[key.Kind]
				if r == nil {
					r = &liaisonv1.MatchKeyResult{Kind: key.Kind}
					byKind[key.Kind] = r
					sub.res.Keys = append(sub.res.Keys, r)
				}
				r.Keys++
				if hits[k] && !r.Hit {
					r.Hit, r.HitToken = true, tokens[k]
					sub.res.Hit = true
				}
				k++
			}
			slices.SortFunc(sub.res.Keys, func(a, b *liaisonv1.MatchKeyResult) int { return int(a.Kind) - int(b.Kind) })
		}
	}
	var lines []string
	for _, sub := range subs {
		resp.Results = append(resp.Results, sub.res)
		lines = append(lines, sub.about+": "+outcome(sub.res))
	}
	audit.SetDetail(ctx, fmt.Sprintf("asked %s (epoch %d, %d evaluations): %s", partner, idx.Epoch, resp.GetEvaluations(), strings.Join(lines, "; ")))
	return resp, nil
}

// currentIndex is the newest complete index partner published here.
func (s *Server) currentIndex(ctx context.Context, partner string) (store.RemoteIndex, error) {
	idx, err := s.o.Store.RemoteIndexes(ctx, partner)
	if err != nil {
		return store.RemoteIndex{}, err
	}
	for _, r := range idx {
		if r.Complete {
			return r, nil
		}
	}
	return store.RemoteIndex{}, errs.Precondition("match.no_index", "match_indexes/"+partner,
		"%s has not yet published a complete index to %s; a blind match needs it (%s's node publishes one once its config lists %s in match.partners; see GetMatchStatus)",
		partner, s.o.Own, partner, s.o.Own)
}

// maxPerBatch is the elements of one batch, maxBatches the batches of
// one EvaluateBlinded call (the API's bounds).
const (
	maxPerBatch = 1000
	maxBatches  = 16
)

// ask has partner evaluate the keys blind and looks the results up in its
// index: hit or not per key, and the hit token of each hit. The keys go in
// one batch a core, each blinded, evaluated and unblinded on its own, so
// that the cryptography of a query runs on every core of both nodes — in
// one call, so that the holder counts the budget once.
func (s *Server) ask(ctx context.Context, partner string, idx store.RemoteIndex, keys []Key) (hits []bool, tokens []string, remaining int64, calls int, err error) {
	conn := s.o.Conn(partner)
	if conn == nil {
		return nil, nil, 0, 0, errs.New(errs.Unavailable, "no connection to %s", partner)
	}
	peer := liaisonv1.NewMatchPeerServiceClient(conn)
	parts := max(1, min(runtime.GOMAXPROCS(0), (len(keys)+2)/3))
	size := min(maxPerBatch-1, (len(keys)+parts-1)/parts) // room for the canary
	var batches [][]Key
	for start := 0; start < len(keys); start += size {
		batches = append(batches, keys[start:min(start+size, len(keys))])
	}
	for start := 0; start < len(batches); start += maxBatches {
		call := batches[start:min(start+maxBatches, len(batches))]
		h, t, left, err := s.askCall(ctx, peer, partner, idx, call)
		if err != nil {
			return nil, nil, 0, 0, err
		}
		hits, tokens, remaining = append(hits, h...), append(tokens, t...), left
		calls++
	}
	return hits, tokens, remaining, calls, nil
}

// askCall is one EvaluateBlinded call of ask.
func (s *Server) askCall(ctx context.Context, peer liaisonv1.MatchPeerServiceClient, partner string, idx store.RemoteIndex,
	batches [][]Key) (hits []bool, tokens []string, remaining int64, err error) {
	// The canary goes at a random place of a random batch.
	cb := rand.IntN(len(batches))
	cp := rand.IntN(len(batches[cb]) + 1)
	batches[cb] = slices.Insert(slices.Clone(batches[cb]), cp, canary(partner, s.o.Own, idx.Epoch))
	blinded := make([]*blinding, len(batches))
	if err := parallel(len(batches), func(i int) (err error) {
		blinded[i], err = blind(idx.PublicKey, batches[i])
		return err
	}); err != nil {
		return nil, nil, 0, err
	}
	req := &liaisonv1.EvaluateBlindedRequest{Epoch: uint32(idx.Epoch)}
	for _, b := range blinded {
		req.Batches = append(req.Batches, &liaisonv1.BlindedBatch{Elements: b.Blinded})
	}
	resp, err := peer.EvaluateBlinded(ctx, req)
	if err != nil {
		return nil, nil, 0, partnerErr(partner, err)
	}
	if len(resp.GetBatches()) != len(batches) {
		return nil, nil, 0, errs.Precondition("match.bad_evaluation", "match_indexes/"+partner,
			"%s answered %d batches for %d", partner, len(resp.GetBatches()), len(batches))
	}
	outputs := make([][][]byte, len(batches))
	if err := parallel(len(batches), func(i int) (err error) {
		r := resp.GetBatches()[i]
		if outputs[i], err = blinded[i].finalize(r.GetElements()); err != nil {
			return errs.Precondition("match.bad_evaluation", "match_indexes/"+partner, "%s's answer: %v", partner, err)
		}
		return nil
	}); err != nil {
		return nil, nil, 0, err
	}
	// Every entry, the canary's among them, is looked up in one read.
	entries := make([][][]byte, len(outputs))
	var all [][]byte
	for i, os := range outputs {
		for _, o := range os {
			entries[i] = append(entries[i], Entry(o))
		}
		all = append(all, entries[i]...)
	}
	held, err := s.o.Store.RemoteEntriesHeld(ctx, idx.IndexID, all)
	if err != nil {
		return nil, nil, 0, err
	}
	if !held[string(entries[cb][cp])] {
		return nil, nil, 0, errs.Precondition("match.bad_evaluation", "match_indexes/"+partner,
			"%s did not answer under the key of the index it published to %s (the epoch's canary did not come back); its answer is refused", partner, s.o.Own)
	}
	for i, os := range outputs {
		for j, o := range os {
			if i == cb && j == cp {
				continue // the canary
			}
			hit := held[string(entries[i][j])]
			t := ""
			if hit {
				t = token(idx.Epoch, o)
			}
			hits, tokens = append(hits, hit), append(tokens, t)
		}
	}
	return hits, tokens, resp.GetBudgetRemaining(), nil
}

// partnerErr passes on what the partner refused with, saying it was the
// partner.
func partnerErr(partner string, err error) error {
	st := status.Convert(err)
	code := errs.Unavailable
	switch st.Code() {
	case codes.ResourceExhausted:
		code = errs.ResourceExhausted
	case codes.FailedPrecondition:
		code = errs.FailedPrecondition
	case codes.PermissionDenied:
		code = errs.PermissionDenied
	}
	return errs.New(code, "%s refused the evaluation: %s", partner, st.Message())
}

func label(p *liaisonv1.Person) string {
	for _, n := range p.GetNames() {
		if t := strings.TrimSpace(n.GetFamilyName() + " " + n.GetGivenNames()); t != "" {
			return t
		}
		if t := strings.TrimSpace(n.GetLatinFamilyName() + " " + n.GetLatinGivenNames()); t != "" {
			return t
		}
	}
	if len(p.GetAliases()) > 0 {
		return p.GetAliases()[0]
	}
	return "(no name)"
}

// identifiers names what a typed person was asked about, for the audit
// event of the asking node (which holds it anyway).
func identifiers(p *liaisonv1.Person) string {
	parts := []string{"name " + label(p)}
	if d := p.GetDateOfBirth(); d.GetYear() > 0 {
		parts = append(parts, fmt.Sprintf("born %04d-%02d-%02d", d.GetYear(), d.GetMonth(), d.GetDay()))
	}
	for _, d := range p.GetDocuments() {
		parts = append(parts, fmt.Sprintf("%s %s %s", strings.TrimPrefix(d.GetType().String(), "DOCUMENT_TYPE_"), d.GetNumber(), d.GetIssuingCountry()))
	}
	for _, ph := range p.GetPhoneNumbers() {
		parts = append(parts, "phone "+ph.GetNumber())
	}
	return strings.Join(parts, ", ")
}

func outcome(r *liaisonv1.MatchResult) string {
	if len(r.GetKeys()) == 0 {
		return "no keys"
	}
	var out []string
	for _, k := range r.GetKeys() {
		v := "no hit"
		if k.GetHit() {
			v = "hit"
		}
		out = append(out, strings.ToLower(strings.TrimPrefix(k.GetKind().String(), "MATCH_KEY_KIND_"))+" "+v)
	}
	return strings.Join(out, ", ")
}

// ---- the index a partner publishes here --------------------------------------

// Register wires the match envelopes into federation.
func (s *Server) Register(reg *federation.Registry) {
	federation.Handle(reg, liaisonv1.EnvelopeKind_ENVELOPE_KIND_MATCH_INDEX, federation.Spec[*liaisonv1.MatchIndexUpdate]{
		Claim: func(_ *liaisonv1.Envelope, u *liaisonv1.MatchIndexUpdate) federation.Claim {
			return federation.Claim{Key: federation.Key{Kind: federation.KindMatchIndex, ID: u.GetIndexId()}, Home: u.GetHolder()}
		},
		Apply: s.applyIndex,
	})
	s.registerFollowUps(reg)
}

// applyIndex applies an update of a partner's index: in order (each
// update's version is the last one's plus one), for this node only, an
// epoch never older than one the partner completed; a completed epoch
// replaces the older ones.
func (s *Server) applyIndex(tx *store.Tx, env *liaisonv1.Envelope, u *liaisonv1.MatchIndexUpdate) (federation.Outcome, error) {
	res := "match_indexes/" + u.GetIndexId()
	if u.GetPartner() != s.o.Own {
		return federation.Outcome{}, errs.Precondition("match.wrong_partner", res, "the index is for %q, this is %s", u.GetPartner(), s.o.Own)
	}
	cur, err := tx.RemoteIndex(u.GetIndexId())
	switch {
	case errs.CodeOf(err) == errs.NotFound:
		cur = store.RemoteIndex{IndexID: u.GetIndexId(), Holder: env.GetSender(), Epoch: int64(u.GetEpoch()), PublicKey: u.GetPublicKey()}
		others, err := tx.RemoteIndexes(env.GetSender())
		if err != nil {
			return federation.Outcome{}, err
		}
		for _, o := range others {
			if o.Epoch >= cur.Epoch {
				return federation.Outcome{}, errs.Precondition("match.stale_epoch", res,
					"%s already published epoch %d; a new index must have a later epoch than %d", env.GetSender(), o.Epoch, cur.Epoch)
			}
		}
	case err != nil:
		return federation.Outcome{}, err
	case cur.Epoch != int64(u.GetEpoch()) || !bytes.Equal(cur.PublicKey, u.GetPublicKey()):
		return federation.Outcome{}, errs.Precondition("match.index_changed", res,
			"index %s is of epoch %d with another key; an index's epoch and key never change", u.GetIndexId(), cur.Epoch)
	}
	if env.GetRecordVersion() != cur.Version+1 {
		return federation.Outcome{}, errs.Precondition("match.update_gap", res,
			"update %d of index %s follows update %d; updates apply in order", env.GetRecordVersion(), u.GetIndexId(), cur.Version)
	}
	if cur.Complete && u.GetComplete() {
		return federation.Outcome{}, errs.Precondition("match.completed", res, "index %s was already complete", u.GetIndexId())
	}
	if err := tx.ApplyRemoteEntries(cur.IndexID, split(u.GetAdded()), split(u.GetRemoved())); err != nil {
		return federation.Outcome{}, err
	}
	cur.Version = env.GetRecordVersion()
	cur.Complete = cur.Complete || u.GetComplete()
	if err := tx.PutRemoteIndex(cur); err != nil {
		return federation.Outcome{}, err
	}
	if u.GetComplete() {
		// The new epoch is whole: the older ones are dropped (their keys
		// are retired on the holder).
		others, err := tx.RemoteIndexes(env.GetSender())
		if err != nil {
			return federation.Outcome{}, err
		}
		for _, o := range others {
			if o.Epoch < cur.Epoch {
				if err := tx.DropRemoteIndex(o.IndexID); err != nil {
					return federation.Outcome{}, err
				}
			}
		}
	}
	return federation.Applied, nil
}

// split cuts concatenated entries.
func split(b []byte) [][]byte {
	out := make([][]byte, 0, len(b)/EntryBytes)
	for i := 0; i+EntryBytes <= len(b); i += EntryBytes {
		out = append(out, b[i:i+EntryBytes])
	}
	return out
}
