package main

// The match phase (-match-persons N, default 3,000; 0: none): blind
// hit/no-hit (issue 14, server/match) measured on a fresh alpha/bravo pair
// started in this process (loopback mTLS, real SQLite files, synchronous
// full, the production match settings but a daily budget raised to the
// maximum, so the budget is not what is measured).
//
//  1. Index build rate: match.Builder.Entries — the OPRF evaluations and
//     entry hashes the indexer computes for a person — over
//     -match-build-persons synthetic persons (benchdata, default 20,000)
//     on GOMAXPROCS workers, no node running; and the time for 1,000,000
//     persons extrapolated from it.
//  2. The real pipeline: bravo gets N leads, each with one benchdata
//     subject, through ImportLeads; the clock runs until alpha holds
//     bravo's complete index. Then RotateMatchKey on bravo rebuilds the
//     index from scratch (scan, OPRF, SQLite, MATCH_INDEX envelopes,
//     relay, apply on alpha), timed until alpha holds the new epoch in
//     full: the rebuild without the imports.
//  3. Step-1 round trip: MatchPersons on alpha for one of bravo's persons
//     with every kind of key (document, phone, names with date of birth),
//     one call at a time, up to matchQueries calls or matchQueryTime:
//     p50/p99 against the target (p99 < 10 ms) and the evaluations a
//     person costs. Each call is the whole path: alpha blinds, bravo
//     spends the budget (a group commit) and evaluates with its proof,
//     alpha unblinds, looks the outputs up and commits its audit event.
//  4. Delta latency: CreateLead of a new subject on bravo, then
//     WithdrawLead of it, each timed from the call's start until alpha has
//     applied the index update it causes (alpha's store polled every
//     millisecond: the same rows GetMatchStatus reads, without the audit
//     event, i.e. a group commit on alpha, a GetMatchStatus call would add
//     to the path it measures), matchDeltas times each.
//  5. Size on the wire: after the run, bravo's SQLite file is read: the
//     MATCH_INDEX envelopes (kind 10) in its outbox to alpha, their bytes
//     and the entries they carry (added + removed); and alpha's inbox rows
//     of them, where each envelope also keeps its Merkle proof.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/liaison-exchange/liaison/client"
	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/config"
	"github.com/liaison-exchange/liaison/server/internal/benchdata"
	"github.com/liaison-exchange/liaison/server/match"
	"github.com/liaison-exchange/liaison/server/node"
	"github.com/liaison-exchange/liaison/server/store"
)

// matchP99Target is the step-1 round trip the issue asks for.
const matchP99Target = 10 * time.Millisecond

// The bounds of the phase's loops.
const (
	matchQueries   = 500              // step-1 calls measured at most
	matchQueryTime = 10 * time.Second // and for at most this long
	matchWarmup    = 20               // unmeasured step-1 calls before
	matchDeltas    = 20               // creates and withdrawals timed
	// matchBuildTime bounds the build-rate measurement: the persons
	// evaluated by then are the figure (the output says so).
	matchBuildTime = 30 * time.Second
	matchSyncWait  = 5 * time.Minute // for alpha to hold bravo's index
	matchDeltaWait = 10 * time.Second
)

// matchOpts are the phase's sizes.
type matchOpts struct {
	persons int // bravo's leads, one subject each
	build   int // persons of the build-rate measurement
	queries int
	qTime   time.Duration
	deltas  int

	cpuProfile string // -cpuprofile's prefix: step 1 is profiled
}

func matchOptions(f flags) matchOpts {
	return matchOpts{persons: f.matchPersons, build: f.matchBuild, queries: matchQueries, qTime: matchQueryTime, deltas: matchDeltas, cpuProfile: f.cpuProfile}
}

// matchResult is what the match phase measured.
type matchResult struct {
	o matchOpts

	// The build rate.
	buildPersons int
	buildKeys    int64
	buildTime    time.Duration
	buildWorkers int
	buildCut     bool // stopped by matchBuildTime
	buildOther   float64

	// The pipeline on the pair.
	imported        time.Duration // N leads imported on bravo
	initialSync     time.Duration // first ImportLeads → alpha holds the complete index
	entries         int64         // bravo's published entries = alpha's
	rebuild         time.Duration // RotateMatchKey → alpha holds the new epoch complete
	rebuildCall     time.Duration // the RotateMatchKey call alone (scan, OPRF, writes, envelopes)
	rebuildEntries  int64
	rebuildOther    float64
	epochBefore     uint32
	epochAfter      uint32
	updatesSnapshot int64 // index updates alpha applied for the rebuilt epoch

	// Step 1.
	person      string
	personKeys  map[liaisonv1.MatchKeyKind]int
	evaluations float64 // mean per call (one person a call)
	lat         []time.Duration
	queryTime   time.Duration
	queryOther  float64
	queryCPU    time.Duration // the whole process's CPU over the calls
	// Group commits each node's writer made over the calls.
	alphaCommits, bravoCommits int64

	// Deltas.
	create, withdraw         []time.Duration // call start → alpha applied the update
	createCall, withdrawCall []time.Duration // the call alone

	// On the wire.
	wire wireSize

	other   float64 // other processes' CPU over the whole phase (cores)
	elapsed time.Duration
	loadAvg string
	err     error
}

