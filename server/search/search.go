// Package search implements SearchService: persons across every record the
// node holds — own leads and cases and partners' replicas — by name, phone
// number, document number and date of birth.
//
// A search runs in two steps. The store returns candidates from the most
// selective criterion given (an exact phone or document number, else the
// full-text index of names, else date of birth), capped. Then every
// candidate is checked here against every criterion, scored 0–100 and
// explained: an exact identifier scores 100, otherwise the name score
// decides; a candidate that misses a criterion, or scores below the
// threshold, is left out. Hits are sorted by score, then exact names
// first, then the most recently written record.
package search

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/handling"
	"github.com/liaison-exchange/liaison/server/identity"
	"github.com/liaison-exchange/liaison/server/paging"
	"github.com/liaison-exchange/liaison/server/persons"
	"github.com/liaison-exchange/liaison/server/store"
)

const (
	// Threshold is the lowest score a hit is returned with. A name query
	// reaches it when at least half of the words of query and name
	// together are shared ("Chen" for "Chen Wei"); a name that shares no
	// word with a person's names reaches it only if its letters run
	// together spell one of them ("ChenWei").
	Threshold = 50
	// candidateCap bounds the candidates read from the index per search
	// (the most recently written first).
	candidateCap = 500
	// Page sizes of SearchPersons.
	defaultPageSize = 20
	maxPageSize     = 200
)

// Server implements liaisonv1.SearchServiceServer.
type Server struct {
	liaisonv1.UnimplementedSearchServiceServer
	store  *store.Store
	agency string
	policy *handling.Policy
	// running holds a slot for each search that reads its candidates from
	// the name or birth-date index (admit); waiting counts those waiting
	// for one.
	running chan struct{}
	waiting atomic.Int64
}

var _ liaisonv1.SearchServiceServer = (*Server)(nil)

// New returns the search service of the node of agency.
// Hits on persons of partners' leads pass through the handling policy.
func New(s *store.Store, agency string, policy *handling.Policy) *Server {
	return &Server{store: s, agency: agency, policy: policy, running: make(chan struct{}, runtime.GOMAXPROCS(0))}
}

