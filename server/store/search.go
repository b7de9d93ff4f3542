package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/liaison-exchange/liaison/gen/db"
	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/persons"
)

// Identifier kinds in person_identifiers.
const (
	IdentifierPhone    = 1
	IdentifierDocument = 2
)

// personIndexVersion changes when what is indexed of a person changes; a
// database built with another version is re-indexed when it is opened.
const personIndexVersion = "5"

// IndexedRecord is a record whose persons the search index holds.
type IndexedRecord struct {
	Kind         liaisonv1.RecordKind
	ID, Title    string
	OriginAgency string
	// Persons is nil for a record whose content is gone (withdrawn, purged):
	// it leaves the index at once.
	Persons []*liaisonv1.Person
}

// IndexPersons replaces the index entries of a record, in the transaction
// that changes the record.
func (t *Tx) IndexPersons(r IndexedRecord) error {
	return indexPersons(t.ctx, t.q, &t.names, r)
}

func indexPersons(ctx context.Context, q *db.Queries, names *nameLog, r IndexedRecord) error {
	// The record's rows are deleted only if it has any (a new record has
	// none): a DELETE on person_index cascades to person_identifiers, a
	// statement that opens a savepoint even when it matches nothing.
	old, err := q.PersonRowsOfRecord(ctx, db.PersonRowsOfRecordParams{RecordKind: int64(r.Kind), RecordID: r.ID})
	if err != nil {
		return fmt.Errorf("unindex %s: %w", r.ID, err)
	}
	if len(old) > 0 {
		if err := q.DeletePersonsOfRecord(ctx, db.DeletePersonsOfRecordParams{RecordKind: int64(r.Kind), RecordID: r.ID}); err != nil {
			return fmt.Errorf("unindex %s: %w", r.ID, err)
		}
		for _, o := range old {
			names.del(o.ID, o.Tokens)
		}
	}
	for _, p := range r.Persons {
		b, err := marshalDet.Marshal(p)
		if err != nil {
			return err
		}
		dob := p.GetDateOfBirth()
		tokens := persons.IndexTokens(p)
		row, err := q.InsertPerson(ctx, db.InsertPersonParams{
			RecordKind: int64(r.Kind), RecordID: r.ID, RecordTitle: r.Title, OriginAgency: r.OriginAgency,
			DobYear: int64(dob.GetYear()), DobMonth: int64(dob.GetMonth()), DobDay: int64(dob.GetDay()),
			Tokens: tokens, Person: b,
		})
		if err != nil {
			return fmt.Errorf("index person of %s: %w", r.ID, err)
		}
		names.add(row, tokens)
		for _, ph := range p.GetPhoneNumbers() {
			if err := q.InsertPersonIdentifier(ctx, db.InsertPersonIdentifierParams{Kind: IdentifierPhone, Value: ph.GetNumber(), PersonRow: row}); err != nil {
				return err
			}
		}
		for _, d := range p.GetDocuments() {
			if err := q.InsertPersonIdentifier(ctx, db.InsertPersonIdentifierParams{Kind: IdentifierDocument, Value: d.GetNumber(), PersonRow: row}); err != nil {
				return err
			}
		}
	}
	return nil
}

// leadIndex is what the index holds of a lead: its subjects, unless the
// lead is withdrawn (its content then leaves search at once).
func leadIndex(l *liaisonv1.Lead) IndexedRecord {
	r := IndexedRecord{Kind: liaisonv1.RecordKind_RECORD_KIND_LEAD, ID: l.GetId(), Title: l.GetTitle(), OriginAgency: l.GetOriginAgency()}
	if l.GetStatus() != liaisonv1.LeadStatus_LEAD_STATUS_WITHDRAWN {
		r.Persons = l.GetSubjects()
	}
	return r
}

// sameIndex says whether two versions of a record would have the same
// index rows.
func sameIndex(a, b IndexedRecord) bool {
	if a.Kind != b.Kind || a.ID != b.ID || a.Title != b.Title || a.OriginAgency != b.OriginAgency || len(a.Persons) != len(b.Persons) {
		return false
	}
	for i := range a.Persons {
		if !proto.Equal(a.Persons[i], b.Persons[i]) {
			return false
		}
	}
	return true
}

// caseIndex is what the index holds of a case: its subjects.
func caseIndex(c *liaisonv1.Case) IndexedRecord {
	return IndexedRecord{Kind: liaisonv1.RecordKind_RECORD_KIND_CASE, ID: c.GetId(), Title: c.GetTitle(),
		OriginAgency: c.GetOriginAgency(), Persons: c.GetSubjects()}
}

// manifestIndex is what the index holds of a manifest on its home node:
// every person on it, withdrawn ones too, so that an officer finds whether
// a person is on any manifest. A receiving node indexes no manifest: it
// learns of persons on them only through the manifest itself.
func manifestIndex(m *liaisonv1.Manifest) IndexedRecord {
	r := IndexedRecord{Kind: liaisonv1.RecordKind_RECORD_KIND_MANIFEST, ID: m.GetId(), Title: "transfer manifest to " + m.GetReceivingAgency(),
		OriginAgency: m.GetOriginAgency()}
	for _, p := range m.GetPersons() {
		r.Persons = append(r.Persons, p.GetIdentity())
	}
	return r
}