// wireSize is what bravo's and alpha's files hold of the index updates.
type wireSize struct {
	// Bravo's outbox to alpha, kind MATCH_INDEX: the envelopes up to the
	// end of the rebuild (snapshots: the first index and the rebuilt one)
	// and those of the deltas after.
	bulkEnvelopes, bulkBytes, bulkEntries    int64
	deltaEnvelopes, deltaBytes, deltaEntries int64
	// Alpha's inbox rows of them: envelope and Merkle proof bytes.
	inboxEnvelopes, inboxBytes, inboxProofBytes int64
}

func (r *matchResult) progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "liaisonbench: %-12s "+format+"\n", append([]any{"Match"}, args...)...)
}

// matchPair is the two nodes and their clients.
type matchPair struct {
	alpha, bravo       *node.Node
	cfgA, cfgB         *config.Config
	conns              []*grpc.ClientConn
	alphaMatch         liaisonv1.MatchServiceClient
	bravoMatch         liaisonv1.MatchServiceClient // supervisor, for RotateMatchKey
	bravoLeads         liaisonv1.LeadServiceClient  // analyst
	bravoLeadsSup      liaisonv1.LeadServiceClient  // supervisor, for WithdrawLead
	bravoImport        []*grpc.ClientConn           // analyst connections, for ImportLeads
	stopAlpha, stopBra func() error
}

func (p *matchPair) close() {
	for _, c := range p.conns {
		c.Close()
	}
	if p.stopAlpha != nil {
		p.stopAlpha()
	}
	if p.stopBra != nil {
		p.stopBra()
	}
}

// startMatchPair starts alpha and bravo, each the other's partner, with
// their databases in dir.
func startMatchPair(ctx context.Context, f flags, pkiDir, dir string) (*matchPair, error) {
	lisA, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	lisB, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		lisA.Close()
		return nil, err
	}
	p := &matchPair{}
	cfg := func(own, partner string, lis, other net.Listener) (*config.Config, error) {
		c, err := nodeConfig(f, pkiDir, filepath.Join(dir, own+".db"), own, partner, lis.Addr().String(), other.Addr().String())
		if err != nil {
			return nil, err
		}
		// The budget (default 10,000 a day) would otherwise end the
		// repeated step-1 calls; the most the configuration allows.
		c.Match.DailyBudget = 10_000_000
		// The two agencies agree to publish blind indexes to each other.
		c.Match.Partners = []string{partner}
		return c, c.Validate()
	}
	if p.cfgA, err = cfg(ownAgency, partnerAgency, lisA, lisB); err == nil {
		p.cfgB, err = cfg(partnerAgency, ownAgency, lisB, lisA)
	}
	if err != nil {
		lisA.Close()
		lisB.Close()
		return nil, err
	}
	if p.bravo, err = node.Start(ctx, p.cfgB, node.NewLogger(p.cfgB.Log), lisB); err != nil {
		lisA.Close()
		return nil, fmt.Errorf("start %s: %w", partnerAgency, err)
	}
	p.stopBra = sync.OnceValue(p.bravo.Shutdown)
	if p.alpha, err = node.Start(ctx, p.cfgA, node.NewLogger(p.cfgA.Log), lisA); err != nil {
		p.close()
		return nil, fmt.Errorf("start %s: %w", ownAgency, err)
	}
	p.stopAlpha = sync.OnceValue(p.alpha.Shutdown)
	dial := func(n *node.Node, agency, role string) (*grpc.ClientConn, error) {
		path := func(file string) string { return filepath.Join(pkiDir, agency, file) }
		c, err := client.Dial(client.Options{Addr: n.Addr(), CA: path("ca.crt"), Cert: path(role + ".crt"), Key: path(role + ".key")})
		if err == nil {
			p.conns = append(p.conns, c)
		}
		return c, err
	}
	var aAn, bAn, bSu *grpc.ClientConn
	if aAn, err = dial(p.alpha, ownAgency, "analyst"); err == nil {
		if bAn, err = dial(p.bravo, partnerAgency, "analyst"); err == nil {
			bSu, err = dial(p.bravo, partnerAgency, "supervisor")
		}
	}
	for i := 0; err == nil && i < 3; i++ {
		var c *grpc.ClientConn
		if c, err = dial(p.bravo, partnerAgency, "analyst"); err == nil {
			p.bravoImport = append(p.bravoImport, c)
		}
	}
	if err != nil {
		p.close()
		return nil, err
	}
	p.alphaMatch = liaisonv1.NewMatchServiceClient(aAn)
	p.bravoMatch = liaisonv1.NewMatchServiceClient(bSu)
	p.bravoLeads = liaisonv1.NewLeadServiceClient(bAn)
	p.bravoLeadsSup = liaisonv1.NewLeadServiceClient(bSu)
	return p, nil
}

