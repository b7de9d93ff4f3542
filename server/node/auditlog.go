package node

import (
	"fmt"
	"log/slog"
	"time"

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

// auditContentRetention is how long the detail of audit events that carry
// personal data is kept before it is erased: three years, the logging
// period the agencies' data-protection rules ask for.
const auditContentRetention = 3 * 365 * 24 * time.Hour
