package e2e

import (
	"strings"
	"testing"

	"github.com/liaison-exchange/liaison/certs"
	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/config"
)

// TestHygiene_RevokedSignerRefused: a batch signed with a key whose
// certificate is revoked is refused, although the channel it arrives on
// was opened with a valid (new) node certificate — a stolen old key must
// not be able to sign envelopes.
func TestHygiene_RevokedSignerRefused(t *testing.T) {
	t.Parallel()
	s := secStartAlpha(t)
	old := s.nodeKey(t, "bravo")
	oldSerial := hygSerial(t, s.pki.Path("bravo", "node.crt"))
	s.pki.Issue(t, "bravo", "node2", certs.LeafOptions{URI: certs.NodeID("bravo"), Server: true})
	cfg := *s.node.Cfg
	cfg.TLS.Revoked = []config.Revoked{{Agency: "bravo", Serial: oldSerial}}
	if err := s.node.ReloadRevocations(&cfg); err != nil {
		t.Fatal(err)
	}
	ch, err := s.open(t, "bravo", "node2", &liaisonv1.Hello{Sender: "bravo", Receiver: "alpha"})
	if err != nil {
		t.Fatalf("open channel with bravo's new node certificate: %v", err)
	}
	env := secLeadEnvelope(t, 1, secLead("signed with a revoked key"))
	rc, _ := ch.one(t, secSign(t, old, "bravo", "alpha", secMarshal(t, env)))
	secExpect(t, rc, env, liaisonv1.ReceiptStatus_RECEIPT_STATUS_REFUSED, "envelope.bad_signature")
	if !strings.Contains(rc.GetReason(), "revoked") {
		t.Errorf("refused because %q; want it to say the signer is revoked", rc.GetReason())
	}
	s.assertNothingApplied(t, env, 0)

	// The new key signs, and is applied.
	good := secLeadEnvelope(t, 1, secLead("signed with the new key"))
	k := secLoadKey(t, s.pki.Path("bravo", "node2.crt"), s.pki.Path("bravo", "node2.key"))
	rc, _ = ch.one(t, secSign(t, k, "bravo", "alpha", secMarshal(t, good)))
	secExpect(t, rc, good, liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED, "")
}