// held is what alpha holds of bravo's index: the newest index's epoch,
// completeness and last update version, read from alpha's store (what
// GetMatchStatus reports, without the call's audit event).
func (p *matchPair) held(ctx context.Context) (idx store.RemoteIndex, ok bool, err error) {
	rs, err := p.alpha.Store.RemoteIndexes(ctx, partnerAgency)
	if err != nil || len(rs) == 0 {
		return store.RemoteIndex{}, false, err
	}
	return rs[0], true, nil
}

// inSync waits until bravo has sent every entry of its current epoch and
// alpha holds that epoch complete with as many entries (as the e2e tests'
// waitInSync does, through the nodes' stores), and returns the entries.
func (p *matchPair) inSync(ctx context.Context, wait time.Duration, every time.Duration) (epoch uint32, entries int64, err error) {
	deadline := time.Now().Add(wait)
	last := ""
	for {
		epochs, err := p.bravo.Store.MatchEpochs(ctx, ownAgency)
		if err != nil {
			return 0, 0, err
		}
		if len(epochs) > 0 {
			e := epochs[0]
			own, pending, err := p.bravo.Store.MatchCounts(ctx, ownAgency, e.Epoch)
			if err != nil {
				return 0, 0, err
			}
			idx, ok, err := p.held(ctx)
			if err != nil {
				return 0, 0, err
			}
			var have int64
			if ok && int64(idx.Epoch) == e.Epoch {
				if have, err = p.alpha.Store.CountRemoteEntries(ctx, idx.IndexID); err != nil {
					return 0, 0, err
				}
			}
			// The indexer has followed every change so far (else a write
			// just committed may not be indexed yet, and both sides agree on
			// an index without it).
			_, newest, err := p.bravo.Store.FeedBounds(ctx)
			if err != nil {
				return 0, 0, err
			}
			if e.Scanned && e.FeedCursor >= newest && pending == 0 && ok && int64(idx.Epoch) == e.Epoch && idx.Complete && have == own {
				return uint32(e.Epoch), own, nil
			}
			last = fmt.Sprintf("bravo: epoch %d, scanned %t, feed %d of %d, %d entries, %d pending; alpha: epoch %d, complete %t, %d entries",
				e.Epoch, e.Scanned, e.FeedCursor, newest, own, pending, idx.Epoch, idx.Complete, have)
		}
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("alpha does not hold bravo's index after %v (%s)", wait, last)
		}
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		time.Sleep(every)
	}
}

