package store

// The read side of the person index. The SQL is written by hand rather
// than generated: sqlc's SQLite parser rejects FTS5's hidden columns
// (the table-named MATCH column and rank).

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/persons"
)

// PersonQuery selects candidate persons from the index, the most recently
// indexed first. Candidates come from the most selective criterion given
// — phone, else document, else name, else date of birth — and the
// date-of-birth criteria also narrow every source in SQL, so the cap never
// hides a person who matches them. The caller checks every criterion on
// the candidates.
type PersonQuery struct {
	// Phone is an E.164 number (persons.E164).
	Phone string
	// Document is a normalised document number (persons.DocumentNumber).
	Document string
	// Words are the words of a name (persons.NameWords): candidates have
	// every word among their name tokens, or the words run together as one.
	Words []string
	// ExactName keeps only persons with a name form that is the words run
	// together (in recorded or swapped order, however spaced): the token
	// "chenwei" is indexed only for such forms, so this is a lookup of one
	// rare token even when the words are common.
	ExactName bool
	// Keys, when given, replace Words as the match: the keys that survive
	// transliteration (persons.WordKeys, persons.RunKeys); a person is a
	// candidate when, for one of the alternatives, every group of it has
	// one of its tokens among the person's tokens.
	Keys [][][]string
	// Birth keeps persons whose recorded date-of-birth parts agree with
	// its parts (its year is required); persons with no date of birth are
	// left out.
	Birth *liaisonv1.Date
	// YearFrom and YearTo (0: open) keep persons born in those years.
	YearFrom, YearTo int32
	// Before, when not 0, keeps persons indexed before that row
	// (IndexedPerson.Row < Before): the next window of a search that
	// read as many candidates as it reads at once.
	Before int64
	// Limit caps the candidates (default 500).
	Limit int
}

// IndexedPerson is a person of the index and the record it belongs to.
type IndexedPerson struct {
	// Row is the person's row in the index: a later write has a higher one.
	Row          int64
	RecordKind   liaisonv1.RecordKind
	RecordID     string
	RecordTitle  string
	OriginAgency string
	Person       *liaisonv1.Person
}

// ErrNoCriterion is returned by FindPersons for a query without any
// criterion: the index is never listed whole.
var ErrNoCriterion = errors.New("find persons: no criterion")

const personColumns = "p.id, p.record_kind, p.record_id, p.record_title, p.origin_agency, p.person"

// FindPersons returns the candidates of q from the index.
func (s *Store) FindPersons(ctx context.Context, q PersonQuery) ([]IndexedPerson, error) {
	query, args, err := s.findQuery(ctx, q, personColumns)
	if err != nil {
		return nil, err
	}
	return s.queryPersons(ctx, query, args...)
}

// FindPersonRows returns the rows (IndexedPerson.Row) of the candidates of
// q, in FindPersons' order, without reading the persons: a caller that
// has read some of them already reads the others with PersonsByRow.
func (s *Store) FindPersonRows(ctx context.Context, q PersonQuery) ([]int64, error) {
	if keysOnly(q) {
		if q.Limit <= 0 {
			q.Limit = defaultLimit
		}
		return s.keyRows(ctx, keysExpression(q.Keys), q.Limit, q.Before)
	}
	query, args, err := s.findQuery(ctx, q, "p.id")
	if err != nil {
		return nil, err
	}
	return s.queryRowIDs(ctx, query, args...)
}

// queryRowIDs runs a query of one integer column, the index's rows.
func (s *Store) queryRowIDs(ctx context.Context, query string, args ...any) ([]int64, error) {
	rows, err := s.rdb.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("find persons: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("find persons: %w", err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find persons: %w", err)
	}
	return out, nil
}

