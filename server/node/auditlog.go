package node

import (
	"fmt"
	"log/slog"

	"github.com/liaison-exchange/liaison/server/config"
	"github.com/liaison-exchange/liaison/server/store"
	"github.com/liaison-exchange/liaison/server/transparency"
)

// NewAuditLog prepares the audit log's checkpoints from the configuration:
// the node's log key, and the partners whose cosignatures count.
func NewAuditLog(cfg *config.Config, s *store.Store, log *slog.Logger) (*transparency.Log, error) {
	skey, err := cfg.LogSignerKey()
	if err != nil {
		return nil, fmt.Errorf("audit.log_key: %w", err)
	}
	o := transparency.Options{TrustDomain: cfg.TrustDomain, SignerKey: skey, Store: s, Interval: cfg.Audit.CheckpointInterval.Duration, Log: log}
	for _, p := range cfg.Partners {
		vkey, err := p.LogVerifierKey()
		if err != nil {
			return nil, fmt.Errorf("partner %s log_key: %w", p.Agency, err)
		}
		if vkey != "" {
			o.Witnesses = append(o.Witnesses, transparency.Witness{Agency: p.Agency, VKey: vkey})
		}
	}
	return transparency.New(o)
}
