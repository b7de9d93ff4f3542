package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/federation"
	"github.com/liaison-exchange/liaison/server/mtls"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// These tests put a hand-driven bravo behind alpha's relay: a gRPC server
// with bravo's real node certificate that takes alpha's batches and answers
// them as a test says — honestly signed, unsigned, or signed wrongly.

// fakeAnswer turns the honest receipts for a batch into what fake bravo
// sends back.
type fakeAnswer func(t *testing.T, rs *liaisonv1.Receipts) *liaisonv1.ExchangeResponse

// fakeBravo is bravo's FederationService as a test drives it.
type fakeBravo struct {
	liaisonv1.UnimplementedFederationServiceServer
	t       *testing.T
	mu      sync.Mutex
	answer  fakeAnswer
	answers atomic.Int64 // batches answered
}

func (f *fakeBravo) setAnswer(a fakeAnswer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answer = a
}

func (f *fakeBravo) Exchange(stream liaisonv1.FederationService_ExchangeServer) error {
	if _, err := stream.Recv(); err != nil { // the hello
		return err
	}
	if err := stream.Send(&liaisonv1.ExchangeResponse{Msg: &liaisonv1.ExchangeResponse_Welcome{Welcome: &liaisonv1.Welcome{}}}); err != nil {
		return err
	}
	for {
		req, err := stream.Recv()
		if err != nil {
			return err
		}
		rs := &liaisonv1.Receipts{}
		for _, raw := range req.GetBatch().GetEnvelopes() {
			env := &liaisonv1.Envelope{}
			if err := proto.Unmarshal(raw, env); err != nil {
				return err
			}
			rs.Receipts = append(rs.Receipts, &liaisonv1.Receipt{Sequence: env.GetSequence(), EnvelopeId: env.GetId(),
				Status: liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED, ApplyTime: timestamppb.Now(), EnvelopeHash: federation.LeafHash(raw),
				Kind: env.GetKind(), RecordId: env.GetRecordId(), RecordVersion: env.GetRecordVersion()})
			rs.HighestApplied = env.GetSequence()
		}
		f.mu.Lock()
		answer := f.answer
		f.mu.Unlock()
		if err := stream.Send(answer(f.t, rs)); err != nil {
			return err
		}
		f.answers.Add(1)
	}
}

// signedAnswer signs the receipts with k as signer's answer to recipient.
func signedAnswer(k func(t *testing.T) secKey, signer, recipient string) fakeAnswer {
	return func(t *testing.T, rs *liaisonv1.Receipts) *liaisonv1.ExchangeResponse {
		key := k(t)
		sr, err := federation.SignReceipts(key.key, key.chain, signer, recipient, rs)
		if err != nil {
			t.Error(err)
		}
		return &liaisonv1.ExchangeResponse{Msg: &liaisonv1.ExchangeResponse_SignedReceipts{SignedReceipts: sr}}
	}
}