// PersonsByRow reads the persons of the index at rows, the most recently
// indexed (highest row) first; a row no longer in the index (its record
// changed since the rows were found) is left out.
func (s *Store) PersonsByRow(ctx context.Context, rows []int64) ([]IndexedPerson, error) {
	rows = slices.Clone(rows)
	slices.SortFunc(rows, func(a, b int64) int { return cmp.Compare(b, a) })
	var out []IndexedPerson
	// A statement's bound parameters are limited (32,766): a few hundred
	// rows a statement.
	for chunk := range slices.Chunk(rows, maxRowsProbe) {
		query, args, _ := rowsQuery(personColumns, chunk)
		ps, err := s.queryPersons(ctx, query, args...)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	return out, nil
}

// findQuery is the SQL and arguments reading cols of the candidates of q.
func (s *Store) findQuery(ctx context.Context, q PersonQuery, cols string) (string, []any, error) {
	if q.Limit <= 0 {
		q.Limit = defaultLimit
	}
	where, args := birthFilter(q)
	var query string
	switch {
	case q.Phone != "" || q.Document != "":
		kind, value := IdentifierPhone, q.Phone
		if q.Phone == "" {
			kind, value = IdentifierDocument, q.Document
		}
		query = "SELECT " + cols + " FROM person_identifiers i JOIN person_index p ON p.id = i.person_row" +
			" WHERE i.kind = ? AND i.value = ?" + where + " ORDER BY p.id DESC LIMIT ?"
		args = append([]any{kind, value}, args...)
	case len(q.Words) > 0:
		return s.findByName(ctx, q, where, args, cols)
	case where != "":
		query, args := findByBirth(where, args, "", q.Limit, cols)
		return query, args, nil
	default:
		return "", nil, ErrNoCriterion
	}
	return query, append(args, q.Limit), nil
}

// birthFilter is the SQL condition (" AND …") of the date-of-birth
// criteria, served by person_index_by_birth, and of the row bound.
func birthFilter(q PersonQuery) (string, []any) {
	var b strings.Builder
	var args []any
	if q.Before > 0 {
		b.WriteString(" AND p.id < ?")
		args = append(args, q.Before)
	}
	if d := q.Birth; d != nil {
		b.WriteString(" AND p.dob_year = ?")
		args = append(args, d.GetYear())
		if d.GetMonth() > 0 {
			b.WriteString(" AND p.dob_month IN (0, ?)")
			args = append(args, d.GetMonth())
			if d.GetDay() > 0 {
				b.WriteString(" AND p.dob_day IN (0, ?)")
				args = append(args, d.GetDay())
			}
		}
	}
	if q.YearFrom > 0 || q.YearTo > 0 {
		from, to := max(q.YearFrom, 1), q.YearTo
		if to == 0 {
			to = 1 << 30
		}
		b.WriteString(" AND p.dob_year BETWEEN ? AND ?")
		args = append(args, from, to)
	}
	return b.String(), args
}

func (s *Store) queryPersons(ctx context.Context, query string, args ...any) ([]IndexedPerson, error) {
	rows, err := s.rdb.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("find persons: %w", err)
	}
	defer rows.Close()
	var out []IndexedPerson
	for rows.Next() {
		var r IndexedPerson
		var kind int64
		var body []byte
		if err := rows.Scan(&r.Row, &kind, &r.RecordID, &r.RecordTitle, &r.OriginAgency, &body); err != nil {
			return nil, fmt.Errorf("find persons: %w", err)
		}
		r.RecordKind = liaisonv1.RecordKind(kind)
		r.Person = &liaisonv1.Person{}
		if err := proto.Unmarshal(body, r.Person); err != nil {
			return nil, fmt.Errorf("find persons: decode person %d of %s: %w", r.Row, r.RecordID, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find persons: %w", err)
	}
	return out, nil
}

// findByName reads the candidates of a name query, the most recently
// indexed first.
//
// They are not ordered by BM25: its IDF step counts every row of every
// query word, which for a family name held by one person in eight of a
// million costs about 75 ms a query (measured; rowid order costs 0.3 ms).
// The caller scores the candidates itself.
//
// With a date of birth of at least year and month too, the smaller side
// drives: the name's matches when there are few (each is read and its date
// checked), else the birth index, keeping the ids the name matches. A
// common name with a full date of birth would otherwise read every person
// of that name to find the few born that day (170 ms for a name held by
// 140,000 of a million persons, measured; 60 ms this way, most of it
// collecting the name's matches, and 2–5 ms for names of two words). A
// year or a range of years keeps most persons of a name: reading the
// name's matches reaches the cap soon.
func (s *Store) findByName(ctx context.Context, q PersonQuery, where string, args []any, cols string) (string, []any, error) {
	match := NameMatchExpression(q.Words)
	switch {
	case q.ExactName:
		match = ftsString(strings.Join(q.Words, ""))
	case len(q.Keys) > 0:
		// The keys alone: the caller reads the words' matches with a
		// query of their own, which keeps the split of common words below.
		match = keysExpression(q.Keys)
	}
	if q.Birth.GetMonth() > 0 {
		var n int
		if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT rowid FROM person_names WHERE person_names MATCH ? LIMIT ?)",
			match, nameDriveLimit).Scan(&n); err != nil {
			return "", nil, fmt.Errorf("find persons: %w", err)
		}
		if n >= nameDriveLimit {
			query, args := findByBirth(where, args, match, q.Limit, cols)
			return query, args, nil
		}
	}
	if keysOnly(q) && q.Limit <= maxRowsProbe {
		rows, err := s.keyRows(ctx, match, q.Limit, q.Before)
		if err != nil {
			return "", nil, err
		}
		return rowsQuery(cols, rows)
	}
	filter := ""
	if !q.ExactName && len(q.Keys) == 0 {
		var err error
		if match, filter, args, err = s.splitCommonWords(ctx, q.Words, args); err != nil {
			return "", nil, err
		}
	}
	// The bound on the full-text table's own rowid too: FTS5 then starts
	// reading each token's rows at it rather than skipping the newer ones.
	bound, boundArgs := "", []any{match}
	if q.Before > 0 {
		bound, boundArgs = " AND m.rowid < ?", append(boundArgs, q.Before)
	}
	query := "SELECT " + cols + " FROM person_names m JOIN person_index p ON p.id = m.rowid" +
		" WHERE m.person_names MATCH ?" + bound + where + filter + " ORDER BY m.rowid DESC LIMIT ?"
	return query, append(append(boundArgs, args...), q.Limit), nil
}

