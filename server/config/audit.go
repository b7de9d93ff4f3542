package config

import (
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// LogSignerKey reads the node's log key (empty if none is configured).
func (c *Config) LogSignerKey() (string, error) {
	if c.Audit.LogKey == "" {
		return "", nil
	}
	return readKey(c.Audit.LogKey)
}

// LogVerifierKey reads a partner's log verifier key (empty if none is
// configured).
func (p Partner) LogVerifierKey() (string, error) {
	if p.LogKey == "" {
		return "", nil
	}
	return readKey(p.LogKey)
}

func readKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func (c *Config) setAuditDefaults() {
	if c.Audit.CheckpointInterval.Duration == 0 {
		c.Audit.CheckpointInterval.Duration = 5 * time.Second
	}
}

// validateAudit checks the log keys: each must parse and be named after
// the trust domain of the node it belongs to.
func (c *Config) validateAudit(bad func(key, format string, args ...any)) {
	if d := c.Audit.CheckpointInterval.Duration; d < time.Second || d > time.Hour {
		bad("audit.checkpoint_interval", "must be 1s..1h, got %v", d)
	}
	if c.Audit.LogKey != "" {
		if k, err := c.LogSignerKey(); err != nil {
			bad("audit.log_key", "%v", err)
		} else if s, err := note.NewSigner(k); err != nil {
			bad("audit.log_key", "not a signed-note private key (PRIVATE+KEY+…): %v", err)
		} else if s.Name() != c.TrustDomain {
			bad("audit.log_key", "the key is named %q; it must be named after the trust domain %q", s.Name(), c.TrustDomain)
		}
	}
	for i, p := range c.Partners {
		if p.LogKey == "" {
			continue
		}
		key := fmt.Sprintf("partners[%d].log_key", i)
		if k, err := p.LogVerifierKey(); err != nil {
			bad(key, "%v", err)
		} else if v, err := note.NewVerifier(k); err != nil {
			bad(key, "not a signed-note verifier key: %v", err)
		} else if v.Name() != p.TrustDomain {
			bad(key, "the key is named %q; it must be named after %s's trust domain %q", v.Name(), p.Agency, p.TrustDomain)
		}
	}
}
