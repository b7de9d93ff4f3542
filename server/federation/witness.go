package federation

import (
	"context"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/identity"
	"github.com/liaison-exchange/liaison/server/store"
)

// This node as the witness of its partners' audit logs (issue 12). A
// partner's checkpoint is cosigned only if it verifies with the partner's
// log key from this node's own configuration and is consistent with the
// last checkpoint of that log this node cosigned. The first checkpoint is
// taken on trust (there is nothing to be consistent with); from then on
// the log can only grow. Anything else — a smaller tree, the same size
// with another root, a consistency proof that fails, a bad signature — is
// a fork alarm: stored, audited, counted, shown in the status, and never
// cleared by the node. The witnessed checkpoint does not move while the
// log presents checkpoints inconsistent with it.

// WitnessOptions make a node the witness of its partners' logs.
type WitnessOptions struct {
	// SignerKey is this node's log key (a signed-note private key), with
	// which it cosigns; empty: it witnesses nothing.
	SignerKey string
	// StopOnFork refuses a partner's channel while a fork alarm is raised
	// on its log.
	StopOnFork bool
}

// witnessedLog is a partner's log as this node witnesses it.
type witnessedLog struct {
	origin, vkey string
}

// Cosign implements liaisonv1.FederationServiceServer.
func (r *Receiver) Cosign(ctx context.Context, req *liaisonv1.CosignRequest) (*liaisonv1.CosignResponse, error) {
	caller, _ := identity.FromContext(ctx)
	partner := caller.Agency
	resource := "witness/" + partner
	audit.SetResource(ctx, resource)
	lg, ok := r.logs[partner]
	if !ok || r.witness.SignerKey == "" {
		return nil, errs.Precondition("witness.not_configured", resource,
			"%s does not witness %s's audit log (it needs its own audit.log_key and %s's partners[].log_key)", r.own, partner, partner)
	}
	var (
		resp    *liaisonv1.CosignResponse
		refusal error
	)
	err := r.store.Write(ctx, func(tx *store.Tx) error {
		resp, refusal = nil, nil
		w, have, err := tx.WitnessedCheckpoint(partner)
		if err != nil {
			return err
		}
		cp, reason, retry := checkAgainstWitnessed(req, lg, w, have)
		if retry {
			resp = &liaisonv1.CosignResponse{WitnessedSize: w.Size}
			return nil
		}
		if reason != "" {
			refusal, err = r.forkAlarm(ctx, tx, partner, reason, w.Size, req.GetCheckpoint())
			return err
		}
		cosigned, err := audit.Cosign(req.GetCheckpoint(), r.witness.SignerKey)
		if err != nil {
			return err
		}
		if err := tx.SetWitnessedCheckpoint(store.Witnessed{Partner: partner, Size: cp.Size, Root: cp.Root, Note: cosigned}); err != nil {
			return err
		}
		resp = &liaisonv1.CosignResponse{Cosigned: cosigned, WitnessedSize: cp.Size}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if refusal != nil {
		return nil, refusal
	}
	return resp, nil
}

// checkAgainstWitnessed opens the checkpoint and says why it cannot be
// cosigned (a fork alarm), or that the proof does not start where this
// node stands (retry: not an alarm, the log may have lost track of what
// was cosigned), or neither (cosign cp).
func checkAgainstWitnessed(req *liaisonv1.CosignRequest, lg witnessedLog, w store.Witnessed, have bool) (cp *audit.Checkpoint, reason string, retry bool) {
	cp, err := audit.OpenCheckpoint(req.GetCheckpoint(), lg.origin, audit.Keys{Log: lg.vkey})
	switch {
	case err != nil:
		return nil, fmt.Sprintf("a checkpoint that does not verify with the log's key: %v", err), false
	case !have:
		return cp, "", false
	case cp.Size < w.Size:
		return cp, fmt.Sprintf("checkpoint of %d events, fewer than the %d already witnessed: the log was truncated or rolled back", cp.Size, w.Size), false
	case cp.Size == w.Size && cp.Root != w.Root:
		return cp, fmt.Sprintf("checkpoint of %d events with root %x, but the witnessed checkpoint of the same size has root %x: the log was rewritten or forked", cp.Size, cp.Root[:8], w.Root[:8]), false
	case cp.Size == w.Size:
		return cp, "", false
	case req.GetOldSize() != w.Size:
		return cp, "", true
	}
	proof := make(tlog.TreeProof, len(req.GetProof()))
	for i, h := range req.GetProof() {
		copy(proof[i][:], h)
	}
	if err := tlog.CheckTree(proof, cp.Size, cp.Root, w.Size, w.Root); err != nil {
		return cp, fmt.Sprintf("checkpoint of %d events is not consistent with the witnessed checkpoint of %d events (%v): the log was rewritten or forked", cp.Size, w.Size, err), false
	}
	return cp, "", false
}

// forkAlarm raises (or repeats) the fork alarm on partner's log in tx and
// returns the refusal the caller gets.
func (r *Receiver) forkAlarm(ctx context.Context, tx *store.Tx, partner, reason string, witnessedSize int64, checkpoint []byte) (error, error) {
	raised, err := tx.RaiseForkAlarm(partner, reason, witnessedSize, checkpoint)
	if err != nil {
		return nil, err
	}
	a, _, err := tx.ForkAlarm(partner)
	if err != nil {
		return nil, err
	}
	if raised {
		call := audit.FromContext(ctx)
		r.log.Error("FORK ALARM: a partner's audit log is inconsistent with the checkpoint this node witnessed", "partner", partner, "reason", reason, "witnessed_size", witnessedSize)
		if err := tx.Audit(&audit.Event{
			Agency: partner, Principal: call.Principal, Role: call.Role, RequestID: call.RequestID,
			Action: "audit.fork_alarm", Resource: "witness/" + partner, Outcome: "FORK_ALARM",
			Detail: fmt.Sprintf("fork alarm on %s's audit log: %s", partner, reason),
		}); err != nil {
			return nil, err
		}
	}
	this := ""
	if !raised {
		this = "; this checkpoint: " + reason
	}
	return errs.Precondition("audit.fork_alarm", "witness/"+partner,
		"%s refuses to cosign: fork alarm on %s's audit log since %s: %s%s",
		r.own, partner, a.First.Format("2006-01-02T15:04:05Z"), a.Reason, this), nil
}

// refuseOnFork is the refusal of a partner's channel while a fork alarm
// is raised on its log and the configuration says to stop (nil otherwise).
func (r *Receiver) refuseOnFork(ctx context.Context, partner string) error {
	if !r.witness.StopOnFork {
		return nil
	}
	a, ok, err := r.store.ForkAlarm(ctx, partner)
	if err != nil || !ok {
		return err
	}
	return errs.Precondition("audit.fork_alarm", "channels/"+partner,
		"%s refuses %s's channel (federation.stop_on_fork): fork alarm on %s's audit log since %s: %s",
		r.own, partner, partner, a.First.Format("2006-01-02T15:04:05Z"), a.Reason)
}

// GetWitnessedCheckpoint implements liaisonv1.FederationServiceServer.
func (r *Receiver) GetWitnessedCheckpoint(ctx context.Context, _ *liaisonv1.GetWitnessedCheckpointRequest) (*liaisonv1.GetWitnessedCheckpointResponse, error) {
	caller, _ := identity.FromContext(ctx)
	audit.SetResource(ctx, "witness/"+caller.Agency)
	w, ok, err := r.store.WitnessedCheckpoint(ctx, caller.Agency)
	if err != nil || !ok {
		return &liaisonv1.GetWitnessedCheckpointResponse{}, err
	}
	return &liaisonv1.GetWitnessedCheckpointResponse{Checkpoint: w.Note, Size: w.Size, WitnessTime: ts(w.Time)}, nil
}

// FetchWitnessedCheckpoint implements liaisonv1.FederationAdminServiceServer.
func (a *Admin) FetchWitnessedCheckpoint(ctx context.Context, req *liaisonv1.FetchWitnessedCheckpointRequest) (*liaisonv1.FetchWitnessedCheckpointResponse, error) {
	audit.SetResource(ctx, "witness/"+req.GetPartner())
	r, ok := a.relays[req.GetPartner()]
	if !ok {
		return nil, errs.NotFoundf("%s is not a partner", req.GetPartner())
	}
	resp, err := r.Client().GetWitnessedCheckpoint(ctx, &liaisonv1.GetWitnessedCheckpointRequest{})
	if err != nil {
		return nil, errs.New(errs.Unavailable, "%v", describe("ask "+req.GetPartner(), err))
	}
	return &liaisonv1.FetchWitnessedCheckpointResponse{Checkpoint: resp.GetCheckpoint(), Size: resp.GetSize(), WitnessTime: resp.GetWitnessTime()}, nil
}

// witnessStatus is the cross-witnessing with partner, for the status.
func (a *Admin) witnessStatus(ctx context.Context, partner string) (*liaisonv1.WitnessStatus, error) {
	ws := &liaisonv1.WitnessStatus{}
	w, ok, err := a.store.WitnessedCheckpoint(ctx, partner)
	if err != nil {
		return nil, err
	}
	if ok {
		ws.WitnessedSize, ws.WitnessedTime = w.Size, ts(w.Time)
	}
	fa, ok, err := a.store.ForkAlarm(ctx, partner)
	if err != nil {
		return nil, err
	}
	if ok {
		ws.ForkAlarm, ws.ForkAlarmReason, ws.ForkAlarmTime = true, fa.Reason, ts(fa.First)
		ws.ForkAlarmRefusals, ws.ForkAlarmLastTime = fa.Refusals, ts(fa.Last)
	}
	aw, err := a.store.AuditWitness(ctx, partner)
	if err != nil {
		return nil, err
	}
	ws.CosignedSize, ws.CosignedTime, ws.CosignError = aw.Size, ts(aw.Time), aw.LastError
	return ws, nil
}