// defaultLimit is the candidates a query reads when it gives no Limit.
const defaultLimit = 500

// maxRowsProbe bounds the Limit of a query of keys whose persons are
// read by their rows (keyRows, then rowsQuery: the rows are bound
// parameters of the statement).
const maxRowsProbe = 1000

// keysOnly says whether q is a query of a name's keys with no other
// criterion than the window's bound (PersonQuery.Before): its rows are
// the full-text index's alone (keyRows).
func keysOnly(q PersonQuery) bool {
	return len(q.Words) > 0 && len(q.Keys) > 0 && q.Birth == nil && q.YearFrom == 0 && q.YearTo == 0
}

// keyRows returns the rows the keys' full-text match matches below before
// (0: every row), the most recent first, up to limit, read from the
// full-text index alone. The index holds exactly the persons of
// person_index (the store writes both in one transaction), so the join
// to it that the other queries need for their conditions would only cost:
// about 8 µs a row, 0.6 ms for a window of 200 (docs/performance.md).
//
// A name's keys hold common tokens (the skeleton of a common family
// name). FTS5 reads such tokens about 1.6 times faster in rowid order than
// most recent first, so the oldest limit+1 rows are read first: when
// there are no more, they are the answer (the keys of most names match
// few persons); else the newest are read.
func (s *Store) keyRows(ctx context.Context, match string, limit int, before int64) ([]int64, error) {
	if before <= 0 {
		before = math.MaxInt64
	}
	rows, err := s.queryRowIDs(ctx, "SELECT rowid FROM person_names WHERE person_names MATCH ? AND rowid < ? ORDER BY rowid LIMIT ?",
		match, before, limit+1)
	if err != nil || len(rows) <= limit {
		slices.Reverse(rows)
		return rows, err
	}
	return s.queryRowIDs(ctx, "SELECT rowid FROM person_names WHERE person_names MATCH ? AND rowid < ? ORDER BY rowid DESC LIMIT ?",
		match, before, limit)
}