// measureMatch runs the phase with its databases under tmp.
func measureMatch(ctx context.Context, f flags, o matchOpts, pkiDir, tmp string) (r matchResult) {
	r.o, r.loadAvg = o, loadAvg()
	start, cpu0, sys0 := time.Now(), processCPU(), systemBusy()
	defer func() {
		r.elapsed = time.Since(start)
		r.other = otherCores(cpu0, sys0, r.elapsed)
	}()
	dir := filepath.Join(tmp, "match")
	if r.err = os.MkdirAll(dir, 0o700); r.err != nil {
		return r
	}
	defer os.RemoveAll(dir)

	// 1. The build rate, before any node runs.
	if r.err = r.measureBuild(ctx); r.err != nil {
		return r
	}

	// The persons: bravo's leads' subjects, and the new subjects of the
	// deltas (each with a document: a new key, so each create and
	// withdrawal changes the published index).
	var subjects []*liaisonv1.Person
	if _, _, err := benchdata.Persons(o.persons, 2, func(_ int, p *liaisonv1.Person) error {
		subjects = append(subjects, p)
		return nil
	}); err != nil {
		r.err = err
		return r
	}
	var fresh []*liaisonv1.Person
	if _, _, err := benchdata.Persons(40*o.deltas+40, 3, func(_ int, p *liaisonv1.Person) error {
		if len(p.GetDocuments()) > 0 && len(fresh) < o.deltas {
			fresh = append(fresh, p)
		}
		return nil
	}); err != nil || len(fresh) < o.deltas {
		r.err = fmt.Errorf("delta subjects: %d of %d (%v)", len(fresh), o.deltas, err)
		return r
	}
	asked, err := askedPerson(subjects)
	if err != nil {
		r.err = err
		return r
	}

	r.progress("starting alpha and bravo")
	p, err := startMatchPair(ctx, f, pkiDir, dir)
	if err != nil {
		r.err = err
		return r
	}
	defer p.close()

	// 2. The pipeline: the imports with the indexer following them, then
	// a rebuild from scratch.
	r.progress("importing %d leads on bravo (one benchdata subject each), until alpha holds bravo's index", o.persons)
	t0 := time.Now()
	if r.err = importSubjects(ctx, p.bravoImport, subjects); r.err != nil {
		return r
	}
	r.imported = time.Since(t0)
	if r.epochBefore, r.entries, r.err = p.inSync(ctx, matchSyncWait, 5*time.Millisecond); r.err != nil {
		return r
	}
	r.initialSync = time.Since(t0)
	r.progress("alpha holds bravo's index: %d entries after %v", r.entries, r.initialSync.Round(time.Millisecond))

	r.progress("rebuilding bravo's index for alpha (RotateMatchKey)")
	c0, s0 := processCPU(), systemBusy()
	t0 = time.Now()
	if _, r.err = p.bravoMatch.RotateMatchKey(ctx, &liaisonv1.RotateMatchKeyRequest{Partner: ownAgency}); r.err != nil {
		r.err = fmt.Errorf("RotateMatchKey: %w", r.err)
		return r
	}
	r.rebuildCall = time.Since(t0)
	if r.epochAfter, r.rebuildEntries, r.err = p.inSync(ctx, matchSyncWait, 2*time.Millisecond); r.err != nil {
		return r
	}
	r.rebuild = time.Since(t0)
	r.rebuildOther = otherCores(c0, s0, r.rebuild)
	if r.epochAfter <= r.epochBefore {
		r.err = fmt.Errorf("RotateMatchKey: alpha holds epoch %d, was %d", r.epochAfter, r.epochBefore)
		return r
	}
	if idx, ok, err := p.held(ctx); err == nil && ok {
		r.updatesSnapshot = idx.Version
	}
	r.progress("rebuilt: %d entries in %v", r.rebuildEntries, r.rebuild.Round(time.Millisecond))
	// The outbox up to here is the two snapshots; what follows, deltas.
	bulkSeq, err := maxOutboxSeq(ctx, p.cfgB.Database.Path, ownAgency)
	if err != nil {
		r.err = err
		return r
	}

	// 3. Step 1.
	if r.err = r.measureStep1(ctx, p, asked); r.err != nil {
		return r
	}

	// 4. Deltas.
	if r.err = r.measureDeltas(ctx, p, fresh); r.err != nil {
		return r
	}

	// 5. The files, once both nodes have stopped.
	if err := errors.Join(p.stopAlpha(), p.stopBra()); err != nil {
		r.err = fmt.Errorf("stop the pair: %w", err)
		return r
	}
	r.wire, r.err = readWire(ctx, p.cfgB.Database.Path, p.cfgA.Database.Path, bulkSeq)
	return r
}

// otherCores is the CPU cores other processes used since cpu0, sys0 (-1 if
// unknown).
func otherCores(cpu0, sys0, elapsed time.Duration) float64 {
	cpu1, sys1 := processCPU(), systemBusy()
	if cpu0 < 0 || cpu1 < 0 || sys0 < 0 || sys1 < 0 || elapsed <= 0 {
		return -1
	}
	return max(0, (sys1-sys0-(cpu1-cpu0)).Seconds()/elapsed.Seconds())
}

// measureBuild evaluates the index entries of o.build persons on
// GOMAXPROCS workers, as the indexer does, and counts keys.
func (r *matchResult) measureBuild(ctx context.Context) error {
	r.progress("generating %d persons for the build rate (untimed)", r.o.build)
	persons := make([]*liaisonv1.Person, 0, r.o.build)
	if _, _, err := benchdata.Persons(r.o.build, 4, func(_ int, p *liaisonv1.Person) error {
		persons = append(persons, p)
		return nil
	}); err != nil {
		return err
	}
	b, err := match.NewBuilder([]byte("liaisonbench build-rate secret"), partnerAgency, ownAgency, 1)
	if err != nil {
		return err
	}
	r.buildWorkers = runtime.GOMAXPROCS(0)
	r.progress("evaluating their index entries on %d workers", r.buildWorkers)
	runtime.GC()
	var next, done, keys atomic.Int64
	var firstErr error
	var errOnce sync.Once
	deadline := time.Now().Add(matchBuildTime)
	c0, s0 := processCPU(), systemBusy()
	t0 := time.Now()
	var wg sync.WaitGroup
	for range r.buildWorkers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(persons) || ctx.Err() != nil {
					return
				}
				// The clock is read every 256 persons.
				if i%256 == 0 && time.Now().After(deadline) {
					return
				}
				es, err := b.Entries(persons[i])
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				keys.Add(int64(len(es)))
				done.Add(1)
			}
		})
	}
	wg.Wait()
	r.buildTime = time.Since(t0)
	r.buildOther = otherCores(c0, s0, r.buildTime)
	if firstErr != nil {
		return fmt.Errorf("match.Builder.Entries: %w", firstErr)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r.buildPersons, r.buildKeys = int(done.Load()), keys.Load()
	r.buildCut = r.buildPersons < len(persons)
	r.progress("%d persons, %d keys in %v", r.buildPersons, r.buildKeys, r.buildTime.Round(time.Millisecond))
	return nil
}

