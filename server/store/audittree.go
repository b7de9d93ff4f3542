package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/liaison-exchange/liaison/gen/db"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/errs"
)

// treeHashes reads the audit tree's stored hashes through q (inside a
// transaction, it sees the hashes the transaction appended). With tx set,
// the hashes the transaction appended and the writer's cache of recent
// ones are read first: appending a leaf needs the roots of the complete
// subtrees to its left, almost always among the last few thousand hashes
// stored.
type treeHashes struct {
	ctx context.Context
	q   *db.Queries
	tx  *Tx
}

func (r treeHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if r.tx != nil {
			if h, ok := r.tx.treeHash(x); ok {
				out[i] = h
				continue
			}
		}
		b, err := r.q.GetAuditTreeHash(r.ctx, x)
		if err != nil {
			return nil, fmt.Errorf("audit tree hash %d: %w", x, err)
		}
		copy(out[i][:], b)
	}
	return out, nil
}

// storedHash is a hash of the tree at its stored index.
type storedHash struct {
	idx  int64
	hash tlog.Hash
}

// treeCache holds the last hashes the writer committed (only the writer
// goroutine uses it). order is a ring of the indexes in insertion order,
// so evicting the oldest costs one delete, not a copy of the ring.
type treeCache struct {
	byIdx map[int64]tlog.Hash
	order []int64 // ring of treeCacheSize indexes; next is the oldest once full
	next  int
}

const treeCacheSize = 4096

func (c *treeCache) add(hs []storedHash) {
	if c.byIdx == nil {
		c.byIdx = make(map[int64]tlog.Hash, treeCacheSize)
		c.order = make([]int64, 0, treeCacheSize)
	}
	for _, h := range hs {
		if _, ok := c.byIdx[h.idx]; ok {
			c.byIdx[h.idx] = h.hash // stored again: already in the ring
			continue
		}
		if len(c.order) < treeCacheSize {
			c.order = append(c.order, h.idx)
		} else {
			delete(c.byIdx, c.order[c.next])
			c.order[c.next] = h.idx
			c.next = (c.next + 1) % treeCacheSize
		}
		c.byIdx[h.idx] = h.hash
	}
}

// treeHash finds a stored hash among those the transaction appended or
// the writer's cache.
func (t *Tx) treeHash(idx int64) (tlog.Hash, bool) {
	for i := len(t.treeNew) - 1; i >= 0; i-- {
		if t.treeNew[i].idx == idx {
			return t.treeNew[i].hash, true
		}
	}
	h, ok := t.s.treeCache.byIdx[idx]
	return h, ok
}

// appendLeaf appends event seq's leaf (content hash c) to the tree, writing
// its hashes at once (the start-up backfill; the writer uses Tx.appendLeaf).
func appendLeaf(ctx context.Context, q *db.Queries, r tlog.HashReader, seq int64, c []byte) error {
	n := seq - 1
	hashes, err := tlog.StoredHashes(n, c, r)
	if err != nil {
		return fmt.Errorf("audit tree: leaf %d: %w", n, err)
	}
	base := tlog.StoredHashIndex(0, n)
	for i, h := range hashes {
		if err := q.InsertAuditTreeHash(ctx, db.InsertAuditTreeHashParams{ID: base + int64(i), Hash: h[:]}); err != nil {
			return fmt.Errorf("audit tree: store hash: %w", err)
		}
	}
	return nil
}

// appendLeaf appends the leaf of the event the transaction just wrote.
// The hashes it stores are kept in t.treeNew, where the transaction's reads
// of the tree find them, and written all at once by flushTree before the
// commit: one statement for many hashes instead of one for each. A
// savepoint rolled back drops its hashes from t.treeNew, so what is written
// is what the committed events need.
func (t *Tx) appendLeaf(seq int64, c []byte) error {
	n := seq - 1
	hashes, err := tlog.StoredHashes(n, c, treeHashes{t.ctx, t.q, t})
	if err != nil {
		return fmt.Errorf("audit tree: leaf %d: %w", n, err)
	}
	base := tlog.StoredHashIndex(0, n)
	for i, h := range hashes {
		t.treeNew = append(t.treeNew, storedHash{base + int64(i), h})
	}
	return nil
}

// treeChunks are the numbers of hashes one prepared insert writes; a
// transaction's hashes are written in chunks of these sizes, largest first.
var treeChunks = []int{64, 16, 4, 1}

// prepareTreeInserts prepares the writer's multi-row inserts of tree
// hashes. Without them (preparing failed), flushTree writes row by row.
func (s *Store) prepareTreeInserts() {
	stmts := make([]*sql.Stmt, len(treeChunks))
	for k, n := range treeChunks {
		q := "INSERT INTO audit_tree (id, hash) VALUES (?, ?)" + strings.Repeat(", (?, ?)", n-1)
		st, err := s.wdb.PrepareContext(context.Background(), q)
		if err != nil {
			s.log.Warn("store: prepare the audit tree insert; writing row by row", "err", err)
			for _, st := range stmts[:k] {
				st.Close()
			}
			return
		}
		stmts[k] = st
	}
	s.w.treeInsert = stmts
}