// reindexIfNeeded rebuilds the person index when it was built by another
// version of the indexing rules (or never, on a database from before it).
//
// The records are read and indexed one at a time, and the name index is
// written every reindexChunk persons, all in one transaction: memory stays
// flat however many records the node holds (read whole first, a million
// leads' bodies and their names' tokens would take gigabytes, far over
// the node's memory limit).
func reindexIfNeeded(ctx context.Context, d *sql.DB, q *db.Queries, stmts nameStmts, agency string) error {
	v, err := q.GetMeta(ctx, "person_index")
	if err == nil && v == personIndexVersion {
		return nil
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	qt := q.WithTx(tx)
	if _, err := tx.ExecContext(ctx, "DELETE FROM person_index"); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO person_names (person_names) VALUES ('delete-all')"); err != nil {
		return err
	}
	var names nameLog
	index := func(r IndexedRecord) error {
		if err := indexPersons(ctx, qt, &names, r); err != nil {
			return err
		}
		if len(names) < reindexChunk {
			return nil
		}
		// Every change here is an addition (the index was emptied
		// first), so writing them in parts adds the same rows.
		if err := names.write(ctx, tx, stmts); err != nil {
			return err
		}
		names = names[:0]
		return nil
	}
	// The person_index rows are written while the records are read: other
	// tables, so the reading cursor is not disturbed.
	each := func(query string, decode func([]byte) (IndexedRecord, error)) error {
		rows, err := tx.QueryContext(ctx, query)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var b []byte
			if err := rows.Scan(&b); err != nil {
				return err
			}
			r, err := decode(b)
			if err != nil {
				return err
			}
			if err := index(r); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	err = each("SELECT body FROM leads WHERE body IS NOT NULL", func(b []byte) (IndexedRecord, error) {
		l := &liaisonv1.Lead{}
		if err := proto.Unmarshal(b, l); err != nil {
			return IndexedRecord{}, err
		}
		return leadIndex(l), nil
	})
	if err != nil {
		return err
	}
	err = each("SELECT body FROM cases", func(b []byte) (IndexedRecord, error) {
		c := &liaisonv1.Case{}
		if err := proto.Unmarshal(b, c); err != nil {
			return IndexedRecord{}, err
		}
		return caseIndex(c), nil
	})
	if err != nil {
		return err
	}
	own, err := qt.OwnManifests(ctx, agency)
	if err != nil {
		return err
	}
	for _, r := range own {
		m := &liaisonv1.Manifest{}
		if err := proto.Unmarshal(r.Body, m); err != nil {
			return err
		}
		if err := index(manifestIndex(m)); err != nil {
			return err
		}
	}
	if err := names.write(ctx, tx, stmts); err != nil {
		return err
	}
	if err := qt.SetMeta(ctx, db.SetMetaParams{Key: "person_index", Value: personIndexVersion}); err != nil {
		return err
	}
	return tx.Commit()
}

// reindexChunk is how many persons' name index changes reindexIfNeeded
// holds before it writes them.
var reindexChunk = 10_000

// compactNameIndex merges the segments of the full-text name index into
// one when the index is spread over several of some size. FTS5 writes
// each transaction's rows as a segment of its own and merges them only in
// part as it goes, so an index filled over many transactions (a node's
// life, a bulk load) is a stack of segments, and every term of every name
// query is looked up in each: on a million persons in ten segments the
// name search spent 28% more CPU than on the same index in one (measured,
// 8.0 against 5.8 ms a query). Done when the store opens, before any
// reader (about 3 s for a million persons). The few small segments that
// writes add after that cost a query little, and a store reopened with
// no more than those (at most compactShare of the index outside its
// largest segment) is not rewritten for them.
func compactNameIndex(ctx context.Context, d *sql.DB, log *slog.Logger) error {
	segs, largest, pages, err := nameIndexSegments(ctx, d)
	if err != nil || segs <= 1 || float64(pages-largest) <= compactShare*float64(pages) {
		return err
	}
	start := time.Now()
	if _, err := d.ExecContext(ctx, "INSERT INTO person_names (person_names) VALUES ('optimize')"); err != nil {
		return err
	}
	log.Info("name index compacted", "segments", segs, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// compactShare is the part of the name index outside its largest segment
// from which the store compacts the index when it opens.
const compactShare = 0.1

// nameIndexSegments counts the segments of the full-text name index and
// its leaf pages, in all and in its largest segment, by FTS5's %_idx
// table (a row for each segment's leaf pages that start a term).
func nameIndexSegments(ctx context.Context, d *sql.DB) (segs, largest, pages int, err error) {
	err = d.QueryRowContext(ctx, "SELECT count(*), coalesce(max(n), 0), coalesce(sum(n), 0) FROM "+
		"(SELECT count(*) AS n FROM person_names_idx GROUP BY segid)").Scan(&segs, &largest, &pages)
	return segs, largest, pages, err
}