// askedPerson is the person step 1 asks about: the first of bravo's
// subjects with a document, a phone number and a full date of birth, so
// that every kind of key is asked (a copy, as typed in, without its id).
func askedPerson(subjects []*liaisonv1.Person) (*liaisonv1.Person, error) {
	for _, s := range subjects {
		dob := s.GetDateOfBirth()
		if len(s.GetDocuments()) == 0 || len(s.GetPhoneNumbers()) == 0 || dob.GetMonth() == 0 || dob.GetDay() == 0 {
			continue
		}
		kinds := map[liaisonv1.MatchKeyKind]bool{}
		for _, k := range match.Keys(s) {
			kinds[k.Kind] = true
		}
		if len(kinds) == 4 {
			c := proto.Clone(s).(*liaisonv1.Person)
			c.Id = ""
			return c, nil
		}
	}
	return nil, fmt.Errorf("none of %d persons has a key of every kind (more -match-persons)", len(subjects))
}

// importSubjects creates a lead per subject on bravo through ImportLeads,
// 1,000 a call, 3 calls at a time.
func importSubjects(ctx context.Context, conns []*grpc.ClientConn, subjects []*liaisonv1.Person) error {
	const per = 1000
	calls := (len(subjects) + per - 1) / per
	return Do(ctx, calls, len(conns), func(ctx context.Context, c int) error {
		req := &liaisonv1.ImportLeadsRequest{}
		for i := c * per; i < min(len(subjects), (c+1)*per); i++ {
			req.Items = append(req.Items, &liaisonv1.ImportItem{Line: int64(i + 1), RequestId: uuid.Must(uuid.NewV7()).String(),
				Lead: matchLead(fmt.Sprintf("match %d", i), subjects[i])})
		}
		resp, err := liaisonv1.NewLeadServiceClient(conns[c%len(conns)]).ImportLeads(ctx, req)
		if err != nil {
			return err
		}
		for _, res := range resp.GetResults() {
			if res.GetOutcome() != liaisonv1.ImportOutcome_IMPORT_OUTCOME_CREATED {
				return fmt.Errorf("import line %d: %v %s", res.GetLine(), res.GetOutcome(), res.GetMessage())
			}
		}
		return nil
	})
}

// matchLead is benchLead with subject as its one subject.
func matchLead(title string, subject *liaisonv1.Person) *liaisonv1.Lead {
	l := benchLead(title)
	s := proto.Clone(subject).(*liaisonv1.Person)
	s.Nationalities, s.Role = l.GetSubjects()[0].GetNationalities(), l.GetSubjects()[0].GetRole()
	l.Subjects = []*liaisonv1.Person{s}
	return l
}

// measureStep1 asks alpha about one person of bravo's, one call at a time.
func (r *matchResult) measureStep1(ctx context.Context, p *matchPair, person *liaisonv1.Person) error {
	r.person = person.GetNames()[0].GetFamilyName() + " " + person.GetNames()[0].GetGivenNames()
	r.personKeys = map[liaisonv1.MatchKeyKind]int{}
	for _, k := range match.Keys(person) {
		r.personKeys[k.Kind]++
	}
	req := &liaisonv1.MatchPersonsRequest{Partner: partnerAgency, Persons: []*liaisonv1.Person{person}}
	call := func() (*liaisonv1.MatchPersonsResponse, error) {
		resp, err := p.alphaMatch.MatchPersons(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("MatchPersons: %w", err)
		}
		res := resp.GetResults()
		if len(res) != 1 {
			return nil, fmt.Errorf("MatchPersons: %d results for one person", len(res))
		}
		for _, k := range res[0].GetKeys() {
			// bravo holds this person: every kind of key must hit, the
			// name keys included (each kind has at least one form in
			// common with the index, the same person's).
			if !k.GetHit() {
				return nil, fmt.Errorf("MatchPersons: no hit on %v of a person bravo holds", k.GetKind())
			}
		}
		if len(res[0].GetKeys()) != len(r.personKeys) {
			return nil, fmt.Errorf("MatchPersons: %d key kinds answered, the person has %d", len(res[0].GetKeys()), len(r.personKeys))
		}
		return resp, nil
	}
	r.progress("step 1: %d warm-up calls, then up to %d calls or %v about %s (%d keys)", matchWarmup, r.o.queries, r.o.qTime, r.person, len(match.Keys(person)))
	for range matchWarmup {
		if _, err := call(); err != nil {
			return err
		}
	}
	runtime.GC()
	defer startProfile(r.o.cpuProfile, "match-step1")()
	var evals int64
	a0, b0 := p.alpha.Store.Stats(), p.bravo.Store.Stats()
	c0, s0 := processCPU(), systemBusy()
	t0 := time.Now()
	for len(r.lat) < r.o.queries && time.Since(t0) < r.o.qTime {
		if err := ctx.Err(); err != nil {
			return err
		}
		s := time.Now()
		resp, err := call()
		if err != nil {
			return err
		}
		r.lat = append(r.lat, time.Since(s))
		evals += int64(resp.GetEvaluations())
	}
	r.queryTime = time.Since(t0)
	r.queryOther = otherCores(c0, s0, r.queryTime)
	if c1 := processCPU(); c0 >= 0 && c1 >= 0 {
		r.queryCPU = c1 - c0
	}
	r.alphaCommits, r.bravoCommits = p.alpha.Store.Stats().Batches-a0.Batches, p.bravo.Store.Stats().Batches-b0.Batches
	r.evaluations = float64(evals) / float64(len(r.lat))
	slices.Sort(r.lat)
	r.progress("step 1: %d calls, p50 %v, p99 %v", len(r.lat), percentile(r.lat, 0.50), percentile(r.lat, 0.99))
	return nil
}

