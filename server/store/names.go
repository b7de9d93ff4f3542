package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
)

// The full-text name index (person_names, FTS5 over person_index's
// tokens) is written at the end of each write transaction rather than by
// triggers as rows change: FTS5 writes out the terms it holds in memory
// whenever a statement opens a savepoint, which every statement firing a
// trigger does, so with triggers each write after a person was indexed
// first wrote a segment of a row or two (30–45 µs). A transaction logs its
// changes to person_index here (nameLog) and writes their net effect on
// the index once, before it commits.

// nameChange is a row of person_index added to or deleted from the
// index, with its tokens (for a deletion: those the index holds).
type nameChange struct {
	del    bool
	row    int64
	tokens string
}

// nameLog is a transaction's changes to person_index, in order. A
// savepoint rolled back truncates it to its length at the savepoint.
type nameLog []nameChange

func (l *nameLog) add(row int64, tokens string) {
	*l = append(*l, nameChange{row: row, tokens: tokens})
}

func (l *nameLog) del(row int64, tokens string) {
	*l = append(*l, nameChange{del: true, row: row, tokens: tokens})
}

// net is the log's effect on the index: the rows to delete (committed
// rows, with the tokens the index holds) and the rows to add, each in
// row order. A row added and deleted in the same transaction is in
// neither; a committed row deleted and its rowid used again for a new row
// is in both.
func (l nameLog) net() (dels, adds []nameChange) {
	type state struct {
		del, add *nameChange
	}
	rows := map[int64]*state{}
	for i := range l {
		c := &l[i]
		st := rows[c.row]
		if st == nil {
			st = &state{}
			rows[c.row] = st
		}
		switch {
		case !c.del:
			st.add = c
		case st.add != nil:
			st.add = nil // added in this transaction: the index never had it
		default:
			st.del = c
		}
	}
	for _, st := range rows {
		if st.del != nil {
			dels = append(dels, *st.del)
		}
		if st.add != nil {
			adds = append(adds, *st.add)
		}
	}
	byRow := func(a, b nameChange) int { return cmp.Compare(a.row, b.row) }
	slices.SortFunc(dels, byRow)
	slices.SortFunc(adds, byRow)
	return dels, adds
}

// nameStmts are the two statements that write the index, prepared on the
// writer's connection when the store opens.
type nameStmts struct {
	del, add *sql.Stmt
}

const (
	nameDeleteSQL = "INSERT INTO person_names (person_names, rowid, tokens) VALUES ('delete', ?, ?)"
	nameAddSQL    = "INSERT INTO person_names (rowid, tokens) VALUES (?, ?)"
)

func prepareNames(ctx context.Context, d *sql.DB) (nameStmts, error) {
	del, err := d.PrepareContext(ctx, nameDeleteSQL)
	if err != nil {
		return nameStmts{}, fmt.Errorf("name index: %w", err)
	}
	add, err := d.PrepareContext(ctx, nameAddSQL)
	if err != nil {
		del.Close()
		return nameStmts{}, fmt.Errorf("name index: %w", err)
	}
	return nameStmts{del: del, add: add}, nil
}

func (n nameStmts) close() error {
	var err error
	for _, st := range []*sql.Stmt{n.del, n.add} {
		if st != nil {
			if cerr := st.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}
	}
	return err
}

// write applies the log's net effect to the full-text index in tx.
func (l nameLog) write(ctx context.Context, tx *sql.Tx, n nameStmts) error {
	if len(l) == 0 {
		return nil
	}
	dels, adds := l.net()
	for _, w := range []struct {
		st      *sql.Stmt
		changes []nameChange
		what    string
	}{{n.del, dels, "delete"}, {n.add, adds, "add"}} {
		if len(w.changes) == 0 {
			continue
		}
		st := tx.StmtContext(ctx, w.st)
		for _, c := range w.changes {
			if _, err := st.ExecContext(ctx, c.row, c.tokens); err != nil {
				return fmt.Errorf("name index: %s row %d: %w", w.what, c.row, err)
			}
		}
	}
	return nil
}