func (s *Store) closeTreeInserts() {
	for _, st := range s.w.treeInsert {
		st.Close()
	}
	s.w.treeInsert = nil
}

// flushTree writes the tree hashes the transaction stored.
func (t *Tx) flushTree() error {
	hs := t.treeNew
	stmts := t.s.w.treeInsert
	if stmts == nil {
		for _, h := range hs {
			if err := t.q.InsertAuditTreeHash(t.ctx, db.InsertAuditTreeHashParams{ID: h.idx, Hash: h.hash[:]}); err != nil {
				return fmt.Errorf("audit tree: store hash: %w", err)
			}
		}
		return nil
	}
	args := make([]any, 0, 2*treeChunks[0])
	for k, n := range treeChunks {
		for len(hs) >= n {
			args = args[:0]
			for i := range hs[:n] {
				args = append(args, hs[i].idx, hs[i].hash[:])
			}
			if _, err := t.tx.StmtContext(t.ctx, stmts[k]).ExecContext(t.ctx, args...); err != nil {
				return fmt.Errorf("audit tree: store hashes: %w", err)
			}
			hs = hs[n:]
		}
	}
	return nil
}

// backfillTree gives the events written before the tree existed a salt,
// a content hash and their leaves, in order, at start-up.
func backfillTree(ctx context.Context, d *sql.DB, q *db.Queries) error {
	for {
		tx, err := d.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		qt := q.WithTx(tx)
		rows, err := qt.AuditEventsToBackfill(ctx, 2000)
		records := map[int64][]string{}
		if err == nil && len(rows) > 0 {
			var recs []db.AuditRecordsBetweenRow
			recs, err = qt.AuditRecordsBetween(ctx, db.AuditRecordsBetweenParams{First: rows[0].Seq, Last: rows[len(rows)-1].Seq})
			for _, r := range recs {
				records[r.Seq] = append(records[r.Seq], r.RecordID)
			}
		}
		if err == nil {
			for _, r := range rows {
				e := eventOf(r, records[r.Seq])
				salt := audit.NewSalt()
				c := audit.ContentHash(salt, &e)
				if err = qt.SetAuditContentHash(ctx, db.SetAuditContentHashParams{Salt: salt, ContentHash: c, Seq: r.Seq}); err != nil {
					break
				}
				if err = appendLeaf(ctx, qt, treeHashes{ctx: ctx, q: qt}, r.Seq, c); err != nil {
					break
				}
			}
		}
		if err != nil {
			tx.Rollback()
			return fmt.Errorf("audit tree backfill: %w", err)
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
	}
}

// TreeSize is the number of leaves of the audit tree (the last sequence).
func (t *Tx) TreeSize() int64 { return t.headSeq }

// TreeRoot is the root of the audit tree at size n (n ≤ TreeSize).
func (t *Tx) TreeRoot(n int64) (tlog.Hash, error) {
	return tlog.TreeHash(n, treeHashes{t.ctx, t.q, t})
}

// ConsistencyProof proves the tree at size n extends the tree at size m.
func (t *Tx) ConsistencyProof(n, m int64) (tlog.TreeProof, error) {
	return tlog.ProveTree(n, m, treeHashes{t.ctx, t.q, t})
}

// StoredCheckpoint is one of this node's signed checkpoints.
type StoredCheckpoint struct {
	Size int64
	Root tlog.Hash
	Time time.Time
	Note []byte
}

func storedCheckpoint(size int64, root []byte, at int64, text []byte) StoredCheckpoint {
	c := StoredCheckpoint{Size: size, Time: time.UnixMicro(at).UTC(), Note: text}
	copy(c.Root[:], root)
	return c
}

// LatestCheckpoint is this node's newest checkpoint (ok false if none).
func (t *Tx) LatestCheckpoint() (cp StoredCheckpoint, ok bool, err error) {
	r, err := t.q.LatestAuditCheckpoint(t.ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return StoredCheckpoint{}, false, nil
	}
	if err != nil {
		return StoredCheckpoint{}, false, err
	}
	return storedCheckpoint(r.Size, r.Root, r.Time, r.Note), true, nil
}

// Checkpoint reads this node's checkpoint at a size (ok false if none).
func (t *Tx) Checkpoint(size int64) (cp StoredCheckpoint, ok bool, err error) {
	r, err := t.q.GetAuditCheckpoint(t.ctx, size)
	if errors.Is(err, sql.ErrNoRows) {
		return StoredCheckpoint{}, false, nil
	}
	if err != nil {
		return StoredCheckpoint{}, false, err
	}
	return storedCheckpoint(r.Size, r.Root, r.Time, r.Note), true, nil
}

// SetCheckpointNote replaces a checkpoint's note (the same checkpoint with
// a witness's cosignature added).
func (t *Tx) SetCheckpointNote(size int64, text []byte) error {
	return t.q.SetAuditCheckpointNote(t.ctx, db.SetAuditCheckpointNoteParams{Note: text, Size: size})
}

// MakeCheckpoint signs a checkpoint of the audit tree as it is now, if it
// grew since the last one; it returns the newest checkpoint either way
// (made false if none was needed).
func (s *Store) MakeCheckpoint(ctx context.Context, origin string, key note.Signer) (cp StoredCheckpoint, made bool, err error) {
	err = s.Write(ctx, func(tx *Tx) error {
		made = false
		last, ok, err := tx.LatestCheckpoint()
		if err != nil {
			return err
		}
		size := tx.TreeSize()
		if ok && last.Size == size {
			cp = last
			return nil
		}
		root, err := tx.TreeRoot(size)
		if err != nil {
			return err
		}
		text, err := audit.SignCheckpoint(origin, size, root, key)
		if err != nil {
			return err
		}
		cp = StoredCheckpoint{Size: size, Root: root, Time: tx.Now(), Note: text}
		made = true
		return tx.q.InsertAuditCheckpoint(tx.ctx, db.InsertAuditCheckpointParams{Size: size, Root: root[:], Time: cp.Time.UnixMicro(), Note: text})
	})
	return cp, made, err
}

// Evidence is what shows that an event is in the log (see
// liaisonv1.AuditEvidence).
type Evidence struct {
	Event       audit.Event
	Salt        []byte
	ContentHash []byte
	Erased      bool
	Proof       tlog.RecordProof
	Checkpoint  StoredCheckpoint
}

// AuditEvidence proves event seq against the newest checkpoint covering
// it that carries a cosignature, else the newest covering it.
func (s *Store) AuditEvidence(ctx context.Context, seq int64) (Evidence, error) {
	r, err := s.rq.GetAuditLeaf(ctx, seq)
	if errors.Is(err, sql.ErrNoRows) {
		return Evidence{}, errs.NotFoundf("there is no audit event %d", seq)
	}
	if err != nil {
		return Evidence{}, err
	}
	recs, err := s.rq.AuditRecordsBetween(ctx, db.AuditRecordsBetweenParams{First: seq, Last: seq})
	if err != nil {
		return Evidence{}, fmt.Errorf("records of audit event %d: %w", seq, err)
	}
	var ids []string
	for _, rec := range recs {
		ids = append(ids, rec.RecordID)
	}
	ev := Evidence{Event: eventOf(r, ids), Salt: r.Salt, ContentHash: r.ContentHash, Erased: r.EraseTime != 0}
	cps, err := s.rq.ListAuditCheckpoints(ctx)
	if err != nil {
		return Evidence{}, err
	}
	var best *db.AuditCheckpoint
	for i := len(cps) - 1; i >= 0; i-- {
		c := &cps[i]
		if c.Size < seq {
			break
		}
		if best == nil {
			best = c
		}
		if bytes.Count(c.Note, []byte("\n— ")) > 1 { // the log's signature and a cosignature
			best = c
			break
		}
	}
	if best == nil {
		return Evidence{}, errs.Precondition("audit.not_checkpointed", fmt.Sprintf("audit_events/%d", seq),
			"event %d is not yet covered by a checkpoint; one is signed every few seconds", seq)
	}
	ev.Checkpoint = storedCheckpoint(best.Size, best.Root, best.Time, best.Note)
	if ev.Proof, err = tlog.ProveRecord(best.Size, seq-1, treeHashes{ctx: ctx, q: s.rq}); err != nil {
		return Evidence{}, fmt.Errorf("inclusion proof of event %d: %w", seq, err)
	}
	return ev, nil
}

// EraseAuditContent erases the detail of events that carry personal data
// (audit.PersonalData) written before a time, and overwrites it in the
// database file; it returns how many events it erased.
func (s *Store) EraseAuditContent(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.Write(ctx, func(tx *Tx) error {
		n = 0
		for _, a := range audit.PersonalData {
			k, err := tx.q.EraseAuditContent(tx.ctx, db.EraseAuditContentParams{EraseTime: tx.Now().UnixMicro(), Action: a, Before: before.UnixMicro()})
			if err != nil {
				return fmt.Errorf("erase audit content: %w", err)
			}
			n += k
		}
		return nil
	})
	if err != nil || n == 0 {
		return n, err
	}
	// secure_delete zeroes the old content in the page; moving the pages
	// out of the write-ahead log and truncating it leaves no copy there.
	if _, err := s.wdb.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return n, fmt.Errorf("erase audit content: checkpoint the WAL: %w", err)
	}
	return n, nil
}

// AuditSize is the number of events in the audit log as last committed.
func (s *Store) AuditSize(ctx context.Context) (int64, error) {
	head, err := s.rq.GetAuditHead(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return head.Seq, err
}