// measureDeltas creates and withdraws a lead per fresh subject on bravo,
// each timed until alpha applied the index update it causes.
func (r *matchResult) measureDeltas(ctx context.Context, p *matchPair, fresh []*liaisonv1.Person) error {
	r.progress("deltas: %d creates and %d withdrawals on bravo, each until alpha holds the change", len(fresh), len(fresh))
	// applied waits until alpha holds an update of bravo's index newer
	// than version, polling its store every millisecond.
	applied := func(version int64) error {
		deadline := time.Now().Add(matchDeltaWait)
		for {
			idx, ok, err := p.held(ctx)
			if err != nil {
				return err
			}
			if ok && idx.Version > version {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("alpha applied no update after version %d within %v", version, matchDeltaWait)
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			time.Sleep(time.Millisecond)
		}
	}
	timed := func(do func() error) (total, call time.Duration, err error) {
		// Nothing in flight: alpha holds all bravo sent.
		if _, _, err := p.inSync(ctx, matchDeltaWait, time.Millisecond); err != nil {
			return 0, 0, err
		}
		idx, _, err := p.held(ctx)
		if err != nil {
			return 0, 0, err
		}
		s := time.Now()
		if err := do(); err != nil {
			return 0, 0, err
		}
		call = time.Since(s)
		if err := applied(idx.Version); err != nil {
			return 0, 0, err
		}
		return time.Since(s), call, nil
	}
	for i, subj := range fresh {
		var id string
		total, call, err := timed(func() error {
			resp, err := p.bravoLeads.CreateLead(ctx, &liaisonv1.CreateLeadRequest{
				Lead: matchLead(fmt.Sprintf("match delta %d", i), subj), RequestId: uuid.Must(uuid.NewV7()).String(),
			})
			id = resp.GetLead().GetId()
			return err
		})
		if err != nil {
			return fmt.Errorf("delta %d, CreateLead: %w", i, err)
		}
		r.create, r.createCall = append(r.create, total), append(r.createCall, call)
		total, call, err = timed(func() error {
			_, err := p.bravoLeadsSup.WithdrawLead(ctx, &liaisonv1.WithdrawLeadRequest{Id: id, Reason: "liaisonbench delta"})
			return err
		})
		if err != nil {
			return fmt.Errorf("delta %d, WithdrawLead: %w", i, err)
		}
		r.withdraw, r.withdrawCall = append(r.withdraw, total), append(r.withdrawCall, call)
	}
	for _, s := range [][]time.Duration{r.create, r.createCall, r.withdraw, r.withdrawCall} {
		slices.Sort(s)
	}
	return nil
}

// openRO opens a node's database file read-only for a query of its own.
func openRO(path string) (*sql.DB, error) {
	return sql.Open("sqlite3", store.FileURI(path, url.Values{"mode": {"ro"}, "_busy_timeout": {"5000"}}))
}

// maxOutboxSeq is the newest envelope of the outbox of the database at
// path to partner.
func maxOutboxSeq(ctx context.Context, path, partner string) (int64, error) {
	d, err := openRO(path)
	if err != nil {
		return 0, err
	}
	defer d.Close()
	var seq int64
	err = d.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM outbox WHERE partner = ?`, partner).Scan(&seq)
	return seq, err
}

// readWire reads the MATCH_INDEX envelopes of bravo's outbox to alpha
// (split at bulkSeq) and alpha's inbox rows of them.
func readWire(ctx context.Context, bravoDB, alphaDB string, bulkSeq int64) (w wireSize, err error) {
	kind := int64(liaisonv1.EnvelopeKind_ENVELOPE_KIND_MATCH_INDEX)
	d, err := openRO(bravoDB)
	if err != nil {
		return w, err
	}
	defer d.Close()
	rows, err := d.QueryContext(ctx, `SELECT seq, envelope FROM outbox WHERE partner = ? AND kind = ? ORDER BY seq`, ownAgency, kind)
	if err != nil {
		return w, fmt.Errorf("bravo's outbox: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		var b []byte
		if err := rows.Scan(&seq, &b); err != nil {
			return w, err
		}
		var env liaisonv1.Envelope
		var u liaisonv1.MatchIndexUpdate
		if err := proto.Unmarshal(b, &env); err != nil {
			return w, fmt.Errorf("bravo's outbox, envelope %d: %w", seq, err)
		}
		if err := proto.Unmarshal(env.GetPayload(), &u); err != nil {
			return w, fmt.Errorf("bravo's outbox, envelope %d: %w", seq, err)
		}
		entries := int64(len(u.GetAdded())+len(u.GetRemoved())) / match.EntryBytes
		if seq <= bulkSeq {
			w.bulkEnvelopes, w.bulkBytes, w.bulkEntries = w.bulkEnvelopes+1, w.bulkBytes+int64(len(b)), w.bulkEntries+entries
		} else {
			w.deltaEnvelopes, w.deltaBytes, w.deltaEntries = w.deltaEnvelopes+1, w.deltaBytes+int64(len(b)), w.deltaEntries+entries
		}
	}
	if err := rows.Err(); err != nil {
		return w, err
	}
	a, err := openRO(alphaDB)
	if err != nil {
		return w, err
	}
	defer a.Close()
	err = a.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(length(envelope)), 0), coalesce(sum(length(proof)), 0) FROM inbox WHERE sender = ? AND kind = ?`,
		partnerAgency, kind).Scan(&w.inboxEnvelopes, &w.inboxBytes, &w.inboxProofBytes)
	if err != nil {
		return w, fmt.Errorf("alpha's inbox: %w", err)
	}
	if w.inboxEnvelopes != w.bulkEnvelopes+w.deltaEnvelopes {
		return w, fmt.Errorf("alpha's inbox holds %d index updates, bravo's outbox %d", w.inboxEnvelopes, w.bulkEnvelopes+w.deltaEnvelopes)
	}
	return w, nil
}