// TestReceipts_ForgedAreNotRecorded has bravo answer alpha's batch with
// receipts that are unsigned or not signed by bravo's node for alpha: alpha
// stores none of them, audits and logs the refusal, says so in its
// federation status, and sends the batch again — and once bravo answers
// with receipts its node signed, they are stored with their signature.
func TestReceipts_ForgedAreNotRecorded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		answer func(s *secNode) fakeAnswer
		// why is part of the refusal in words.
		why string
	}{
		{"unsigned receipts", func(*secNode) fakeAnswer {
			return func(_ *testing.T, rs *liaisonv1.Receipts) *liaisonv1.ExchangeResponse {
				return &liaisonv1.ExchangeResponse{Msg: &liaisonv1.ExchangeResponse_Receipts{Receipts: rs}}
			}
		}, "unsigned"},
		{"no signature", func(*secNode) fakeAnswer {
			return func(t *testing.T, rs *liaisonv1.Receipts) *liaisonv1.ExchangeResponse {
				sr := &liaisonv1.SignedReceipts{HighestApplied: rs.GetHighestApplied()}
				for _, rc := range rs.GetReceipts() {
					sr.Receipts = append(sr.Receipts, secMarshal(t, rc))
				}
				return &liaisonv1.ExchangeResponse{Msg: &liaisonv1.ExchangeResponse_SignedReceipts{SignedReceipts: sr}}
			}
		}, "no signature"},
		{"signed with alpha's own node key", func(s *secNode) fakeAnswer {
			return signedAnswer(func(t *testing.T) secKey { return s.nodeKey(t, "alpha") }, "bravo", "alpha")
		}, "does not chain to bravo's CA"},
		{"signed with a third agency's node key", func(s *secNode) fakeAnswer {
			return signedAnswer(func(t *testing.T) secKey { return s.nodeKey(t, "charlie") }, "bravo", "alpha")
		}, "does not chain to bravo's CA"},
		{"signed with bravo's analyst key", func(s *secNode) fakeAnswer {
			return signedAnswer(func(t *testing.T) secKey {
				return secLoadKey(t, s.pki.Path("bravo", "analyst.crt"), s.pki.Path("bravo", "analyst.key"))
			}, "bravo", "alpha")
		}, "is not spiffe://bravo.liaison.test/node"},
		{"signed by bravo for another agency", func(s *secNode) fakeAnswer {
			return signedAnswer(func(t *testing.T) secKey { return s.nodeKey(t, "bravo") }, "bravo", "charlie")
		}, "signature does not verify"},
		{"a receipt changed after signing", func(s *secNode) fakeAnswer {
			return func(t *testing.T, rs *liaisonv1.Receipts) *liaisonv1.ExchangeResponse {
				resp := signedAnswer(func(t *testing.T) secKey { return s.nodeKey(t, "bravo") }, "bravo", "alpha")(t, rs)
				rc := proto.Clone(rs.GetReceipts()[0]).(*liaisonv1.Receipt)
				rc.Status = liaisonv1.ReceiptStatus_RECEIPT_STATUS_REJECTED
				resp.GetSignedReceipts().Receipts[0] = secMarshal(t, rc)
				return resp
			}
		}, "Merkle root does not match"},
		{"highest applied changed after signing", func(s *secNode) fakeAnswer {
			return func(t *testing.T, rs *liaisonv1.Receipts) *liaisonv1.ExchangeResponse {
				resp := signedAnswer(func(t *testing.T) secKey { return s.nodeKey(t, "bravo") }, "bravo", "alpha")(t, rs)
				resp.GetSignedReceipts().HighestApplied += 100
				return resp
			}
		}, "signature does not verify"},
		{"signed by bravo, naming another envelope", func(s *secNode) fakeAnswer {
			return func(t *testing.T, rs *liaisonv1.Receipts) *liaisonv1.ExchangeResponse {
				rs.GetReceipts()[0].EnvelopeHash = federation.LeafHash([]byte("another envelope"))
				return signedAnswer(func(t *testing.T) secKey { return s.nodeKey(t, "bravo") }, "bravo", "alpha")(t, rs)
			}
		}, "does not name the envelope sent"},
		{"signed by bravo, naming another record", func(s *secNode) fakeAnswer {
			return func(t *testing.T, rs *liaisonv1.Receipts) *liaisonv1.ExchangeResponse {
				rs.GetReceipts()[0].RecordId = "01900000-0000-7000-8000-000000000000"
				return signedAnswer(func(t *testing.T) secKey { return s.nodeKey(t, "bravo") }, "bravo", "alpha")(t, rs)
			}
		}, "does not name the envelope sent"},
		{"bravo's batch signature passed off as a receipts signature", func(s *secNode) fakeAnswer {
			return func(t *testing.T, rs *liaisonv1.Receipts) *liaisonv1.ExchangeResponse {
				resp := signedAnswer(func(t *testing.T) secKey { return s.nodeKey(t, "bravo") }, "bravo", "alpha")(t, rs)
				sig := resp.GetSignedReceipts().GetSignature()
				batchSig, err := federation.SignRoot(s.nodeKey(t, "bravo").key, "bravo", "alpha", sig.GetMerkleRoot())
				if err != nil {
					t.Error(err)
				}
				sig.Signature = batchSig
				return resp
			}
		}, "signature does not verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pki := nodetest.NewPKI(t, "alpha", "bravo", "charlie")
			lis := nodetest.Listen(t)
			cfg := pki.Config("alpha", t.TempDir(), "bravo")
			cfg.Partners[0].Address = lis.Addr().String()
			s := secOn(t, nodetest.Start(t, pki, cfg, nil))
			fake := &fakeBravo{t: t}
			fake.setAnswer(tc.answer(s))
			m, err := mtls.New(mtls.Options{
				Own:      mtls.Agency{Code: "bravo", TrustDomain: "bravo.liaison.test", CAFile: pki.Path("bravo", "ca.crt")},
				Partners: []mtls.Agency{{Code: "alpha", TrustDomain: "alpha.liaison.test", CAFile: pki.Path("alpha", "ca.crt")}},
				CertFile: pki.Path("bravo", "node.crt"), KeyFile: pki.Path("bravo", "node.key"),
			})
			if err != nil {
				t.Fatal(err)
			}
			srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(m.ServerConfig())))
			liaisonv1.RegisterFederationServiceServer(srv, fake)
			go srv.Serve(lis)
			t.Cleanup(srv.Stop)

			ctx := context.Background()
			analyst := liaisonv1.NewLeadServiceClient(s.node.Conn(t, "analyst"))
			c, err := analyst.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: newLead("receipted by a fake bravo")})
			if err != nil {
				t.Fatal(err)
			}
			id := c.GetLead().GetId()
			if _, err := s.leads.ReleaseLead(ctx, &liaisonv1.ReleaseLeadRequest{Id: id, Partners: []string{"bravo"}}); err != nil {
				t.Fatal(err)
			}
			// Refused, then sent again: the channel retries.
			nodetest.Eventually(t, 15*time.Second, func() error {
				if n := fake.answers.Load(); n < 2 {
					return fmt.Errorf("bravo answered %d batches, want the batch sent again after a refusal", n)
				}
				return nil
			})
			db := cfg.Database.Path
			if n := countRows(t, db, "SELECT count(*) FROM outbox WHERE partner = 'bravo' AND receipt_status != 0"); n != 0 {
				t.Errorf("alpha recorded %d receipts bravo did not sign", n)
			}
			if n := countRows(t, db, "SELECT count(*) FROM outbox_receipts"); n != 0 {
				t.Errorf("alpha stored %d receipts bravo did not sign", n)
			}
			if n := countRows(t, db, "SELECT acked_seq FROM out_channels WHERE partner = 'bravo'"); n != 0 {
				t.Errorf("channel acknowledged up to %d on receipts bravo did not sign", n)
			}
			ev := s.assertAudited(t, "federation.receipts.refused", tc.why)
			if ev.GetOutcome() == "OK" || !strings.Contains(ev.GetDetail(), "bravo") {
				t.Errorf("audit event of the refusal: %v", ev)
			}
			// Each reconnection clears the last error until the next
			// refusal sets it again: look until it is seen.
			admin := liaisonv1.NewFederationAdminServiceClient(s.node.Conn(t, "supervisor"))
			nodetest.Eventually(t, 10*time.Second, func() error {
				st, err := admin.GetFederationStatus(ctx, &liaisonv1.GetFederationStatusRequest{})
				if err != nil {
					return err
				}
				if e := st.GetPartners()[0].GetLastError(); !strings.Contains(e, "receipts from bravo refused") {
					return fmt.Errorf("status last error %q does not say receipts were refused", e)
				}
				return nil
			})

			// bravo answers honestly now: the batch sent again is receipted
			// and the signed receipt kept.
			fake.setAnswer(signedAnswer(func(t *testing.T) secKey { return s.nodeKey(t, "bravo") }, "bravo", "alpha"))
			nodetest.Eventually(t, 15*time.Second, func() error {
				if n := countRows(t, db, "SELECT count(*) FROM outbox o JOIN outbox_receipts r USING (partner, seq) WHERE o.record_id = ? AND o.receipt_status = 1", id); n != 1 {
					return fmt.Errorf("%d signed receipts stored for the release, want 1", n)
				}
				return nil
			})
		})
	}
}

// secReceipts checks that an answer from the node of agency to sender is
// receipts signed by that node, and returns them.
func secReceipts(t testing.TB, pki *nodetest.PKI, agency, sender string, resp *liaisonv1.ExchangeResponse) *liaisonv1.Receipts {
	t.Helper()
	sr := resp.GetSignedReceipts()
	if sr == nil {
		t.Fatalf("%s answered a batch with %v, want signed receipts", agency, resp)
	}
	cas, err := mtls.ReadCAs(pki.Path(agency, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	check := federation.SignerCheck{CAs: cas, Sender: agency, TrustDomain: agency + ".liaison.test"}
	rs, _, err := federation.OpenReceipts(check, sender, sr, time.Now())
	if err != nil {
		t.Fatalf("%s's receipts do not verify: %v", agency, err)
	}
	return rs
}
