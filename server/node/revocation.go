package node

import (
	"github.com/liaison-exchange/liaison/server/config"
	"github.com/liaison-exchange/liaison/server/mtls"
)

// ReloadRevocations applies the revocation list of a freshly loaded config
// (SIGHUP): new handshakes and calls are checked against it at once, and
// open streams of a certificate it now names are closed.
func (n *Node) ReloadRevocations(cfg *config.Config) error {
	return n.Material.SetRevoked(revocations(cfg.TLS))
}

func revocations(t config.TLS) []mtls.Revoked {
	out := make([]mtls.Revoked, 0, len(t.Revoked))
	for _, r := range t.Revoked {
		out = append(out, mtls.Revoked{Agency: r.Agency, Serial: r.Serial})
	}
	return out
}
