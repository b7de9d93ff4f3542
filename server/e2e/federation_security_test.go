package e2e

import (
	"context"
	"crypto"
	"crypto/tls"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/liaison-exchange/liaison/certs"
	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/federation"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// These tests play a malicious or buggy bravo: they dial alpha's
// FederationService with bravo's node certificate and send hand-built,
// hand-signed batches. Alpha runs alone; its partner bravo's address
// points at a closed port, so no real bravo interferes.

// secNode is alpha, with what a test needs to talk to it and check it.
type secNode struct {
	pki     *nodetest.PKI
	node    *nodetest.Node
	leads   liaisonv1.LeadServiceClient
	auditor liaisonv1.AuditServiceClient
	permSup liaisonv1.PermissionServiceClient
}

func secStartAlpha(t *testing.T) *secNode {
	t.Helper()
	pki := nodetest.NewPKI(t, "alpha", "bravo", "charlie")
	cfg := pki.Config("alpha", t.TempDir(), "bravo") // bravo's address: 127.0.0.1:1, nobody there
	return secOn(t, nodetest.Start(t, pki, cfg, nil))
}

// secOn wraps a running node for tests that hand-drive a partner's channel
// into it.
func secOn(t *testing.T, n *nodetest.Node) *secNode {
	t.Helper()
	return &secNode{
		pki: n.PKI, node: n,
		leads:   liaisonv1.NewLeadServiceClient(n.Conn(t, "supervisor")),
		auditor: liaisonv1.NewAuditServiceClient(n.Conn(t, "auditor")),
		permSup: liaisonv1.NewPermissionServiceClient(n.Conn(t, "supervisor")),
	}
}

// secKey is a signing key and its certificate chain (DER, leaf first).
type secKey struct {
	key   crypto.Signer
	chain [][]byte
}

// secLoadKey loads a certificate and key pair of the test PKI.
func secLoadKey(t testing.TB, certFile, keyFile string) secKey {
	t.Helper()
	kp, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return secKey{key: kp.PrivateKey.(crypto.Signer), chain: kp.Certificate}
}

func (s *secNode) nodeKey(t *testing.T, agency string) secKey {
	return secLoadKey(t, s.pki.Path(agency, "node.crt"), s.pki.Path(agency, "node.key"))
}

// secChannel is a hand-made channel from a partner ("bravo") to alpha.
type secChannel struct {
	stream  liaisonv1.FederationService_ExchangeClient
	welcome *liaisonv1.Welcome
	// Whose signature the receipts must bear, and addressed to whom.
	pki              *nodetest.PKI
	receiver, sender string
}

// open dials the node as agency's role, opens Exchange and says hello.
func (s *secNode) open(t *testing.T, agency, role string, hello *liaisonv1.Hello) (*secChannel, error) {
	t.Helper()
	conn := nodetest.Dial(t, s.pki, s.node.Addr(), agency, role, s.node.Agency)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	stream, err := liaisonv1.NewFederationServiceClient(conn).Exchange(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&liaisonv1.ExchangeRequest{Msg: &liaisonv1.ExchangeRequest_Hello{Hello: hello}}); err != nil {
		// The server ended the call; Recv says why.
		_, rerr := stream.Recv()
		return nil, rerr
	}
	resp, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	if resp.GetWelcome() == nil {
		t.Fatalf("alpha answered the hello with %v, want a welcome", resp)
	}
	return &secChannel{stream: stream, welcome: resp.GetWelcome(), pki: s.pki, receiver: s.node.Agency, sender: agency}, nil
}

// bravo opens the channel the way bravo's node would.
func (s *secNode) bravo(t *testing.T) *secChannel {
	t.Helper()
	ch, err := s.open(t, "bravo", "node", &liaisonv1.Hello{Sender: "bravo", Receiver: "alpha"})
	if err != nil {
		t.Fatalf("open channel as bravo's node: %v", err)
	}
	return ch
}

// send sends a batch and returns alpha's receipts.
func (c *secChannel) send(t *testing.T, b *liaisonv1.Batch) *liaisonv1.Receipts {
	t.Helper()
	if err := c.stream.Send(&liaisonv1.ExchangeRequest{Msg: &liaisonv1.ExchangeRequest_Batch{Batch: b}}); err != nil {
		_, rerr := c.stream.Recv()
		t.Fatalf("send batch: %v (%v)", err, rerr)
	}
	resp, err := c.stream.Recv()
	if err != nil {
		t.Fatalf("receipts: %v", err)
	}
	return secReceipts(t, c.pki, c.receiver, c.sender, resp)
}

// secOne sends a batch of one envelope and returns its receipt.
func (c *secChannel) one(t *testing.T, b *liaisonv1.Batch) (*liaisonv1.Receipt, *liaisonv1.Receipts) {
	t.Helper()
	rs := c.send(t, b)
	if len(rs.GetReceipts()) != 1 {
		t.Fatalf("one envelope sent, %d receipts back: %v", len(rs.GetReceipts()), rs)
	}
	return rs.GetReceipts()[0], rs
}

var secDet = proto.MarshalOptions{Deterministic: true}

func secMarshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := secDet.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// secLead is a valid lead originated by bravo, as bravo would send it.
func secLead(title string) *liaisonv1.Lead {
	l := newLead(title)
	now := timestamppb.Now()
	l.Id = uuid.Must(uuid.NewV7()).String()
	l.OriginAgency = "bravo"
	l.Version = 1
	l.Status = liaisonv1.LeadStatus_LEAD_STATUS_RELEASED
	l.ReleasedTo = []string{"alpha"}
	l.CreateTime, l.UpdateTime = now, now
	l.CreatedBy = certs.PrincipalID("bravo", "analyst", "bob")
	return l
}

// secLeadEnvelope wraps a lead in an envelope from bravo to alpha.
func secLeadEnvelope(t *testing.T, seq uint64, l *liaisonv1.Lead) *liaisonv1.Envelope {
	return &liaisonv1.Envelope{
		Id: uuid.Must(uuid.NewV7()).String(), Sender: "bravo", Receiver: "alpha", Sequence: seq,
		Kind: liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD, RecordId: l.GetId(), RecordVersion: l.GetVersion(),
		CreateTime: timestamppb.Now(), Payload: secMarshal(t, l),
	}
}

// secSign makes a batch of serialized envelopes signed with k as a batch
// from sender to receiver.
func secSign(t *testing.T, k secKey, sender, receiver string, envs ...[]byte) *liaisonv1.Batch {
	t.Helper()
	leaves := make([][]byte, len(envs))
	for i, e := range envs {
		leaves[i] = federation.LeafHash(e)
	}
	root, _ := federation.MerkleTree(leaves)
	sig, err := federation.SignRoot(k.key, sender, receiver, root)
	if err != nil {
		t.Fatal(err)
	}
	return &liaisonv1.Batch{Envelopes: envs, Signature: &liaisonv1.BatchSignature{MerkleRoot: root, Signature: sig, SignerChain: k.chain}}
}

// assertNothingApplied checks that alpha holds nothing of an envelope: no
// lead, no inbox row at its sequence, and the channel did not advance.
func (s *secNode) assertNothingApplied(t *testing.T, env *liaisonv1.Envelope, lastApplied int64) {
	t.Helper()
	if env.GetKind() == liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD && env.GetRecordId() != "" {
		_, err := s.leads.GetLead(context.Background(), &liaisonv1.GetLeadRequest{Id: env.GetRecordId()})
		if status.Code(err) != codes.NotFound {
			t.Errorf("alpha's GetLead of the refused envelope's lead %s: %v, want NotFound", env.GetRecordId(), err)
		}
	}
	db := s.node.Cfg.Database.Path
	if n := countRows(t, db, "SELECT count(*) FROM inbox WHERE sender = 'bravo' AND envelope_id = ?", env.GetId()); n != 0 {
		t.Errorf("alpha's inbox stored the refused envelope %s", env.GetId())
	}
	if n := countRows(t, db, "SELECT count(*) FROM inbox WHERE sender = 'bravo' AND seq > ?", lastApplied); n != 0 {
		t.Errorf("alpha's inbox holds %d envelopes after sequence %d", n, lastApplied)
	}
	if n := countRows(t, db, "SELECT coalesce(max(last_applied), 0) FROM in_channels WHERE sender = 'bravo'"); n != lastApplied {
		t.Errorf("alpha's channel from bravo: last applied %d, want %d", n, lastApplied)
	}
}

// assertAudited checks that alpha's audit log holds an event of action
// whose detail names what (an envelope id, say), and returns it.
func (s *secNode) assertAudited(t *testing.T, action, what string) *liaisonv1.AuditEvent {
	t.Helper()
	var found *liaisonv1.AuditEvent
	nodetest.Eventually(t, 5*time.Second, func() error {
		r, err := s.auditor.ListAuditEvents(context.Background(), &liaisonv1.ListAuditEventsRequest{Action: action, PageSize: 1000})
		if err != nil {
			return err
		}
		var seen []string
		for _, e := range r.GetEvents() {
			if strings.Contains(e.GetDetail(), what) {
				found = e
				return nil
			}
			seen = append(seen, e.GetDetail())
		}
		return fmt.Errorf("no %q audit event names %s; events of that action: %q", action, what, seen)
	})
	return found
}

// secExpect checks a receipt's status and reason code.
func secExpect(t *testing.T, rc *liaisonv1.Receipt, env *liaisonv1.Envelope, want liaisonv1.ReceiptStatus, code string) {
	t.Helper()
	if rc.GetStatus() != want || rc.GetReasonCode() != code {
		t.Fatalf("receipt %v; want status %s, reason code %q", rc, want, code)
	}
	if env != nil && (rc.GetEnvelopeId() != env.GetId() || rc.GetSequence() != env.GetSequence()) {
		t.Errorf("receipt names envelope %s seq %d, want %s seq %d", rc.GetEnvelopeId(), rc.GetSequence(), env.GetId(), env.GetSequence())
	}
}

// TestFederationSecurity_RefusedEnvelopes sends alpha envelopes that are
// not authentic, not bravo's to send or not addressed to alpha: each is
// refused with its reason code, nothing of it is applied, its sequence is
// not consumed, and the refusal is audited.
func TestFederationSecurity_RefusedEnvelopes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// batch builds the batch to send; env is the envelope it carries.
		batch func(t *testing.T, s *secNode) (*liaisonv1.Batch, *liaisonv1.Envelope)
		code  string
		// why is a part of the reason in words: the check that refused it.
		why string
	}{
		{"payload changed after signing", func(t *testing.T, s *secNode) (*liaisonv1.Batch, *liaisonv1.Envelope) {
			l := secLead("signed")
			env := secLeadEnvelope(t, 1, l)
			b := secSign(t, s.nodeKey(t, "bravo"), "bravo", "alpha", secMarshal(t, env))
			l.Title = "changed in transit"
			env.Payload = secMarshal(t, l)
			b.Envelopes[0] = secMarshal(t, env)
			return b, env
		}, "envelope.bad_signature", "Merkle root does not match"},
		{"payload changed and Merkle root recomputed", func(t *testing.T, s *secNode) (*liaisonv1.Batch, *liaisonv1.Envelope) {
			l := secLead("signed")
			env := secLeadEnvelope(t, 1, l)
			b := secSign(t, s.nodeKey(t, "bravo"), "bravo", "alpha", secMarshal(t, env))
			l.Summary = "changed in transit"
			env.Payload = secMarshal(t, l)
			raw := secMarshal(t, env)
			root, _ := federation.MerkleTree([][]byte{federation.LeafHash(raw)})
			b.Envelopes[0], b.Signature.MerkleRoot = raw, root
			return b, env
		}, "envelope.bad_signature", "signature does not verify"},
		{"one byte of the signature flipped", func(t *testing.T, s *secNode) (*liaisonv1.Batch, *liaisonv1.Envelope) {
			env := secLeadEnvelope(t, 1, secLead("signed"))
			b := secSign(t, s.nodeKey(t, "bravo"), "bravo", "alpha", secMarshal(t, env))
			b.Signature.Signature[len(b.Signature.Signature)/2] ^= 0x01
			return b, env
		}, "envelope.bad_signature", "signature does not verify"},
		{"signed with alpha's own node key", func(t *testing.T, s *secNode) (*liaisonv1.Batch, *liaisonv1.Envelope) {
			env := secLeadEnvelope(t, 1, secLead("forged"))
			return secSign(t, s.nodeKey(t, "alpha"), "bravo", "alpha", secMarshal(t, env)), env
		}, "envelope.bad_signature", "does not chain to bravo's CA"},
		{"signed with a third agency's node key", func(t *testing.T, s *secNode) (*liaisonv1.Batch, *liaisonv1.Envelope) {
			env := secLeadEnvelope(t, 1, secLead("forged"))
			return secSign(t, s.nodeKey(t, "charlie"), "bravo", "alpha", secMarshal(t, env)), env
		}, "envelope.bad_signature", "does not chain to bravo's CA"},
		{"signed by a third CA's certificate naming bravo's node", func(t *testing.T, s *secNode) (*liaisonv1.Batch, *liaisonv1.Envelope) {
			crt, key := s.pki.Issue(t, "charlie", "fake-bravo-node", certs.LeafOptions{URI: certs.NodeID("bravo"), Server: true})
			env := secLeadEnvelope(t, 1, secLead("forged"))
			return secSign(t, secLoadKey(t, crt, key), "bravo", "alpha", secMarshal(t, env)), env
		}, "envelope.bad_signature", "does not chain to bravo's CA"},
		{"signed with bravo's analyst key", func(t *testing.T, s *secNode) (*liaisonv1.Batch, *liaisonv1.Envelope) {
			env := secLeadEnvelope(t, 1, secLead("forged"))
			k := secLoadKey(t, s.pki.Path("bravo", "analyst.crt"), s.pki.Path("bravo", "analyst.key"))
			return secSign(t, k, "bravo", "alpha", secMarshal(t, env)), env
		}, "envelope.bad_signature", "is not spiffe://bravo.liaison.test/node"},
		{"bravo's node certificate with another key's signature", func(t *testing.T, s *secNode) (*liaisonv1.Batch, *liaisonv1.Envelope) {
			env := secLeadEnvelope(t, 1, secLead("forged"))
			k := s.nodeKey(t, "charlie")
			k.chain = s.nodeKey(t, "bravo").chain
			return secSign(t, k, "bravo", "alpha", secMarshal(t, env)), env
		}, "envelope.bad_signature", "signature does not verify"},
		{"signed for another receiver", func(t *testing.T, s *secNode) (*liaisonv1.Batch, *liaisonv1.Envelope) {
			// A batch bravo signed for charlie, replayed to alpha.
			env := secLeadEnvelope(t, 1, secLead("for charlie"))
			return secSign(t, s.nodeKey(t, "bravo"), "bravo", "charlie", secMarshal(t, env)), env
		}, "envelope.bad_signature", "signature does not verify"},
		{"signed as another sender", func(t *testing.T, s *secNode) (*liaisonv1.Batch, *liaisonv1.Envelope) {
			env := secLeadEnvelope(t, 1, secLead("as charlie"))
			return secSign(t, s.nodeKey(t, "bravo"), "charlie", "alpha", secMarshal(t, env)), env
		}, "envelope.bad_signature", "signature does not verify"},
		{"no signer chain", func(t *testing.T, s *secNode) (*liaisonv1.Batch, *liaisonv1.Envelope) {
			env := secLeadEnvelope(t, 1, secLead("unsigned"))
			b := secSign(t, s.nodeKey(t, "bravo"), "bravo", "alpha", secMarshal(t, env))
			b.Signature.SignerChain = [][]byte{[]byte("not a certificate")}
			return b, env
		}, "envelope.bad_signature", "signer certificate"},
		{"addressed to another node", func(t *testing.T, s *secNode) (*liaisonv1.Batch, *liaisonv1.Envelope) {
			env := secLeadEnvelope(t, 1, secLead("for charlie"))
			env.Receiver = "charlie"
			return secSign(t, s.nodeKey(t, "bravo"), "bravo", "alpha", secMarshal(t, env)), env
		}, "envelope.wrong_receiver", "addressed to \"charlie\""},
		{"naming another sender", func(t *testing.T, s *secNode) (*liaisonv1.Batch, *liaisonv1.Envelope) {
			l := secLead("from charlie")
			l.OriginAgency = "charlie"
			env := secLeadEnvelope(t, 1, l)
			env.Sender = "charlie"
			return secSign(t, s.nodeKey(t, "bravo"), "bravo", "alpha", secMarshal(t, env)), env
		}, "envelope.wrong_sender", "names sender \"charlie\""},
		{"sequence zero", func(t *testing.T, s *secNode) (*liaisonv1.Batch, *liaisonv1.Envelope) {
			env := secLeadEnvelope(t, 0, secLead("seq 0"))
			return secSign(t, s.nodeKey(t, "bravo"), "bravo", "alpha", secMarshal(t, env)), env
		}, "envelope.bad_sequence", "sequences start at 1"},
		{"bytes that are no envelope", func(t *testing.T, s *secNode) (*liaisonv1.Batch, *liaisonv1.Envelope) {
			return secSign(t, s.nodeKey(t, "bravo"), "bravo", "alpha", []byte{0xff, 0xff, 0xff, 0xff}), &liaisonv1.Envelope{}
		}, "envelope.malformed", "undecodable envelope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := secStartAlpha(t)
			ch := s.bravo(t)
			if ch.welcome.GetLastApplied() != 0 {
				t.Fatalf("welcome of a fresh channel: %v", ch.welcome)
			}
			b, env := tc.batch(t, s)
			rc, rs := ch.one(t, b)
			want := env
			if env.GetId() == "" {
				want = nil
			}
			secExpect(t, rc, want, liaisonv1.ReceiptStatus_RECEIPT_STATUS_REFUSED, tc.code)
			if !strings.Contains(rc.GetReason(), tc.why) {
				t.Errorf("refused because %q; want the reason to say %q", rc.GetReason(), tc.why)
			}
			if rs.GetHighestApplied() != 0 {
				t.Errorf("highest applied after a refusal: %d, want 0 (a refused envelope does not consume its sequence)", rs.GetHighestApplied())
			}
			s.assertNothingApplied(t, env, 0)
			what := tc.code
			if env.GetId() != "" {
				what = "envelope " + env.GetId()
			}
			ev := s.assertAudited(t, "federation.envelope.refused", what)
			if ev.GetOutcome() != "REFUSED" || ev.GetAgency() != "bravo" || !strings.Contains(ev.GetDetail(), tc.code) {
				t.Errorf("audit event of the refusal: %v", ev)
			}

			// The channel still works: the next valid envelope, at the same
			// sequence, is applied.
			good := secLeadEnvelope(t, 1, secLead("valid after a refusal"))
			rc, _ = ch.one(t, secSign(t, s.nodeKey(t, "bravo"), "bravo", "alpha", secMarshal(t, good)))
			secExpect(t, rc, good, liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED, "")
			if _, err := s.leads.GetLead(context.Background(), &liaisonv1.GetLeadRequest{Id: good.GetRecordId()}); err != nil {
				t.Errorf("the valid envelope's lead: %v", err)
			}
		})
	}
}

