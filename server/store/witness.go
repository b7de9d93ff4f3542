package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/liaison-exchange/liaison/gen/db"
)

// Cross-witnessing (issue 12): as a witness, the latest checkpoint of each
// partner's log this node cosigned and the fork alarms; as a log, how far
// each partner has cosigned this node's log.

// Witnessed is the latest checkpoint of a partner's log this node cosigned.
type Witnessed struct {
	Partner string
	Size    int64
	Root    tlog.Hash
	// Note is the checkpoint as cosigned (the log's signature and this
	// node's cosignature).
	Note []byte
	Time time.Time
}

// WitnessedCheckpoint reads the latest checkpoint of partner's log this
// node cosigned (ok false if none).
func (t *Tx) WitnessedCheckpoint(partner string) (Witnessed, bool, error) {
	return witnessed(t.ctx, t.q, partner)
}

// WitnessedCheckpoint reads it outside a write.
func (s *Store) WitnessedCheckpoint(ctx context.Context, partner string) (Witnessed, bool, error) {
	return witnessed(ctx, s.rq, partner)
}

func witnessed(ctx context.Context, q *db.Queries, partner string) (Witnessed, bool, error) {
	r, err := q.GetWitnessedCheckpoint(ctx, partner)
	if errors.Is(err, sql.ErrNoRows) {
		return Witnessed{}, false, nil
	}
	if err != nil {
		return Witnessed{}, false, err
	}
	w := Witnessed{Partner: r.Partner, Size: r.Size, Note: r.Note, Time: time.UnixMicro(r.Time).UTC()}
	copy(w.Root[:], r.Root)
	return w, true, nil
}

// SetWitnessedCheckpoint records a checkpoint of partner's log this node
// has just cosigned.
func (t *Tx) SetWitnessedCheckpoint(w Witnessed) error {
	return t.q.SetWitnessedCheckpoint(t.ctx, db.SetWitnessedCheckpointParams{
		Partner: w.Partner, Size: w.Size, Root: w.Root[:], Note: w.Note, Time: t.now.UnixMicro(),
	})
}

// ForkAlarm is raised on a witness when a partner's log presented a
// checkpoint that cannot be consistent with the one it cosigned.
type ForkAlarm struct {
	Partner         string
	First, Last     time.Time
	Refusals        int64
	Reason          string
	WitnessedSize   int64
	FirstCheckpoint []byte
}

// ForkAlarm reads partner's fork alarm (ok false if none is raised).
func (t *Tx) ForkAlarm(partner string) (ForkAlarm, bool, error) {
	return forkAlarm(t.ctx, t.q, partner)
}

// ForkAlarm reads it outside a write.
func (s *Store) ForkAlarm(ctx context.Context, partner string) (ForkAlarm, bool, error) {
	return forkAlarm(ctx, s.rq, partner)
}

func forkAlarm(ctx context.Context, q *db.Queries, partner string) (ForkAlarm, bool, error) {
	r, err := q.GetForkAlarm(ctx, partner)
	if errors.Is(err, sql.ErrNoRows) {
		return ForkAlarm{}, false, nil
	}
	if err != nil {
		return ForkAlarm{}, false, err
	}
	return ForkAlarm{
		Partner: r.Partner, First: time.UnixMicro(r.FirstTime).UTC(), Last: time.UnixMicro(r.LastTime).UTC(),
		Refusals: r.Refusals, Reason: r.Reason, WitnessedSize: r.WitnessedSize, FirstCheckpoint: r.Checkpoint,
	}, true, nil
}

// RaiseForkAlarm raises partner's fork alarm, or counts one more refusal
// if it is raised already; raised reports whether it is new.
func (t *Tx) RaiseForkAlarm(partner, reason string, witnessedSize int64, checkpoint []byte) (raised bool, err error) {
	_, ok, err := t.ForkAlarm(partner)
	if err != nil {
		return false, err
	}
	now := t.now.UnixMicro()
	if ok {
		return false, t.q.RepeatForkAlarm(t.ctx, db.RepeatForkAlarmParams{LastTime: now, Partner: partner})
	}
	return true, t.q.InsertForkAlarm(t.ctx, db.InsertForkAlarmParams{
		Partner: partner, FirstTime: now, LastTime: now, Reason: reason, WitnessedSize: witnessedSize, Checkpoint: checkpoint,
	})
}

// AuditWitness is how far a partner has cosigned this node's log.
type AuditWitness struct {
	Partner   string
	Size      int64 // 0: never
	Time      time.Time
	LastError string
	ErrorTime time.Time
}

// AuditWitness reads how far partner has cosigned this node's log.
func (s *Store) AuditWitness(ctx context.Context, partner string) (AuditWitness, error) {
	r, err := s.rq.GetAuditWitness(ctx, partner)
	if errors.Is(err, sql.ErrNoRows) {
		return AuditWitness{Partner: partner}, nil
	}
	if err != nil {
		return AuditWitness{}, err
	}
	w := AuditWitness{Partner: r.Partner, Size: r.Size, LastError: r.LastError}
	if r.Time != 0 {
		w.Time = time.UnixMicro(r.Time).UTC()
	}
	if r.ErrorTime != 0 {
		w.ErrorTime = time.UnixMicro(r.ErrorTime).UTC()
	}
	return w, nil
}

// SetAuditWitnessed records that partner cosigned this node's log at size.
func (t *Tx) SetAuditWitnessed(partner string, size int64) error {
	return t.q.SetAuditWitnessed(t.ctx, db.SetAuditWitnessedParams{Partner: partner, Size: size, Time: t.now.UnixMicro()})
}

// SetAuditWitnessError records why partner's last cosignature request
// failed.
func (s *Store) SetAuditWitnessError(ctx context.Context, partner, msg string) error {
	return s.Write(ctx, func(t *Tx) error {
		return t.q.SetAuditWitnessError(t.ctx, db.SetAuditWitnessErrorParams{Partner: partner, LastError: msg, ErrorTime: t.now.UnixMicro()})
	})
}