// admit waits, first come first served, until fewer searches that score
// candidates from the name or birth-date index run than the process has
// cores, and returns the function that frees the slot. Such a search is
// milliseconds of CPU (a common name 20 ms and more) where every other
// call of the node is a fraction of one: left to run as many at once as
// callers send, name searches take the cores from every read and write
// (in the bench's mixed workload the other calls' p99 was seconds without
// the turns, a tenth of that with them; docs/performance.md). A search by
// phone or document number is a point lookup and never waits; a caller
// whose deadline passes while it waits gets DEADLINE_EXCEEDED.
func (s *Server) admit(ctx context.Context, q query) (func(), error) {
	if q.phone != "" || q.document != "" {
		return func() {}, nil
	}
	release := func() { <-s.running }
	select {
	case s.running <- struct{}{}:
		return release, nil
	default:
	}
	s.waiting.Add(1)
	defer s.waiting.Add(-1)
	select {
	case s.running <- struct{}{}:
		return release, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Searches reports the searches from the name or birth-date index running
// and those waiting for their turn (admit): the node's metrics.
func (s *Server) Searches() (running, waiting int) {
	return len(s.running), int(s.waiting.Load())
}

// SearchPersons implements liaisonv1.SearchServiceServer. Running a search
// is an audited access: the event names the resource "persons" and records
// the terms searched for.
func (s *Server) SearchPersons(ctx context.Context, req *liaisonv1.SearchPersonsRequest) (*liaisonv1.SearchPersonsResponse, error) {
	q, err := parse(req)
	audit.SetResource(ctx, "persons")
	audit.SetDetail(ctx, q.terms())
	if err != nil {
		return nil, err
	}
	fp := paging.Fingerprint(req.GetName(), req.GetPhone(), req.GetPhoneRegion(), req.GetDocument(), req.GetDateOfBirth().String(),
		req.GetBirthYearFrom(), req.GetBirthYearTo())
	after, err := paging.Decode(req.GetPageToken(), fp)
	if err != nil {
		return nil, err
	}
	at, err := decodeCursor(after)
	if err != nil {
		return nil, err
	}
	release, err := s.admit(ctx, q)
	if err != nil {
		return nil, err
	}
	defer release()
	// The page is cut from the hits of the window of its cursor, up to the
	// end of the page and one more to tell whether another page follows
	// in it. A page ends with its window: it may hold fewer hits than
	// asked for (even none), with a token for the next window, of older
	// persons. Going on to it in the same call would make a query that
	// finds no one (the commonest answer) search every window.
	page := q.size
	q.size, q.before, q.done, q.top = at.offset+page+1, at.before, at.done, at.top
	w, err := s.window(ctx, q)
	if err != nil {
		return nil, err
	}
	if len(w.hits) <= at.offset+page && w.skipped {
		// The window's last page, but a step was skipped: search it
		// whole, or the skipped step's hits would never be shown.
		q.whole = true
		if w, err = s.window(ctx, q); err != nil {
			return nil, err
		}
	}
	hits := w.hits[min(at.offset, len(w.hits)):min(at.offset+page, len(w.hits))]
	next := ""
	switch {
	case len(w.hits) > at.offset+page:
		at.offset += page
		next = paging.Encode(at.encode(), fp)
	case w.end > 0:
		next = paging.Encode(cursor{before: w.end, done: w.done, top: w.top}.encode(), fp)
	}
	// A hit shows a person of a lead, case or manifest: that record was seen.
	seen := make([]string, len(hits))
	for i, h := range hits {
		seen[i] = h.GetRecordId()
	}
	audit.SetRecords(ctx, seen)
	return &liaisonv1.SearchPersonsResponse{Hits: hits, Threshold: Threshold, Capped: w.capped, NextPageToken: next}, nil
}

// window runs the search of one window (run) and applies the handling
// policy to its hits.
func (s *Server) window(ctx context.Context, q query) (window, error) {
	w, err := run(ctx, s.store, q)
	if err == nil {
		w.hits, err = s.restrict(ctx, w.hits)
	}
	return w, err
}

// cursor is where a page of SearchPersons starts: offset hits into the
// window of the persons indexed before row before (0: the newest), after
// windows where the steps done were done (window.done) and the best
// score was top (window.top).
type cursor struct {
	before int64
	offset int
	done   uint8
	top    int32
}

// encode is the cursor as a page token's position; a token of the first
// window is its offset alone.
func (c cursor) encode() string {
	if c.before == 0 {
		return strconv.Itoa(c.offset)
	}
	return fmt.Sprintf("%d.%d.%d.%d", c.offset, c.before, c.done, c.top)
}

// decodeCursor reads a page token's position ("" for the first page).
func decodeCursor(s string) (cursor, error) {
	bad := errs.Invalid("page_token", "is not a token this service issued")
	if s == "" {
		return cursor{}, nil
	}
	parts := strings.Split(s, ".")
	var n [4]int64
	if len(parts) != 1 && len(parts) != len(n) {
		return cursor{}, bad
	}
	for i, p := range parts {
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil || v < 0 {
			return cursor{}, bad
		}
		n[i] = v
	}
	if len(parts) == 1 && n[0] < 1 || len(parts) > 1 && (n[1] < 1 || n[2] > int64(allSteps) || n[3] > 100) {
		return cursor{}, bad
	}
	return cursor{offset: int(min(n[0], 1<<30)), before: n[1], done: uint8(n[2]), top: int32(n[3])}, nil
}

// query is a search request, normalised.
type query struct {
	name  string
	words []string // persons.NameWords(name)
	// forms are the name's forms for its keys (queryForms).
	forms []persons.NameForm
	// phone is E.164 and document normalised; the input as given is kept
	// for the audit record of a search refused because it could not be.
	phone, phoneAsGiven       string
	document, documentAsGiven string
	birth                     *liaisonv1.Date
	yearFrom, yearTo          int32
	size                      int
	// before bounds the window searched (store.PersonQuery.Before); done
	// are the steps done in the windows before it (window.done), and top
	// their best score (window.top). whole runs every step, even those a
	// page full of full scores would skip.
	before int64
	done   uint8
	top    int32
	whole  bool
}

// parse normalises a request the validation interceptor has passed: phone
// to E.164, document number and name to their search forms. What cannot
// be normalised is INVALID_ARGUMENT on its field.
func parse(req *liaisonv1.SearchPersonsRequest) (query, error) {
	q := query{
		name: strings.TrimSpace(req.GetName()), phoneAsGiven: req.GetPhone(), documentAsGiven: req.GetDocument(),
		birth: req.GetDateOfBirth(), yearFrom: req.GetBirthYearFrom(), yearTo: req.GetBirthYearTo(),
		size: int(req.GetPageSize()),
	}
	if q.size <= 0 {
		q.size = defaultPageSize
	}
	q.size = min(q.size, maxPageSize)
	var bad []errs.FieldViolation
	if req.GetName() != "" {
		if q.words = persons.NameWords(req.GetName()); len(q.words) == 0 {
			bad = append(bad, errs.FieldViolation{Field: "name", Description: "has no letters or digits to search for"})
		} else {
			q.forms = queryForms(q.name, q.words)
		}
	}
	if req.GetPhone() != "" {
		e164, err := persons.E164(req.GetPhone(), req.GetPhoneRegion())
		if err != nil {
			bad = append(bad, errs.FieldViolation{Field: "phone", Description: err.Error()})
		}
		q.phone = e164
	}
	if req.GetDocument() != "" {
		if q.document = persons.DocumentNumber(req.GetDocument()); q.document == "" {
			bad = append(bad, errs.FieldViolation{Field: "document", Description: "has no letters or digits to search for"})
		}
	}
	if req.GetName() == "" && req.GetPhone() == "" && req.GetDocument() == "" && q.birth == nil && q.yearFrom == 0 && q.yearTo == 0 {
		// The validation interceptor refuses this first (rule search.terms);
		// the service never lists the whole index whatever reaches it.
		const msg = "give a name, phone, document, date of birth or birth years to search for"
		return q, &errs.Error{Code: errs.InvalidArgument, Message: msg,
			FieldViolations: []errs.FieldViolation{{Description: msg + " [search.terms]"}}}
	}
	return q, errs.InvalidFields(bad)
}

// terms is what the audit log records of a search: every criterion, as
// searched for (normalised where it could be).
func (q query) terms() string {
	var t []string
	if q.name != "" {
		t = append(t, fmt.Sprintf("name=%q", q.name))
	}
	switch {
	case q.phone != "":
		t = append(t, "phone="+q.phone)
	case q.phoneAsGiven != "":
		t = append(t, fmt.Sprintf("phone=%q", q.phoneAsGiven))
	}
	switch {
	case q.document != "":
		t = append(t, "document="+q.document)
	case q.documentAsGiven != "":
		t = append(t, fmt.Sprintf("document=%q", q.documentAsGiven))
	}
	if q.birth != nil {
		t = append(t, "date_of_birth="+formatDate(q.birth))
	}
	if q.yearFrom > 0 || q.yearTo > 0 {
		t = append(t, "birth_years="+yearRange(q.yearFrom, q.yearTo))
	}
	return strings.Join(t, " ")
}

// The steps of a search (run), as a set: a step that read every
// candidate it matches below a window's start is done, and later windows
// do not show its candidates again.
const (
	stepExact uint8 = 1 << iota
	stepWords
	stepKeys
	allSteps = stepExact | stepWords | stepKeys
)

// searchStep is a step of run and the candidates it reads.
type searchStep struct {
	step uint8
	pq   store.PersonQuery
}

// window is what run found: the hits of the persons indexed below the
// query's before, down to end.
type window struct {
	hits []*liaisonv1.PersonHit
	// end is the lowest row of the window: the highest of the oldest rows
	// read by the steps that read as many candidates as they read at once
	// (0 when none did: the window reached the oldest person). A hit of
	// an older row found only by such steps is the next window's.
	end int64
	// done are the steps that read every candidate of theirs, in this
	// window or one before it (query.done).
	done uint8
	// capped says a step read as many candidates as a search reads
	// (candidateCap by its words, keyCandidateCap by its keys): more
	// persons may match than this window scored.
	capped bool
	// skipped says a step was left out because the hits before it filled
	// the page with full scores (the window is then not searched whole).
	skipped bool
	// top is the best score of the window's hits, or of the windows before
	// it when higher (query.top).
	top int32
}

// run finds, checks, scores and sorts the persons matching q in the
// window of rows below q.before: the search without its gRPC and audit
// wrapping.
//
// A name query of several words first reads the persons with exactly
// those words as a name (their run-together token, a cheap lookup even
// for common names); if they fill the page with full scores, nothing
// better can follow and the broad query — every word, up to the candidate
// cap — is skipped, and the keys' query after it too.
//
// Each step reads the most recently indexed candidates first, up to its
// cap. When one reaches it, the window ends at its oldest row read (the
// highest such row of the steps capped), and the hits of older rows that
// only such steps found are left to the next window, where those steps
// read again below that row. A step that read all its candidates is done:
// its hits stay in this window whatever their row, and later windows read
// its rows only to leave them out. So a person is in exactly one window.
func run(ctx context.Context, st *store.Store, q query) (window, error) {
	pq := store.PersonQuery{
		Phone: q.phone, Document: q.document, Words: q.words,
		Birth: q.birth, YearFrom: q.yearFrom, YearTo: q.yearTo, Limit: candidateCap, Before: q.before,
	}
	w := window{done: q.done}
	var hits []*liaisonv1.PersonHit
	// byKeys are the hits whose name matched only through its keys, and
	// rows the index rows of every hit.
	byKeys := map[*liaisonv1.PersonHit]bool{}
	rows := map[*liaisonv1.PersonHit]int64{}
	m := newMatcher(q)
	// seen are the rows scored, or left out as shown by a done step in a
	// window before; ofDone the rows a step done in this window read.
	seen := map[int64]bool{}
	ofDone := map[int64]bool{}
	kept := func(h *liaisonv1.PersonHit) bool { return rows[h] >= w.end || ofDone[rows[h]] }
	// full says the window has q.size hits of full score already: no step
	// after can rank above them. Only hits the window keeps count (a step
	// skipped keeps the window's end where it is).
	full := func() bool {
		n := 0
		for _, h := range hits {
			if h.Score == 100 && kept(h) {
				n++
			}
		}
		return n >= q.size
	}
	// keyed says the candidates come from the name's keys and are scored
	// through them; the words' candidates have every word of the query (or
	// all of them run together) and are scored through keys only if their
	// words fall short (a word of a machine transliteration).
	scoreAll := func(cands []store.IndexedPerson, keyed bool) {
		for _, c := range cands {
			if seen[c.Row] {
				continue
			}
			seen[c.Row] = true
			if score, reasons, keys, ok := m.check(c.Person, keyed); ok && score >= Threshold {
				h := &liaisonv1.PersonHit{
					RecordKind: c.RecordKind, RecordId: c.RecordID, OriginAgency: c.OriginAgency, RecordTitle: c.RecordTitle,
					Person: c.Person, Score: int32(score), Reasons: reasons,
				}
				hits = append(hits, h)
				byKeys[h], rows[h] = keys, c.Row
			}
		}
	}
	// read records what a step read: done when fewer than its limit, else
	// the window ends at its oldest row or higher.
	read := func(step uint8, found []int64, limit int) {
		if len(found) < limit {
			w.done |= step
			for _, r := range found {
				ofDone[r] = true
			}
			return
		}
		w.end = max(w.end, slices.Min(found))
		w.capped = w.capped || step != stepExact
	}
	var steps []searchStep
	byName := q.phone == "" && q.document == ""
	if byName && len(q.words) > 1 {
		exact := pq
		exact.ExactName, exact.Limit = true, q.size+10
		steps = append(steps, searchStep{stepExact, exact})
	}
	steps = append(steps, searchStep{stepWords, pq})
	if byName && q.useKeys() {
		// The persons found only through the name's keys, in a query of
		// their own so that the words' keeps its fast path for common
		// words; fewer of them are read.
		kq := pq
		kq.Keys, kq.Limit = queryKeys(q.forms), keyCandidateCap
		steps = append(steps, searchStep{stepKeys, kq})
	}
	// Rows shown by steps done in a window before are left out.
	for _, s := range steps {
		if q.done&s.step == 0 {
			continue
		}
		s.pq.Limit = max(s.pq.Limit, candidateCap)
		found, err := st.FindPersonRows(ctx, s.pq)
		if err != nil {
			return window{}, err
		}
		for _, r := range found {
			seen[r] = true
		}
	}
	for i, s := range steps {
		if q.done&s.step != 0 {
			continue
		}
		if i > 0 && !q.whole && full() {
			w.skipped = true
			break
		}
		if s.step != stepKeys {
			cands, err := st.FindPersons(ctx, s.pq)
			if err != nil {
				return window{}, err
			}
			found := make([]int64, len(cands))
			for j, c := range cands {
				found[j] = c.Row
			}
			read(s.step, found, s.pq.Limit)
			scoreAll(cands, false)
			continue
		}
		// Most of the keys' candidates were read above (a person with
		// every word of the query has a key of each): only the others are
		// read.
		found, err := st.FindPersonRows(ctx, s.pq)
		if err != nil {
			return window{}, err
		}
		read(s.step, found, s.pq.Limit)
		cands, err := st.PersonsByRow(ctx, slices.DeleteFunc(slices.Clone(found), func(r int64) bool { return seen[r] }))
		if err != nil {
			return window{}, err
		}
		scoreAll(cands, true)
	}
	hits = slices.DeleteFunc(hits, func(h *liaisonv1.PersonHit) bool { return !kept(h) })
	// Equal scores keep the order they were found in: exact names first,
	// then the most recently written.
	slices.SortStableFunc(hits, func(a, b *liaisonv1.PersonHit) int { return cmp.Compare(b.Score, a.Score) })
	// Fuzziness is bounded: a match through keys far below the best hit
	// (of this window or one before it) is a namesake, not a spelling of
	// the name searched for.
	w.top = q.top
	if len(hits) > 0 {
		w.top = max(w.top, hits[0].Score)
		hits = slices.DeleteFunc(hits, func(h *liaisonv1.PersonHit) bool { return byKeys[h] && h.Score < w.top-keySpread })
	}
	w.hits = hits[:min(len(hits), q.size)]
	return w, nil
}

// check tests p against every criterion of q. It returns the score — 100
// for an exact phone or document number, else the name score, else 100
// (dates of birth match or not) — and one reason per criterion; keyed
// scores the name through its keys too (else only when its words fall
// short), and byKeys says it matched only through them; ok is false if
// any criterion is not met.
func (m *matcher) check(p *liaisonv1.Person, keyed bool) (score int, reasons []string, byKeys, ok bool) {
	q := &m.q
	score = 100
	exact := false
	add := func(ok bool, reason string) bool {
		if ok {
			reasons = append(reasons, reason)
		}
		return ok
	}
	if q.phone != "" {
		if !add(matchPhone(q.phone, p)) {
			return 0, nil, false, false
		}
		exact = true
	}
	if q.document != "" {
		if !add(matchDocument(q.document, p)) {
			return 0, nil, false, false
		}
		exact = true
	}
	if len(q.words) > 0 {
		forms := persons.NameForms(p)
		nm := matchNameForms(q.name, q.words, forms, Threshold)
		if keyed || nm.score < Threshold {
			nm = m.matchName(forms, nm)
		}
		byKeys = nm.byKeys
		if nm.score < Threshold {
			return 0, nil, false, false
		}
		reasons = append(reasons, nm.reason)
		if !exact {
			score = nm.score
		}
	}
	if q.birth != nil && !add(matchBirth(q.birth, p)) {
		return 0, nil, false, false
	}
	if (q.yearFrom > 0 || q.yearTo > 0) && !add(matchBirthYears(q.yearFrom, q.yearTo, p)) {
		return 0, nil, false, false
	}
	return score, reasons, byKeys, true
}

// restrict applies the handling policy to hits on persons of partners'
// leads: each carries its lead's restriction, and a withheld one only says
// that the record matched.
func (s *Server) restrict(ctx context.Context, hits []*liaisonv1.PersonHit) ([]*liaisonv1.PersonHit, error) {
	if s.policy == nil {
		return hits, nil
	}
	caller, _ := identity.FromContext(ctx)
	leads := map[string]*liaisonv1.Lead{}
	out := hits[:0]
	for _, h := range hits {
		if h.GetRecordKind() != liaisonv1.RecordKind_RECORD_KIND_LEAD || h.GetOriginAgency() == s.agency {
			out = append(out, h)
			continue
		}
		l, ok := leads[h.GetRecordId()]
		if !ok {
			var err error
			l, err = s.store.Lead(ctx, h.GetRecordId())
			if errs.CodeOf(err) == errs.NotFound {
				// Gone since the index was read (the index and the records
				// are read in separate snapshots): the policy cannot be
				// applied to it, so it is not shown.
				continue
			}
			if err != nil {
				return nil, err
			}
			leads[h.GetRecordId()] = l
		}
		h, err := s.policy.Hit(ctx, caller, h, l)
		if err != nil {
			return nil, err
		}
		if h != nil {
			out = append(out, h)
		}
	}
	return out, nil
}
