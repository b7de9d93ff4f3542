// Package audit defines the tamper-evident audit log: its events, their
// canonical encoding, the hash chain over them, and the record of an API
// call under way that the store turns into an event.
//
// hash(n) = SHA-256(hash(n-1) || canonical(event n)), hash(0) = 32 zero
// bytes. canonical(e) is the ASCII tag "liaison-audit-v1", then the sequence
// and the time (Unix microseconds) as 8-byte big-endian integers, then the
// agency, principal, role, action, resource, outcome, request id and detail,
// each as a 4-byte big-endian length followed by its UTF-8 bytes. Anyone can
// re-implement the check from this paragraph.
//
// An event of a call that returned several records (a list page, search
// hits, a batch of an export or of the change feed) also lists their ids,
// so that "who saw record X" is a query. The list is kept beside the event
// (the store's audit_records table); canonical(e) of such an event ends
// with one more length-prefixed field, the SHA-256 of the ids — sorted,
// de-duplicated, joined by newlines (RecordsDigest) — so a record id
// removed from or added to the list breaks the chain like an edited event.
// Events without records encode as they always did. Their detail ends
// with RecordsNote (the count and that digest) for the human reader.
package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Event is one entry of the audit log.
type Event struct {
	Seq       int64
	Time      time.Time
	Agency    string
	Principal string
	Role      string
	Action    string
	Resource  string
	Outcome   string
	RequestID string
	Detail    string
	Hash      []byte
	// Records are the ids of the records the call returned, when it
	// returned several, as UniqueIDs has them once stored.
	Records []string
}

// Genesis is the previous hash of the first event.
var Genesis = make([]byte, sha256.Size)

const tag = "liaison-audit-v1"

// Canonical is the encoding the hash is computed over.
func Canonical(e *Event) []byte {
	n := len(tag) + 16 + 8*4 + len(e.Agency) + len(e.Principal) + len(e.Role) + len(e.Action) +
		len(e.Resource) + len(e.Outcome) + len(e.RequestID) + len(e.Detail) + 4 + sha256.Size
	b := make([]byte, 0, n)
	b = append(b, tag...)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Seq))
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.UnixMicro()))
	for _, s := range []string{e.Agency, e.Principal, e.Role, e.Action, e.Resource, e.Outcome, e.RequestID, e.Detail} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	if len(e.Records) > 0 {
		b = binary.BigEndian.AppendUint32(b, sha256.Size)
		b = append(b, RecordsDigest(e.Records)...)
	}
	return b
}

// ChainHash is the hash of e given the hash of the event before it.
func ChainHash(prev []byte, e *Event) []byte {
	h := sha256.New()
	h.Write(prev)
	h.Write(Canonical(e))
	return h.Sum(nil)
}

// Result is the outcome of verifying a chain.
type Result struct {
	OK      bool
	Checked int64
	// FirstBad is the first sequence that does not verify (0 when OK).
	FirstBad int64
	Problem  string
	HeadSeq  int64
	HeadHash []byte
	// Tree: the checkpoints the rebuilt tree matched, the largest of them
	// and the largest a witness cosigned (0 if none), and the witnesses.
	Checkpoints  int
	CheckpointAt int64
	WitnessedAt  int64
	Witnesses    []string
	// Through is the last event of the range FirstBad lies in, when a
	// checkpoint says only that one event of a range differs.
	Through int64
}

// Verifier checks events fed to it in sequence order.
type Verifier struct {
	prev []byte
	next int64
	res  Result
}

// NewVerifier starts a verification at the first event.
func NewVerifier() *Verifier {
	return &Verifier{prev: Genesis, next: 1, res: Result{OK: true, HeadHash: Genesis}}
}

// Add checks the next stored event; it returns false once the chain is
// broken (later events are not checked).
func (v *Verifier) Add(e *Event) bool {
	if !v.res.OK {
		return false
	}
	switch {
	case e.Seq != v.next:
		v.fail(v.next, fmt.Sprintf("event %d is missing (next stored event is %d)", v.next, e.Seq))
	case !bytes.Equal(ChainHash(v.prev, e), e.Hash):
		v.fail(e.Seq, fmt.Sprintf("event %d does not match its hash: it was changed, or an earlier event was", e.Seq))
	default:
		v.prev, v.next = e.Hash, v.next+1
		v.res.Checked++
		v.res.HeadSeq, v.res.HeadHash = e.Seq, e.Hash
		return true
	}
	return false
}

// AddErased takes the next stored event whose content was erased: its
// chain hash cannot be recomputed and is taken as stored (the Merkle tree
// and the checkpoints still cover it through its content hash).
func (v *Verifier) AddErased(e *Event) bool {
	if !v.res.OK {
		return false
	}
	if e.Seq != v.next {
		v.fail(v.next, fmt.Sprintf("event %d is missing (next stored event is %d)", v.next, e.Seq))
		return false
	}
	v.prev, v.next = e.Hash, v.next+1
	v.res.Checked++
	v.res.HeadSeq, v.res.HeadHash = e.Seq, e.Hash
	return true
}