// TestFederationSecurity_Sequences checks duplicates, replays and gaps.
func TestFederationSecurity_Sequences(t *testing.T) {
	t.Parallel()
	s := secStartAlpha(t)
	k := s.nodeKey(t, "bravo")
	ch := s.bravo(t)

	first := secLeadEnvelope(t, 1, secLead("first"))
	firstRaw := secMarshal(t, first)
	t.Run("valid envelope is applied", func(t *testing.T) {
		rc, rs := ch.one(t, secSign(t, k, "bravo", "alpha", firstRaw))
		secExpect(t, rc, first, liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED, "")
		if rc.GetDuplicate() || rc.GetApplyTime() == nil || rs.GetHighestApplied() != 1 {
			t.Fatalf("receipt %v, highest applied %d", rc, rs.GetHighestApplied())
		}
		if _, err := s.leads.GetLead(context.Background(), &liaisonv1.GetLeadRequest{Id: first.GetRecordId()}); err != nil {
			t.Fatalf("applied lead: %v", err)
		}
	})
	var original *liaisonv1.Receipt
	t.Run("same bytes again get the original receipt", func(t *testing.T) {
		// Re-signed in a new batch, as a sender resending after a lost
		// receipt does.
		rc, rs := ch.one(t, secSign(t, k, "bravo", "alpha", firstRaw))
		secExpect(t, rc, first, liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED, "")
		if !rc.GetDuplicate() || rs.GetHighestApplied() != 1 {
			t.Fatalf("resent envelope: receipt %v, highest applied %d; want the original receipt marked duplicate", rc, rs.GetHighestApplied())
		}
		original = rc
		if n := countRows(t, s.node.Cfg.Database.Path, "SELECT count(*) FROM inbox WHERE sender = 'bravo'"); n != 1 {
			t.Errorf("inbox holds %d envelopes after a duplicate, want 1", n)
		}
		s.assertAudited(t, "federation.envelope.duplicate", "envelope "+first.GetId())
	})
	t.Run("another envelope reusing an applied sequence is refused", func(t *testing.T) {
		replay := secLeadEnvelope(t, 1, secLead("replayed sequence"))
		rc, _ := ch.one(t, secSign(t, k, "bravo", "alpha", secMarshal(t, replay)))
		secExpect(t, rc, replay, liaisonv1.ReceiptStatus_RECEIPT_STATUS_REFUSED, "envelope.sequence_reused")
		s.assertNothingApplied(t, replay, 1)
		s.assertAudited(t, "federation.envelope.refused", "envelope "+replay.GetId())
	})
	t.Run("same envelope id with other content at an applied sequence is refused", func(t *testing.T) {
		// Not a duplicate: the bytes differ from what was applied at
		// sequence 1. Answering with the original APPLIED receipt would
		// tell the sender its changed content arrived when it did not.
		changed := proto.Clone(first).(*liaisonv1.Envelope)
		l := &liaisonv1.Lead{}
		if err := proto.Unmarshal(changed.GetPayload(), l); err != nil {
			t.Fatal(err)
		}
		l.Title = "other content under the same envelope id"
		changed.Payload = secMarshal(t, l)
		rc, _ := ch.one(t, secSign(t, k, "bravo", "alpha", secMarshal(t, changed)))
		if rc.GetStatus() != liaisonv1.ReceiptStatus_RECEIPT_STATUS_REFUSED || rc.GetReasonCode() != "envelope.sequence_reused" {
			t.Errorf("envelope %s resent with other content: receipt %v; want REFUSED envelope.sequence_reused", changed.GetId(), rc)
		}
		got, err := s.leads.GetLead(context.Background(), &liaisonv1.GetLeadRequest{Id: first.GetRecordId()})
		if err != nil || got.GetLead().GetTitle() != "first" {
			t.Errorf("lead of sequence 1 after the changed resend: %v %v", got.GetLead(), err)
		}
	})
	t.Run("a gap is out of order and applies nothing", func(t *testing.T) {
		third := secLeadEnvelope(t, 3, secLead("third"))
		rc, rs := ch.one(t, secSign(t, k, "bravo", "alpha", secMarshal(t, third)))
		secExpect(t, rc, third, liaisonv1.ReceiptStatus_RECEIPT_STATUS_OUT_OF_ORDER, "envelope.gap")
		if rc.GetExpectedSequence() != 2 || rs.GetHighestApplied() != 1 {
			t.Fatalf("receipt %v, highest applied %d; want expected sequence 2, highest applied 1", rc, rs.GetHighestApplied())
		}
		s.assertNothingApplied(t, third, 1)
		s.assertAudited(t, "federation.envelope.refused", "envelope "+third.GetId())
	})
	t.Run("a batch with a gap in its middle applies up to the gap", func(t *testing.T) {
		two, four := secLeadEnvelope(t, 2, secLead("two")), secLeadEnvelope(t, 4, secLead("four"))
		rs := ch.send(t, secSign(t, k, "bravo", "alpha", secMarshal(t, two), secMarshal(t, four)))
		if len(rs.GetReceipts()) != 2 || rs.GetHighestApplied() != 2 {
			t.Fatalf("receipts %v", rs)
		}
		secExpect(t, rs.GetReceipts()[0], two, liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED, "")
		secExpect(t, rs.GetReceipts()[1], four, liaisonv1.ReceiptStatus_RECEIPT_STATUS_OUT_OF_ORDER, "envelope.gap")
		if rs.GetReceipts()[1].GetExpectedSequence() != 3 {
			t.Errorf("expected sequence %d, want 3", rs.GetReceipts()[1].GetExpectedSequence())
		}
		s.assertNothingApplied(t, four, 2)
	})
	t.Run("a new channel is welcomed where the last one stopped", func(t *testing.T) {
		again := s.bravo(t)
		if again.welcome.GetLastApplied() != 2 {
			t.Fatalf("welcome %v, want last applied 2", again.welcome)
		}
		// The original receipt is still what a resend of sequence 1 gets.
		rc, _ := again.one(t, secSign(t, k, "bravo", "alpha", firstRaw))
		if original != nil && (rc.GetEnvelopeId() != original.GetEnvelopeId() || !rc.GetApplyTime().AsTime().Equal(original.GetApplyTime().AsTime())) {
			t.Errorf("resend on a new channel: %v, want the original receipt %v", rc, original)
		}
	})
}

