package auditsvc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/errs"
)

// ProveAuditEvent implements liaisonv1.AuditServiceServer.
func (s *Server) ProveAuditEvent(ctx context.Context, req *liaisonv1.ProveAuditEventRequest) (*liaisonv1.ProveAuditEventResponse, error) {
	audit.SetResource(ctx, fmt.Sprintf("audit_events/%d", req.GetSequence()))
	ev, err := s.store.AuditEvidence(ctx, req.GetSequence())
	if errs.CodeOf(err) == errs.FailedPrecondition && s.log != nil && s.log.VerifierKey() != "" {
		// No checkpoint covers the event yet: sign one now rather than make
		// the auditor wait for the next.
		if _, err := s.log.Checkpoint(ctx); err != nil {
			return nil, err
		}
		ev, err = s.store.AuditEvidence(ctx, req.GetSequence())
	}
	if err != nil {
		return nil, err
	}
	e := ToProto(&ev.Event)
	out := &liaisonv1.AuditEvidence{
		Event: e, TimeMicros: ev.Event.Time.UnixMicro(), Salt: ev.Salt, ContentHash: ev.ContentHash, Erased: ev.Erased,
		LeafIndex: ev.Event.Seq - 1, Checkpoint: ev.Checkpoint.Note, RecordIds: ev.Event.Records,
	}
	for _, h := range ev.Proof {
		out.InclusionProof = append(out.InclusionProof, h[:])
	}
	return &liaisonv1.ProveAuditEventResponse{Evidence: out}, nil
}

// Proven is what a piece of evidence shows.
type Proven struct {
	Event      *liaisonv1.AuditEvent
	Erased     bool
	Checkpoint *audit.Checkpoint
}

func (p Proven) String() string {
	e := p.Event
	var b strings.Builder
	fmt.Fprintf(&b, "event %d of %s, %s: %s (%s, agency %s) called %s", e.GetSequence(), p.Checkpoint.Origin,
		e.GetTime().AsTime().UTC().Format(time.RFC3339Nano), e.GetPrincipal(), e.GetRole(), e.GetAgency(), e.GetAction())
	if p.Erased {
		b.WriteString("; its detail was erased at the end of its retention period")
	} else {
		fmt.Fprintf(&b, " on %q, outcome %s", e.GetResource(), e.GetOutcome())
		if e.GetDetail() != "" {
			fmt.Fprintf(&b, " (%s)", e.GetDetail())
		}
	}
	fmt.Fprintf(&b, "\nincluded in the log at checkpoint %d, root %x", p.Checkpoint.Size, p.Checkpoint.Root[:8])
	for name, at := range p.Checkpoint.Cosigners {
		fmt.Fprintf(&b, "\ncosigned by %s at %s", name, at.UTC().Format(time.RFC3339))
	}
	return b.String()
}

// CheckEvidence verifies evidence offline: the checkpoint's signature with
// the log's key, a cosignature by every witness key given, the event
// against its leaf (unless erased), and the leaf's inclusion in the
// checkpoint's tree. The log's origin is its key's name + "/audit".
func CheckEvidence(ev *liaisonv1.AuditEvidence, k audit.Keys) (Proven, error) {
	v, err := note.NewVerifier(k.Log)
	if err != nil {
		return Proven{}, fmt.Errorf("log key: %w", err)
	}
	cp, err := audit.OpenCheckpoint(ev.GetCheckpoint(), v.Name()+"/audit", k)
	if err != nil {
		return Proven{}, err
	}
	for _, w := range k.Witnesses {
		if _, ok := cp.Cosigners[audit.KeyName(w)]; !ok {
			return Proven{}, fmt.Errorf("the checkpoint carries no valid cosignature of witness %s", audit.KeyName(w))
		}
	}
	e := ev.GetEvent()
	if ev.GetLeafIndex() != e.GetSequence()-1 || ev.GetLeafIndex() < 0 || ev.GetLeafIndex() >= cp.Size {
		return Proven{}, fmt.Errorf("event %d is not leaf %d of a tree of %d", e.GetSequence(), ev.GetLeafIndex(), cp.Size)
	}
	content := ev.GetContentHash()
	if !ev.GetErased() {
		at := time.UnixMicro(ev.GetTimeMicros())
		if e.GetTime() != nil && !e.GetTime().AsTime().Equal(at) {
			return Proven{}, errors.New("the event's time and time_micros differ")
		}
		ae := audit.Event{Seq: e.GetSequence(), Time: at, Agency: e.GetAgency(), Principal: e.GetPrincipal(), Role: e.GetRole(),
			Action: e.GetAction(), Resource: e.GetResource(), Outcome: e.GetOutcome(), RequestID: e.GetRequestId(), Detail: e.GetDetail(),
			Records: ev.GetRecordIds()}
		content = audit.ContentHash(ev.GetSalt(), &ae)
	}
	proof := make(tlog.RecordProof, len(ev.GetInclusionProof()))
	for i, h := range ev.GetInclusionProof() {
		if len(h) != tlog.HashSize {
			return Proven{}, errors.New("inclusion proof: a hash is not 32 bytes")
		}
		copy(proof[i][:], h)
	}
	if err := tlog.CheckRecord(proof, cp.Size, cp.Root, ev.GetLeafIndex(), audit.LeafHash(content)); err != nil {
		return Proven{}, fmt.Errorf("the event is not the one the log committed to at leaf %d: %w", ev.GetLeafIndex(), err)
	}
	shown := e
	if e.GetTime() == nil {
		shown.Time = timestamppb.New(time.UnixMicro(ev.GetTimeMicros()))
	}
	return Proven{Event: shown, Erased: ev.GetErased(), Checkpoint: cp}, nil
}