// Fail records a problem found outside the chain (first one wins).
func (v *Verifier) Fail(seq int64, problem string) {
	if v.res.OK {
		v.fail(seq, problem)
	}
}

// Finish checks the chain against the head the store recorded (the last
// sequence and hash it committed), which catches deleted trailing events.
func (v *Verifier) Finish(headSeq int64, headHash []byte) Result {
	if v.res.OK && (headSeq != v.res.HeadSeq || !bytes.Equal(headHash, v.res.HeadHash)) {
		if headSeq > v.res.HeadSeq {
			v.fail(v.res.HeadSeq+1, fmt.Sprintf("events %d to %d are missing", v.res.HeadSeq+1, headSeq))
		} else {
			v.fail(headSeq, fmt.Sprintf("the recorded head (event %d) does not match the chain", headSeq))
		}
	}
	return v.res
}

func (v *Verifier) fail(seq int64, problem string) {
	v.res.OK = false
	v.res.FirstBad = seq
	v.res.Problem = problem
}

// Call is the audit record of an API call under way. The interceptors
// create it; handlers name the resource they touched; the store appends it
// as an event in the same transaction as the call's changes (or, for reads
// and refused calls, on its own) before the reply is sent.
type Call struct {
	Agency    string
	Principal string
	Role      string
	Action    string
	RequestID string

	mu       sync.Mutex
	resource string
	detail   string
	records  []string
	recorded bool
}

// SetResource names what the call touched ("leads/<id>").
func (c *Call) SetResource(r string) {
	c.mu.Lock()
	c.resource = r
	c.mu.Unlock()
}

// SetDetail records further facts (a reason, the terms of a search).
func (c *Call) SetDetail(d string) {
	c.mu.Lock()
	c.detail = d
	c.mu.Unlock()
}

// SetRecords lists the ids of the records a bulk read returns (its page,
// its hits). Single-record reads need not: their resource names the record.
func (c *Call) SetRecords(ids []string) {
	c.mu.Lock()
	c.records = ids
	c.mu.Unlock()
}

// Event is the event recording this call with an outcome.
func (c *Call) Event(outcome string) Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Event{
		Agency: c.Agency, Principal: c.Principal, Role: c.Role, Action: c.Action,
		Resource: c.resource, Outcome: outcome, RequestID: c.RequestID, Detail: c.detail, Records: c.records,
	}
}

// Recorded says whether the call's event has been committed.
func (c *Call) Recorded() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.recorded
}

// SetRecorded marks the call's event as written (or, after a failed
// commit, as not written).
func (c *Call) SetRecorded(v bool) {
	c.mu.Lock()
	c.recorded = v
	c.mu.Unlock()
}

type ctxKey struct{}

// NewContext returns ctx carrying the call record.
func NewContext(ctx context.Context, c *Call) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}

// FromContext returns the call record, or nil outside an API call.
func FromContext(ctx context.Context) *Call {
	c, _ := ctx.Value(ctxKey{}).(*Call)
	return c
}

// SetResource names the resource of the call in ctx, if any.
func SetResource(ctx context.Context, r string) {
	if c := FromContext(ctx); c != nil {
		c.SetResource(r)
	}
}

// SetDetail sets the detail of the call in ctx, if any.
func SetDetail(ctx context.Context, d string) {
	if c := FromContext(ctx); c != nil {
		c.SetDetail(d)
	}
}

// SetRecords lists the records returned by the call in ctx, if any.
func SetRecords(ctx context.Context, ids []string) {
	if c := FromContext(ctx); c != nil {
		c.SetRecords(ids)
	}
}

// UniqueIDs is ids sorted, without duplicates or empty ids (ids is
// reordered in place).
func UniqueIDs(ids []string) []string {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) > 0 && ids[0] == "" {
		ids = ids[1:]
	}
	return ids
}

// RecordsDigest is the SHA-256 of ids (sorted and without duplicates, as
// UniqueIDs returns them) joined by newlines.
func RecordsDigest(ids []string) []byte {
	h := sha256.New()
	for i, id := range ids {
		if i > 0 {
			h.Write([]byte{'\n'})
		}
		h.Write([]byte(id))
	}
	return h.Sum(nil)
}

// RecordsNote is what the detail of an event that returned records ends
// with: "records=<n> sha256=<hex>" over the ids as UniqueIDs has them.
func RecordsNote(ids []string) string {
	return WithRecords("", UniqueIDs(slices.Clone(ids)))
}

// WithRecords is detail followed by the RecordsNote of ids, which must be
// as UniqueIDs returns them.
func WithRecords(detail string, ids []string) string {
	note := "records=" + strconv.Itoa(len(ids)) + " sha256=" + hex.EncodeToString(RecordsDigest(ids))
	if detail == "" {
		return note
	}
	return detail + " " + note
}

// SetRecordsOf lists the records a bulk read returns, by their ids, on the
// call in ctx.
func SetRecordsOf[R interface{ GetId() string }](ctx context.Context, records []R) {
	c := FromContext(ctx)
	if c == nil || len(records) == 0 {
		return
	}
	ids := make([]string, len(records))
	for i, r := range records {
		ids[i] = r.GetId()
	}
	c.SetRecords(ids)
}