// TestFederationSecurity_BravoCannotChangeAlphasRecords sends envelopes that
// try to change a lead alpha originated: rejected (the sequence is
// consumed) and alpha's lead is unchanged.
func TestFederationSecurity_BravoCannotChangeAlphasRecords(t *testing.T) {
	t.Parallel()
	s := secStartAlpha(t)
	k := s.nodeKey(t, "bravo")
	c, err := liaisonv1.NewLeadServiceClient(s.node.Conn(t, "analyst")).CreateLead(context.Background(), &liaisonv1.CreateLeadRequest{Lead: newLead("alpha's own")})
	if err != nil {
		t.Fatal(err)
	}
	own := c.GetLead()
	ch := s.bravo(t)

	// A lead with alpha's lead's id, claiming bravo as originator.
	l := secLead("taken over")
	l.Id, l.Version = own.GetId(), 9
	env := secLeadEnvelope(t, 1, l)
	rc, _ := ch.one(t, secSign(t, k, "bravo", "alpha", secMarshal(t, env)))
	secExpect(t, rc, env, liaisonv1.ReceiptStatus_RECEIPT_STATUS_REJECTED, "record.home_node_only")

	// The same, naming alpha as originator.
	l2 := proto.Clone(l).(*liaisonv1.Lead)
	l2.OriginAgency = "alpha"
	env2 := secLeadEnvelope(t, 2, l2)
	rc, _ = ch.one(t, secSign(t, k, "bravo", "alpha", secMarshal(t, env2)))
	secExpect(t, rc, env2, liaisonv1.ReceiptStatus_RECEIPT_STATUS_REJECTED, "record.home_node_only")

	// A tombstone for alpha's lead.
	tomb := &liaisonv1.Tombstone{RecordId: own.GetId(), OriginAgency: "bravo", Version: 9, DeleteTime: timestamppb.Now()}
	env3 := &liaisonv1.Envelope{Id: uuid.Must(uuid.NewV7()).String(), Sender: "bravo", Receiver: "alpha", Sequence: 3,
		Kind: liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD_TOMBSTONE, RecordId: own.GetId(), RecordVersion: 9, CreateTime: timestamppb.Now(), Payload: secMarshal(t, tomb)}
	rc, rs := ch.one(t, secSign(t, k, "bravo", "alpha", secMarshal(t, env3)))
	secExpect(t, rc, env3, liaisonv1.ReceiptStatus_RECEIPT_STATUS_REJECTED, "record.home_node_only")
	if rs.GetHighestApplied() != 3 {
		t.Errorf("highest applied %d, want 3: a rejected envelope consumes its sequence", rs.GetHighestApplied())
	}
	got, err := s.leads.GetLead(context.Background(), &liaisonv1.GetLeadRequest{Id: own.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetLead().GetVersion() != own.GetVersion() || got.GetLead().GetTitle() != own.GetTitle() || got.GetLead().GetOriginAgency() != "alpha" || got.GetLead().GetStatus() != own.GetStatus() {
		t.Errorf("alpha's lead changed by bravo's envelopes: %v", got.GetLead())
	}
	s.assertAudited(t, "federation.envelope.rejected", "envelope "+env3.GetId())
}

// TestFederationSecurity_BadProposalDoesNotBlockChannel sends a permission
// request for a lead alpha never released to bravo: rejected with its
// reason, its sequence consumed, and the next envelope still applies.
func TestFederationSecurity_BadProposalDoesNotBlockChannel(t *testing.T) {
	t.Parallel()
	s := secStartAlpha(t)
	k := s.nodeKey(t, "bravo")
	c, err := liaisonv1.NewLeadServiceClient(s.node.Conn(t, "analyst")).CreateLead(context.Background(), &liaisonv1.CreateLeadRequest{Lead: newLead("never released")})
	if err != nil {
		t.Fatal(err)
	}
	unreleased := c.GetLead().GetId()
	ch := s.bravo(t)

	req := &liaisonv1.PermissionRequest{
		Id: uuid.Must(uuid.NewV7()).String(), RecordId: unreleased, OriginAgency: "alpha", RequestingAgency: "bravo",
		Purpose: liaisonv1.PermissionPurpose_PERMISSION_PURPOSE_EXPORT, Justification: "fishing",
		RequestedBy: certs.PrincipalID("bravo", "analyst", "bob"), CreateTime: timestamppb.Now(), Status: liaisonv1.PermissionStatus_PERMISSION_STATUS_PENDING,
	}
	env := &liaisonv1.Envelope{Id: uuid.Must(uuid.NewV7()).String(), Sender: "bravo", Receiver: "alpha", Sequence: 1,
		Kind: liaisonv1.EnvelopeKind_ENVELOPE_KIND_PERMISSION_REQUEST, RecordId: req.GetId(), RecordVersion: 1, CreateTime: timestamppb.Now(), Payload: secMarshal(t, req)}
	rc, rs := ch.one(t, secSign(t, k, "bravo", "alpha", secMarshal(t, env)))
	secExpect(t, rc, env, liaisonv1.ReceiptStatus_RECEIPT_STATUS_REJECTED, "permission.record_not_released")
	if rs.GetHighestApplied() != 1 {
		t.Fatalf("highest applied %d after a rejected proposal, want 1 (its sequence is consumed)", rs.GetHighestApplied())
	}
	if n := countRows(t, s.node.Cfg.Database.Path, "SELECT count(*) FROM permission_requests"); n != 0 {
		t.Errorf("alpha stored %d permission requests from a rejected proposal", n)
	}
	list, err := s.permSup.ListPermissionRequests(context.Background(), &liaisonv1.ListPermissionRequestsRequest{Direction: liaisonv1.PermissionDirection_PERMISSION_DIRECTION_INCOMING})
	if err != nil || len(list.GetRequests()) != 0 {
		t.Errorf("alpha's incoming requests after the rejection: %v %v", list, err)
	}
	s.assertAudited(t, "federation.envelope.rejected", "envelope "+env.GetId())
	if n := countRows(t, s.node.Cfg.Database.Path, "SELECT count(*) FROM inbox WHERE sender = 'bravo' AND seq = 1 AND status = ? AND reason_code = 'permission.record_not_released'", int(liaisonv1.ReceiptStatus_RECEIPT_STATUS_REJECTED)); n != 1 {
		t.Errorf("alpha's inbox does not record the rejection of sequence 1")
	}

	// A new channel is welcomed after the rejected envelope.
	if again := s.bravo(t); again.welcome.GetLastApplied() != 1 {
		t.Fatalf("welcome after the rejection: %v, want last applied 1", again.welcome)
	}
	next := secLeadEnvelope(t, 2, secLead("after the rejected proposal"))
	rc, rs = ch.one(t, secSign(t, k, "bravo", "alpha", secMarshal(t, next)))
	secExpect(t, rc, next, liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED, "")
	if rs.GetHighestApplied() != 2 {
		t.Errorf("highest applied %d, want 2", rs.GetHighestApplied())
	}
	if _, err := s.leads.GetLead(context.Background(), &liaisonv1.GetLeadRequest{Id: next.GetRecordId()}); err != nil {
		t.Errorf("lead of the envelope after the rejected one: %v", err)
	}
}

// TestFederationSecurity_ChannelRefused opens channels that must not open:
// a hello naming another sender or receiver, and callers other than a
// partner's node.
func TestFederationSecurity_ChannelRefused(t *testing.T) {
	t.Parallel()
	s := secStartAlpha(t)
	for _, tc := range []struct {
		name         string
		agency, role string
		hello        *liaisonv1.Hello
		code         codes.Code
		audited      string // the detail of the channel refusal, if audited as one
	}{
		{"hello claiming to be alpha", "bravo", "node", &liaisonv1.Hello{Sender: "alpha", Receiver: "alpha"}, codes.PermissionDenied, `names sender "alpha"`},
		{"hello claiming to be charlie", "bravo", "node", &liaisonv1.Hello{Sender: "charlie", Receiver: "alpha"}, codes.PermissionDenied, `names sender "charlie"`},
		{"hello addressed to charlie", "bravo", "node", &liaisonv1.Hello{Sender: "bravo", Receiver: "charlie"}, codes.FailedPrecondition, "not of charlie"},
		{"bravo's analyst", "bravo", "analyst", &liaisonv1.Hello{Sender: "bravo", Receiver: "alpha"}, codes.PermissionDenied, ""},
		{"bravo's supervisor", "bravo", "supervisor", &liaisonv1.Hello{Sender: "bravo", Receiver: "alpha"}, codes.PermissionDenied, ""},
		{"alpha's analyst", "alpha", "analyst", &liaisonv1.Hello{Sender: "alpha", Receiver: "alpha"}, codes.PermissionDenied, ""},
		{"alpha's own node certificate", "alpha", "node", &liaisonv1.Hello{Sender: "alpha", Receiver: "alpha"}, codes.PermissionDenied, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.open(t, tc.agency, tc.role, tc.hello)
			if status.Code(err) != tc.code {
				t.Fatalf("open channel: %v, want %v", err, tc.code)
			}
			if tc.audited != "" {
				ev := s.assertAudited(t, "federation.channel.refused", tc.audited)
				if ev.GetAgency() != tc.agency {
					t.Errorf("channel refusal audited with agency %q, want %q", ev.GetAgency(), tc.agency)
				}
			}
		})
	}
	t.Run("unary federation calls by others than the partner node", func(t *testing.T) {
		for _, who := range [][2]string{{"bravo", "analyst"}, {"bravo", "auditor"}, {"alpha", "analyst"}, {"alpha", "supervisor"}} {
			fed := liaisonv1.NewFederationServiceClient(nodetest.Dial(t, s.pki, s.node.Addr(), who[0], who[1], "alpha"))
			_, err := fed.GetDigest(context.Background(), &liaisonv1.GetDigestRequest{Kind: liaisonv1.RecordKind_RECORD_KIND_LEAD})
			if status.Code(err) != codes.PermissionDenied {
				t.Errorf("GetDigest as %s's %s: %v, want PermissionDenied", who[0], who[1], err)
			}
		}
	})
	t.Run("a node of an agency that is no partner", func(t *testing.T) {
		// charlie's CA is not trusted by alpha: the handshake fails.
		conn := nodetest.Dial(t, s.pki, s.node.Addr(), "charlie", "node", "alpha")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := liaisonv1.NewFederationServiceClient(conn).GetDigest(ctx, &liaisonv1.GetDigestRequest{Kind: liaisonv1.RecordKind_RECORD_KIND_LEAD})
		if status.Code(err) != codes.Unavailable {
			t.Errorf("charlie's node calling alpha: %v, want Unavailable (TLS handshake refused)", err)
		}
	})
	t.Run("nothing was applied", func(t *testing.T) {
		if n := countRows(t, s.node.Cfg.Database.Path, "SELECT count(*) FROM inbox"); n != 0 {
			t.Errorf("alpha's inbox holds %d envelopes", n)
		}
	})
}

// secPermissionEnvelope wraps a permission request or decision from bravo.
func secPermissionEnvelope(t *testing.T, seq uint64, kind liaisonv1.EnvelopeKind, r *liaisonv1.PermissionRequest) *liaisonv1.Envelope {
	version := int64(1)
	if kind == liaisonv1.EnvelopeKind_ENVELOPE_KIND_PERMISSION_DECISION {
		version = 2
	}
	return &liaisonv1.Envelope{Id: uuid.Must(uuid.NewV7()).String(), Sender: "bravo", Receiver: "alpha", Sequence: seq,
		Kind: kind, RecordId: r.GetId(), RecordVersion: version, CreateTime: timestamppb.Now(), Payload: secMarshal(t, r)}
}

// secRequest finds a permission request on alpha.
func (s *secNode) request(t *testing.T, id string) *liaisonv1.PermissionRequest {
	t.Helper()
	r, err := s.permSup.ListPermissionRequests(context.Background(), &liaisonv1.ListPermissionRequestsRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range r.GetRequests() {
		if pr.GetId() == id {
			return pr
		}
	}
	t.Fatalf("alpha holds no permission request %s", id)
	return nil
}

// TestFederationSecurity_PermissionEnvelopes checks that bravo cannot
// decide a request made of alpha, nor overwrite alpha's own request by
// reusing its id, while its legitimate requests and decisions apply.
func TestFederationSecurity_PermissionEnvelopes(t *testing.T) {
	t.Parallel()
	s := secStartAlpha(t)
	k := s.nodeKey(t, "bravo")
	ctx := context.Background()
	created, err := s.leads.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: permLead("alpha's H2", liaisonv1.HandlingCode_HANDLING_CODE_H2)})
	if err != nil {
		t.Fatal(err)
	}
	a := created.GetLead()
	if _, err := s.leads.ReleaseLead(ctx, &liaisonv1.ReleaseLeadRequest{Id: a.GetId(), Partners: []string{"bravo"}}); err != nil {
		t.Fatal(err)
	}
	ch := s.bravo(t)
	send := func(env *liaisonv1.Envelope) *liaisonv1.Receipt {
		t.Helper()
		rc, _ := ch.one(t, secSign(t, k, "bravo", "alpha", secMarshal(t, env)))
		return rc
	}
	newRequest := func(record string) *liaisonv1.PermissionRequest {
		return &liaisonv1.PermissionRequest{
			Id: uuid.Must(uuid.NewV7()).String(), RecordId: record, OriginAgency: "alpha", RequestingAgency: "bravo",
			Purpose: liaisonv1.PermissionPurpose_PERMISSION_PURPOSE_EXPORT, Justification: "joint case",
			RequestedBy: certs.PrincipalID("bravo", "analyst", "bob"), CreateTime: timestamppb.Now(), Status: liaisonv1.PermissionStatus_PERMISSION_STATUS_PENDING,
		}
	}

	// 1: a legitimate request for alpha's released lead.
	r1 := newRequest(a.GetId())
	env := secPermissionEnvelope(t, 1, liaisonv1.EnvelopeKind_ENVELOPE_KIND_PERMISSION_REQUEST, r1)
	secExpect(t, send(env), env, liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED, "")
	if got := s.request(t, r1.GetId()); got.GetStatus() != liaisonv1.PermissionStatus_PERMISSION_STATUS_PENDING || got.GetRequestingAgency() != "bravo" {
		t.Fatalf("request as alpha holds it: %v", got)
	}

	// 2: a request naming another requester than its sender.
	bad := newRequest(a.GetId())
	bad.RequestingAgency = "charlie"
	env = secPermissionEnvelope(t, 2, liaisonv1.EnvelopeKind_ENVELOPE_KIND_PERMISSION_REQUEST, bad)
	secExpect(t, send(env), env, liaisonv1.ReceiptStatus_RECEIPT_STATUS_REJECTED, "envelope.inconsistent")

	// 3: bravo grants its own request, as if it were the originator: the
	// request is homed on alpha, so the ownership rule refuses it before
	// the permission rules are asked.
	forged := proto.Clone(r1).(*liaisonv1.PermissionRequest)
	forged.Status, forged.DecidedBy, forged.DecisionReason, forged.DecideTime = liaisonv1.PermissionStatus_PERMISSION_STATUS_GRANTED, certs.PrincipalID("bravo", "supervisor", "sam"), "self-service", timestamppb.Now()
	env = secPermissionEnvelope(t, 3, liaisonv1.EnvelopeKind_ENVELOPE_KIND_PERMISSION_DECISION, forged)
	secExpect(t, send(env), env, liaisonv1.ReceiptStatus_RECEIPT_STATUS_REJECTED, "record.home_node_only")
	if got := s.request(t, r1.GetId()); got.GetStatus() != liaisonv1.PermissionStatus_PERMISSION_STATUS_PENDING || got.GetDecidedBy() != "" {
		t.Errorf("bravo's forged decision changed alpha's copy of the request: %v", got)
	}

	// 4: bravo's own H2 lead, of which alpha asks permission (outgoing).
	b := secLead("bravo's H2")
	b.Handling = &liaisonv1.Handling{Code: liaisonv1.HandlingCode_HANDLING_CODE_H2}
	env = secLeadEnvelope(t, 4, b)
	secExpect(t, send(env), env, liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED, "")
	asked, err := liaisonv1.NewPermissionServiceClient(s.node.Conn(t, "analyst")).RequestPermission(ctx, &liaisonv1.RequestPermissionRequest{
		RecordId: b.GetId(), Purpose: liaisonv1.PermissionPurpose_PERMISSION_PURPOSE_EXPORT, Justification: "our prosecutor",
	})
	if err != nil {
		t.Fatal(err)
	}
	r2 := asked.GetRequest()

	// 5: bravo, the originator of b, grants alpha's request: applied.
	grant := proto.Clone(r2).(*liaisonv1.PermissionRequest)
	grant.Status, grant.DecidedBy, grant.DecisionReason, grant.DecideTime = liaisonv1.PermissionStatus_PERMISSION_STATUS_GRANTED, certs.PrincipalID("bravo", "supervisor", "sam"), "granted", timestamppb.Now()
	env = secPermissionEnvelope(t, 5, liaisonv1.EnvelopeKind_ENVELOPE_KIND_PERMISSION_DECISION, grant)
	secExpect(t, send(env), env, liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED, "")
	if got := s.request(t, r2.GetId()); got.GetStatus() != liaisonv1.PermissionStatus_PERMISSION_STATUS_GRANTED {
		t.Errorf("alpha's request after bravo's grant: %v", got)
	}
	if got, _, err := permExport(t, s.leads, &liaisonv1.ExportLeadsRequest{Ids: []string{b.GetId()}}); err != nil || len(got) != 1 {
		t.Errorf("alpha exporting bravo's H2 lead after the grant: %v %v", got, err)
	}

	// 6: a request from bravo that reuses the id of alpha's own request:
	// it must not replace alpha's request (nor its grant).
	clash := newRequest(a.GetId())
	clash.Id = r2.GetId()
	env = secPermissionEnvelope(t, 6, liaisonv1.EnvelopeKind_ENVELOPE_KIND_PERMISSION_REQUEST, clash)
	if rc := send(env); rc.GetStatus() != liaisonv1.ReceiptStatus_RECEIPT_STATUS_REJECTED {
		t.Errorf("bravo's request reusing the id of alpha's own request %s: receipt %v, want REJECTED", r2.GetId(), rc)
	}
	if got := s.request(t, r2.GetId()); got.GetRequestingAgency() != "alpha" || got.GetOriginAgency() != "bravo" || got.GetRecordId() != b.GetId() || got.GetStatus() != liaisonv1.PermissionStatus_PERMISSION_STATUS_GRANTED {
		t.Errorf("alpha's own (granted) request %s was overwritten by bravo's envelope: now %v", r2.GetId(), got)
	}
	if got, _, err := permExport(t, s.leads, &liaisonv1.ExportLeadsRequest{Ids: []string{b.GetId()}}); err != nil || len(got) != 1 {
		t.Errorf("alpha exporting bravo's H2 lead after bravo's clashing request: %v %v; the grant was lost", got, err)
	}
	// bravo's request for alpha's lead was never granted: alpha's decision
	// alone decides it.
	if got := s.request(t, r1.GetId()); got.GetStatus() != liaisonv1.PermissionStatus_PERMISSION_STATUS_PENDING {
		t.Errorf("bravo's request %s: %v, want still pending", r1.GetId(), got)
	}

	// 7: alpha refuses bravo's request; bravo sending the same request
	// again (a new envelope) does not reopen it.
	if _, err := s.permSup.DecidePermissionRequest(ctx, &liaisonv1.DecidePermissionRequestRequest{Id: r1.GetId(), Grant: false, Reason: "source protection"}); err != nil {
		t.Fatal(err)
	}
	env = secPermissionEnvelope(t, 7, liaisonv1.EnvelopeKind_ENVELOPE_KIND_PERMISSION_REQUEST, r1)
	if rc := send(env); rc.GetStatus() != liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED && rc.GetStatus() != liaisonv1.ReceiptStatus_RECEIPT_STATUS_REJECTED {
		t.Errorf("the same request sent again: receipt %v", rc)
	}
	if got := s.request(t, r1.GetId()); got.GetStatus() != liaisonv1.PermissionStatus_PERMISSION_STATUS_REFUSED || got.GetDecisionReason() != "source protection" {
		t.Errorf("alpha's refusal of %s after bravo sent the request again: %v, want still refused", r1.GetId(), got)
	}
}
