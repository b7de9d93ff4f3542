package audit

import (
	"bytes"
	"fmt"
	"sort"

	"golang.org/x/mod/sumdb/tlog"
)

// TreeCheck rebuilds the audit tree from the events themselves, in order,
// and checks it against checkpoints: it trusts nothing the database says
// about the tree, only the leaves it recomputes and the signatures on the
// checkpoints.
type TreeCheck struct {
	hashes map[int64]tlog.Hash
	size   int64
}

// NewTreeCheck starts at the empty tree.
func NewTreeCheck() *TreeCheck { return &TreeCheck{hashes: map[int64]tlog.Hash{}} }

// ReadHashes implements tlog.HashReader.
func (c *TreeCheck) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		h, ok := c.hashes[x]
		if !ok {
			return nil, fmt.Errorf("tree hash %d not computed", x)
		}
		out[i] = h
	}
	return out, nil
}

// Append adds the next leaf, of content hash content.
func (c *TreeCheck) Append(content []byte) error {
	hs, err := tlog.StoredHashes(c.size, content, c)
	if err != nil {
		return err
	}
	base := tlog.StoredHashIndex(0, c.size)
	for i, h := range hs {
		c.hashes[base+int64(i)] = h
	}
	c.size++
	return nil
}

// Size is the number of leaves appended.
func (c *TreeCheck) Size() int64 { return c.size }

// Root is the root at size n ≤ Size().
func (c *TreeCheck) Root(n int64) (tlog.Hash, error) { return tlog.TreeHash(n, c) }

// CheckpointResult is what checking the rebuilt tree against checkpoints
// found.
type CheckpointResult struct {
	// Checked is how many checkpoints matched.
	Checked int
	// Latest is the largest checkpoint that matched, and Witnessed the
	// largest that matched with at least one witness's cosignature.
	Latest, Witnessed *Checkpoint
	// FirstBad, if not 0, is the first leaf (event sequence) that cannot be
	// what a checkpoint committed to; Through the last event of the range
	// it lies in (FirstBad == Through when it is exact).
	FirstBad, Through int64
	Problem           string
}

// Against checks the rebuilt tree against checkpoints (any order). The
// first checkpoint, by size, that the tree does not match names where the
// log differs: a checkpoint past the end names the first missing event;
// a root that differs names the range after the last checkpoint that
// matched.
func (c *TreeCheck) Against(cps []*Checkpoint) CheckpointResult {
	sort.Slice(cps, func(i, j int) bool { return cps[i].Size < cps[j].Size })
	var r CheckpointResult
	var good int64
	for _, cp := range cps {
		if cp.Size > c.size {
			r.FirstBad, r.Through = c.size+1, cp.Size
			r.Problem = fmt.Sprintf("events %d to %d are missing: checkpoint %d%s covers them", c.size+1, cp.Size, cp.Size, witnessedBy(cp))
			return r
		}
		root, err := c.Root(cp.Size)
		if err != nil || !bytes.Equal(root[:], cp.Root[:]) {
			r.FirstBad, r.Through = good+1, cp.Size
			if good+1 == cp.Size {
				r.Problem = fmt.Sprintf("event %d is not the event checkpoint %d%s committed to", cp.Size, cp.Size, witnessedBy(cp))
			} else {
				r.Problem = fmt.Sprintf("an event from %d to %d is not what checkpoint %d%s committed to (checkpoint %d matched)", good+1, cp.Size, cp.Size, witnessedBy(cp), good)
			}
			return r
		}
		good = cp.Size
		r.Checked++
		r.Latest = cp
		if len(cp.Cosigners) > 0 {
			r.Witnessed = cp
		}
	}
	return r
}

func witnessedBy(cp *Checkpoint) string {
	if len(cp.Cosigners) == 0 {
		return ""
	}
	names := make([]string, 0, len(cp.Cosigners))
	for n := range cp.Cosigners {
		names = append(names, n)
	}
	sort.Strings(names)
	return fmt.Sprintf(" (cosigned by %v)", names)
}