// rowsQuery is the SQL and arguments reading cols of the persons at rows,
// the most recent first.
func rowsQuery(cols string, rows []int64) (string, []any, error) {
	if len(rows) == 0 {
		return "SELECT " + cols + " FROM person_index p WHERE 0", nil, nil
	}
	args := make([]any, len(rows))
	for i, r := range rows {
		args[i] = r
	}
	return "SELECT " + cols + " FROM person_index p WHERE p.id IN (?" + strings.Repeat(", ?", len(rows)-1) + ") ORDER BY p.id DESC", args, nil
}

// commonWord is the number of persons holding a word from which FTS5 is
// slow to intersect it with others: it walks the word's whole doclist
// (about 1 ms for a family name held by 140,000 persons, measured, where
// the other words of the query take 0.05 ms). rareWord is the number
// below which the rows a word matches are few enough to read and check
// for the common words one by one.
const (
	commonWord = 10000
	rareWord   = 1000
)

// splitCommonWords returns the full-text match of a name query of several
// words without its common words, when it has a rare one, and the SQL
// condition (" AND …", with args appended to args) that checks the common
// words on the indexed tokens of the rows matched. The candidates are the
// same — every word, or all of them run together — found faster: on a
// million persons (benchdata.Populate) the mean name query took half the time
// and the 99th percentile a third (1.7 ms against 5.2 ms, one query at a
// time, best of five runs each).
func (s *Store) splitCommonWords(ctx context.Context, words []string, args []any) (string, string, []any, error) {
	full := NameMatchExpression(words)
	uniq := persons.UniqueWords(words)
	if len(uniq) < 2 || len(uniq) > 8 {
		return full, "", args, nil
	}
	n, err := s.countWords(ctx, uniq)
	if err != nil {
		return "", "", nil, err
	}
	var rare, common []string
	rarest := commonWord
	for i, w := range uniq {
		rarest = min(rarest, n[i])
		if n[i] >= commonWord {
			common = append(common, w)
		} else {
			rare = append(rare, w)
		}
	}
	if len(common) == 0 || rarest >= rareWord {
		return full, "", args, nil
	}
	quoted := make([]string, len(rare))
	for i, w := range rare {
		quoted[i] = ftsString(w)
	}
	run := strings.Join(words, "")
	match := "(" + strings.Join(quoted, " AND ") + ") OR " + ftsString(run)
	// The tokens column holds the indexed words separated by single spaces.
	var b strings.Builder
	b.WriteString(" AND ((")
	for i, w := range common {
		if i > 0 {
			b.WriteString(" AND ")
		}
		b.WriteString("instr(' ' || p.tokens || ' ', ?) > 0")
		args = append(args, " "+w+" ")
	}
	b.WriteString(") OR instr(' ' || p.tokens || ' ', ?) > 0)")
	args = append(args, " "+run+" ")
	return match, b.String(), args, nil
}

// countWords returns how many rows hold each word, up to commonWord: from
// the counts of the last wordCountTTL, the others counted in one
// statement. A count only chooses how the candidates are found, never
// which: one a little out of date costs time, not a person.
func (s *Store) countWords(ctx context.Context, words []string) ([]int, error) {
	n := make([]int, len(words))
	var counts []string
	var args, dest []any
	var counted []int // the words counted here, not reused
	now := time.Now()
	for i, w := range words {
		if c, ok := s.wordCounts.get(w, now); ok {
			n[i] = c
			continue
		}
		counts = append(counts, "(SELECT count(*) FROM (SELECT rowid FROM person_names WHERE person_names MATCH ? LIMIT "+fmt.Sprint(commonWord)+"))")
		args, dest, counted = append(args, ftsString(w)), append(dest, &n[i]), append(counted, i)
	}
	if len(counts) == 0 {
		return n, nil
	}
	if err := s.rdb.QueryRowContext(ctx, "SELECT "+strings.Join(counts, ", "), args...).Scan(dest...); err != nil {
		return nil, fmt.Errorf("find persons: %w", err)
	}
	// Only the counts made now are kept: a reused one keeps its age, so
	// a word searched for all day is still counted again every TTL.
	for _, i := range counted {
		s.wordCounts.put(words[i], n[i], now)
	}
	return n, nil
}

