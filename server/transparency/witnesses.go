package transparency

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/status"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/store"
)

// The log's side of cross-witnessing (issue 12): after each checkpoint,
// every partner that witnesses this log is sent the newest checkpoint and
// a consistency proof from the last size it cosigned; its cosignature is
// merged into the stored checkpoint, and how far it cosigned is kept. A
// witness that stands elsewhere (this node lost track, e.g. a restored
// database) answers with its own size and is asked again from there. This
// side never decides anything: a log that was truncated or rewritten is
// sent as it is, and it is the witness that raises the alarm.

// CosignTimeout bounds one cosignature request.
const CosignTimeout = 5 * time.Second

// IdleCosignInterval is how often a log that grew by one event only since
// a witness's last cosignature asks that witness again. Every call is
// audited, so each request for a cosignature appends an event to the
// witness's log, which the witness then has the log cosign, which appends
// one to the log's: asked at every checkpoint, two idle nodes would keep
// each other's logs growing by one event per interval forever (about
// 17,000 events a day per partner at 5s). Any other growth is sent at the
// next checkpoint.
const IdleCosignInterval = time.Minute

// SetClients gives the log its witnesses' FederationService (the relays'
// connections); witnesses without one are not asked.
func (l *Log) SetClients(client func(agency string) liaisonv1.FederationServiceClient) {
	l.clients = map[string]liaisonv1.FederationServiceClient{}
	for _, w := range l.o.Witnesses {
		if c := client(w.Agency); c != nil {
			l.clients[w.Agency] = c
		}
	}
}

// askWitnesses asks every witness, concurrently, to cosign cp.
func (l *Log) askWitnesses(ctx context.Context, cp store.StoredCheckpoint) {
	done := make(chan struct{}, len(l.o.Witnesses))
	n := 0
	for _, w := range l.o.Witnesses {
		c, ok := l.clients[w.Agency]
		if !ok {
			continue
		}
		n++
		go func() {
			defer func() { done <- struct{}{} }()
			err := l.AskWitness(ctx, w, c, cp)
			l.noteWitnessError(ctx, w.Agency, err)
		}()
	}
	for range n {
		<-done
	}
}

// noteWitnessError logs a witness's failure when it changes.
func (l *Log) noteWitnessError(ctx context.Context, agency string, err error) {
	if ctx.Err() != nil {
		return
	}
	l.mu.Lock()
	prev := l.lastErr[agency]
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	l.lastErr[agency] = msg
	l.mu.Unlock()
	if msg != "" && msg != prev {
		l.o.Log.Warn("partner did not cosign the audit log's checkpoint", "partner", agency, "err", msg)
	}
}

// AskWitness asks w to cosign cp, and stores its cosignature.
func (l *Log) AskWitness(ctx context.Context, w Witness, c liaisonv1.FederationServiceClient, cp store.StoredCheckpoint) error {
	s := l.o.Store
	aw, err := s.AuditWitness(ctx, w.Agency)
	if err != nil {
		return err
	}
	if aw.Size == cp.Size && !aw.Time.IsZero() {
		return nil // cosigned already
	}
	if aw.Size > 0 && cp.Size == aw.Size+1 && time.Since(aw.Time) < IdleCosignInterval {
		return nil // idle: the one event is most likely the witness's own request
	}
	old := aw.Size
	for range 2 {
		var proof [][]byte
		if old > 0 && old < cp.Size {
			if err := s.Write(ctx, func(tx *store.Tx) error {
				p, err := tx.ConsistencyProof(cp.Size, old)
				proof = make([][]byte, len(p))
				for i := range p {
					proof[i] = p[i][:]
				}
				return err
			}); err != nil {
				return fmt.Errorf("consistency proof from %d to %d: %w", old, cp.Size, err)
			}
		}
		cctx, cancel := context.WithTimeout(ctx, CosignTimeout)
		resp, err := c.Cosign(cctx, &liaisonv1.CosignRequest{Checkpoint: cp.Note, OldSize: old, Proof: proof})
		cancel()
		if err != nil {
			msg := err.Error()
			if st, ok := status.FromError(err); ok {
				msg = fmt.Sprintf("%s: %s", st.Code(), st.Message())
			}
			if ctx.Err() == nil {
				_ = s.SetAuditWitnessError(context.WithoutCancel(ctx), w.Agency, msg)
			}
			return errors.New(msg)
		}
		if len(resp.GetCosigned()) == 0 {
			if resp.GetWitnessedSize() == old {
				return l.witnessError(ctx, w.Agency, fmt.Sprintf("%s returned no cosignature and no other size to prove from", w.Agency))
			}
			old = resp.GetWitnessedSize()
			continue
		}
		got, err := audit.OpenCheckpoint(resp.GetCosigned(), l.origin, audit.Keys{Log: l.vkey, Witnesses: []string{w.VKey}})
		if err != nil || got.Size != cp.Size || got.Root != cp.Root || len(got.Cosigners) == 0 {
			return l.witnessError(ctx, w.Agency, fmt.Sprintf("%s's answer does not carry its valid cosignature of checkpoint %d", w.Agency, cp.Size))
		}
		return s.Write(ctx, func(tx *store.Tx) error {
			cur, ok, err := tx.Checkpoint(cp.Size)
			if err != nil {
				return err
			}
			if ok {
				merged, err := audit.MergeSignatures(cur.Note, resp.GetCosigned())
				if err != nil {
					return err
				}
				if err := tx.SetCheckpointNote(cp.Size, merged); err != nil {
					return err
				}
			}
			return tx.SetAuditWitnessed(w.Agency, cp.Size)
		})
	}
	return l.witnessError(ctx, w.Agency, fmt.Sprintf("%s keeps asking for a proof from another size", w.Agency))
}

func (l *Log) witnessError(ctx context.Context, agency, msg string) error {
	_ = l.o.Store.SetAuditWitnessError(context.WithoutCancel(ctx), agency, msg)
	return errors.New(msg)
}