// reportMatch prints the phase's table; false if it failed.
func reportMatch(w io.Writer, r matchResult) bool {
	fmt.Fprintln(w)
	fmt.Fprintf(w, "## Blind hit/no-hit (issue 14): bravo holds %d leads of one synthetic subject each; alpha asks (two nodes in this process, synchronous full)\n\n", r.o.persons)
	if r.err != nil {
		fmt.Fprintf(w, "**Failed: %v**\n", r.err)
		return false
	}
	other := func(c float64) string {
		if c < 0 {
			return "unknown"
		}
		return fmt.Sprintf("%.2f", c)
	}
	msf := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", ms(d)) }
	fmt.Fprintf(w, "- Load average before the phase: %s; other processes' CPU over the phase (%v): %s cores\n\n", r.loadAvg, r.elapsed.Round(time.Second), other(r.other))
	fmt.Fprintln(w, "| measure | value |")
	fmt.Fprintln(w, "|---|---:|")
	p99 := percentile(r.lat, 0.99)
	fmt.Fprintf(w, "| step 1: MatchPersons, one person (%s: %s), %d calls one at a time in %v | p50 %s, p99 **%s** |\n",
		r.person, keyKinds(r.personKeys), len(r.lat), r.queryTime.Round(time.Millisecond), msf(percentile(r.lat, 0.50)), msf(p99))
	fmt.Fprintf(w, "| step 1: evaluations per person (mean per call; each a blinded element bravo evaluates) | %.1f |\n", r.evaluations)
	if n := float64(len(r.lat)); n > 0 {
		fmt.Fprintf(w, "| step 1, per call: CPU of the whole process (both nodes and the client); group commits on alpha / on bravo | %.2f ms; %.2f / %.2f |\n",
			ms(r.queryCPU)/n, float64(r.alphaCommits)/n, float64(r.bravoCommits)/n)
	}
	cut := ""
	if r.buildCut {
		cut = fmt.Sprintf(", cut at %v of %d", matchBuildTime, r.o.build)
	}
	bRate, kRate := float64(r.buildPersons)/r.buildTime.Seconds(), float64(r.buildKeys)/r.buildTime.Seconds()
	fmt.Fprintf(w, "| index build: match.Builder.Entries over %d benchdata persons (%d keys, %.2f a person%s), %d workers (GOMAXPROCS) | %v = **%.0f persons/s, %.0f keys/s** |\n",
		r.buildPersons, r.buildKeys, float64(r.buildKeys)/float64(max(1, r.buildPersons)), cut, r.buildWorkers, r.buildTime.Round(time.Millisecond), bRate, kRate)
	fmt.Fprintf(w, "| index build, **extrapolated** to 1,000,000 persons at that rate (OPRF and hashing only, no SQLite) | %v |\n",
		time.Duration(1e6/bRate*float64(time.Second)).Round(time.Second))
	fmt.Fprintf(w, "| pipeline: %d leads imported on bravo → alpha holds bravo's complete index (%d entries) | %v = %.0f leads/s (import alone %v) |\n",
		r.o.persons, r.entries, r.initialSync.Round(time.Millisecond), float64(r.o.persons)/r.initialSync.Seconds(), r.imported.Round(time.Millisecond))
	leadRate := float64(r.o.persons) / r.rebuild.Seconds()
	fmt.Fprintf(w, "| pipeline: rebuild, RotateMatchKey on bravo → alpha holds epoch %d complete (%d entries, %d updates) | %v = **%.0f leads/s, %.0f entries/s** (the call alone %v) |\n",
		r.epochAfter, r.rebuildEntries, r.updatesSnapshot, r.rebuild.Round(time.Millisecond), leadRate, float64(r.rebuildEntries)/r.rebuild.Seconds(), r.rebuildCall.Round(time.Millisecond))
	fmt.Fprintf(w, "| pipeline rebuild, **extrapolated** to 1,000,000 leads of one subject at that rate | %v |\n",
		time.Duration(1e6/leadRate*float64(time.Second)).Round(time.Second))
	ws := r.wire
	per := func(b, n int64) string {
		if n == 0 {
			return "–"
		}
		return fmt.Sprintf("%.1f", float64(b)/float64(n))
	}
	fmt.Fprintf(w, "| on the wire: MATCH_INDEX envelopes in bravo's outbox, both snapshots (%d envelopes, %d bytes, %d entries) | **%s bytes/entry** (entry itself %d) |\n",
		ws.bulkEnvelopes, ws.bulkBytes, ws.bulkEntries, per(ws.bulkBytes, ws.bulkEntries), match.EntryBytes)
	fmt.Fprintf(w, "| on the wire: the deltas' envelopes (%d envelopes, %d bytes, %d entries) | %s bytes/entry, %s bytes/envelope |\n",
		ws.deltaEnvelopes, ws.deltaBytes, ws.deltaEntries, per(ws.deltaBytes, ws.deltaEntries), per(ws.deltaBytes, ws.deltaEnvelopes))
	all := ws.bulkEntries + ws.deltaEntries
	fmt.Fprintf(w, "| kept by alpha: its inbox rows of them (%d), envelope + Merkle proof | %s + %s bytes/entry |\n",
		ws.inboxEnvelopes, per(ws.inboxBytes, all), per(ws.inboxProofBytes, all))
	fmt.Fprintf(w, "| delta: CreateLead of a new subject on bravo → alpha holds its entries (%d; from the call's start) | p50 %s, p99 %s (the call alone p50 %s) |\n",
		len(r.create), msf(percentile(r.create, 0.50)), msf(percentile(r.create, 0.99)), msf(percentile(r.createCall, 0.50)))
	fmt.Fprintf(w, "| delta: WithdrawLead on bravo → alpha no longer holds its entries (%d; from the call's start) | p50 %s, p99 %s (the call alone p50 %s) |\n",
		len(r.withdraw), msf(percentile(r.withdraw, 0.50)), msf(percentile(r.withdraw, 0.99)), msf(percentile(r.withdrawCall, 0.50)))
	fmt.Fprintln(w)
	fmt.Fprintf(w, "The build rate runs on %d workers, as the node's indexer evaluates a page of records; the pipeline adds SQLite writes, the envelopes and alpha's apply. A step-1 query goes to bravo in one call of one batch a core, with the epoch's canary among its keys.\n",
		r.buildWorkers)
	fmt.Fprintf(w, "Other processes' CPU: %s cores during the build rate, %s during the rebuild, %s during step 1.\n",
		other(r.buildOther), other(r.rebuildOther), other(r.queryOther))
	if r.buildOther > 0.2 || r.rebuildOther > 0.2 || r.queryOther > 0.2 {
		fmt.Fprintln(w, "**Warning: other processes used more than 0.2 CPU cores during this phase; its numbers are disturbed.**")
	}
	verdict := "met"
	if p99 >= matchP99Target {
		verdict = "MISSED"
	}
	fmt.Fprintf(w, "\nTarget: step-1 round trip p99 < %v: %s — %s\n", matchP99Target, msf(p99), verdict)
	return true
}

// keyKinds is "document 1, phone 2, …" of a person's keys.
func keyKinds(n map[liaisonv1.MatchKeyKind]int) string {
	names := map[liaisonv1.MatchKeyKind]string{
		liaisonv1.MatchKeyKind_MATCH_KEY_KIND_DOCUMENT:           "document",
		liaisonv1.MatchKeyKind_MATCH_KEY_KIND_PHONE:              "phone",
		liaisonv1.MatchKeyKind_MATCH_KEY_KIND_NAME_DATE_OF_BIRTH: "name+date of birth",
		liaisonv1.MatchKeyKind_MATCH_KEY_KIND_NAME_BIRTH_YEAR:    "name+birth year",
	}
	var out []string
	for k := liaisonv1.MatchKeyKind(1); k <= 4; k++ {
		if n[k] > 0 {
			out = append(out, fmt.Sprintf("%s %d", names[k], n[k]))
		}
	}
	return strings.Join(out, ", ")
}