// wordCountTTL is how long a word's count is reused, and maxWordCounts
// how many are kept (the oldest half is dropped when full): a few
// megabytes at most.
const (
	wordCountTTL  = time.Minute
	maxWordCounts = 50_000
)

// wordCounts is a cache of name words' row counts for splitCommonWords.
type wordCounts struct {
	mu sync.Mutex
	m  map[string]wordCount
}

type wordCount struct {
	n  int
	at time.Time
}

func (c *wordCounts) get(w string, now time.Time) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[w]
	if !ok || now.Sub(e.at) > wordCountTTL {
		return 0, false
	}
	return e.n, true
}

func (c *wordCounts) put(w string, n int, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]wordCount{}
	}
	if len(c.m) >= maxWordCounts {
		for k, e := range c.m {
			if now.Sub(e.at) > wordCountTTL/2 {
				delete(c.m, k)
			}
		}
		if len(c.m) >= maxWordCounts {
			clear(c.m)
		}
	}
	c.m[w] = wordCount{n, now}
}

// nameDriveLimit is the number of name matches up to which a name query
// with date-of-birth criteria reads the matches rather than the birth
// index.
const nameDriveLimit = 2000

// findByBirth is the SQL and arguments reading cols of the persons the
// birth criteria (where) select, the most recently indexed first; with
// match, only those the name matches. The ids are chosen from the birth
// index alone, and only the rows kept are read.
func findByBirth(where string, args []any, match string, limit int, cols string) (string, []any) {
	ids := "SELECT p.id FROM person_index p INDEXED BY person_index_by_birth WHERE 1" + where
	if match != "" {
		ids += " AND p.id IN (SELECT rowid FROM person_names WHERE person_names MATCH ?)"
		args = append(args, match)
	}
	ids += " ORDER BY p.id DESC LIMIT ?"
	query := "SELECT " + cols + " FROM person_index p WHERE p.id IN (" + ids + ") ORDER BY p.id DESC"
	return query, append(args, limit)
}

// NameMatchExpression is the FTS5 query of a name's words: every word
// (each a quoted string), or all of them run together as one token —
// `("chen" AND "wei") OR "chenwei"`. Double quotes inside a word are
// doubled, FTS5's escape, so no input can change the query's structure.
func NameMatchExpression(words []string) string {
	quoted := persons.UniqueWords(words)
	for i, w := range quoted {
		quoted[i] = ftsString(w)
	}
	joined := ftsString(strings.Join(words, ""))
	switch len(quoted) {
	case 0:
		return `""`
	case 1:
		if len(words) == 1 {
			return quoted[0]
		}
		return quoted[0] + " OR " + joined
	}
	return "(" + strings.Join(quoted, " AND ") + ") OR " + joined
}

// keysExpression is the FTS5 query of PersonQuery.Keys.
func keysExpression(keys [][][]string) string {
	alts := make([]string, 0, len(keys))
	for _, alt := range keys {
		groups := make([]string, 0, len(alt))
		for _, g := range alt {
			toks := make([]string, 0, len(g))
			for _, t := range persons.UniqueWords(g) {
				toks = append(toks, ftsString(t))
			}
			if len(toks) > 0 {
				groups = append(groups, "("+strings.Join(toks, " OR ")+")")
			}
		}
		if len(groups) > 0 {
			alts = append(alts, "("+strings.Join(groups, " AND ")+")")
		}
	}
	if len(alts) == 0 {
		return `""`
	}
	return strings.Join(alts, " OR ")
}

func ftsString(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
