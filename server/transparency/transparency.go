// Package transparency keeps a node's audit log verifiable from outside
// the node: it signs checkpoints of the log's Merkle tree (C2SP
// tlog-checkpoint, signed note) while events are appended, and says what a
// verification checks them with (the node's own key and its partners'
// witness keys).
package transparency

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/store"
)

// Witness is a partner whose cosignatures of this node's checkpoints
// count, by its verifier key.
type Witness struct {
	Agency string
	VKey   string
}

// Options configure a node's log.
type Options struct {
	// TrustDomain names the log: its origin is "<trust domain>/audit".
	TrustDomain string
	// SignerKey is the node's log key (C2SP signed-note private key); empty:
	// no checkpoints.
	SignerKey string
	Witnesses []Witness
	Store     *store.Store
	Interval  time.Duration
	Log       *slog.Logger
}

// Log is a node's own audit log, as checkpoints see it.
type Log struct {
	o      Options
	origin string
	signer note.Signer
	vkey   string

	clients map[string]liaisonv1.FederationServiceClient // the witnesses'
	mu      sync.Mutex
	lastErr map[string]string // per witness, the last failure logged
}

// New prepares the log; it signs nothing until Run.
func New(o Options) (*Log, error) {
	l := &Log{o: o, origin: audit.Origin(o.TrustDomain), lastErr: map[string]string{}}
	if o.SignerKey == "" {
		return l, nil
	}
	s, err := note.NewSigner(o.SignerKey)
	if err != nil {
		return nil, fmt.Errorf("audit log key: %w", err)
	}
	l.signer = s
	l.vkey, err = vkeyOf(o.SignerKey)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// vkeyOf derives the verifier key of a signed-note private key.
func vkeyOf(skey string) (string, error) {
	v, err := audit.VerifierKey(skey)
	if err != nil {
		return "", fmt.Errorf("audit log key: %w", err)
	}
	return v, nil
}

// Origin is the log's origin line.
func (l *Log) Origin() string { return l.origin }

// VerifierKey is the public half of the log key ("" without one).
func (l *Log) VerifierKey() string { return l.vkey }

// Keys are the keys the log's checkpoints are checked with.
func (l *Log) Keys() audit.Keys {
	k := audit.Keys{Log: l.vkey}
	for _, w := range l.o.Witnesses {
		k.Witnesses = append(k.Witnesses, w.VKey)
	}
	return k
}

// VerifyOptions are what a verification of the log checks it against.
func (l *Log) VerifyOptions() store.VerifyOptions {
	return store.VerifyOptions{Origin: l.origin, Keys: l.Keys()}
}

// Checkpoint signs a checkpoint now if the log grew since the last one
// and returns the newest.
func (l *Log) Checkpoint(ctx context.Context) (store.StoredCheckpoint, error) {
	if l.signer == nil {
		return store.StoredCheckpoint{}, fmt.Errorf("no audit log key configured (audit.log_key)")
	}
	cp, _, err := l.o.Store.MakeCheckpoint(ctx, l.origin, l.signer)
	return cp, err
}

// Run signs a checkpoint every interval while events are appended, and
// has each witness cosign the newest, until ctx is done.
func (l *Log) Run(ctx context.Context) {
	if l.signer == nil {
		l.o.Log.Warn("no audit log key (audit.log_key): the audit log is not checkpointed and no partner can witness it")
		return
	}
	t := time.NewTicker(l.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cp, err := l.Checkpoint(ctx)
		if err != nil {
			if ctx.Err() == nil {
				l.o.Log.Error("audit checkpoint", "err", err)
			}
			continue
		}
		l.askWitnesses(ctx, cp)
	}
}
