package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/federation"
	"github.com/liaison-exchange/liaison/server/mtls"
	"github.com/liaison-exchange/liaison/server/store"
)

// federationReceiptProof writes the evidence of what a partner's node
// answered to the envelopes about one record: its signed receipts, each
// with the Merkle path to the root its node signed, the signature and the
// signer chain. No record content goes into the file.
func federationReceiptProof(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("federation receipt-proof", flag.ContinueOnError)
	dbPath := fs.String("db", "", "the node's database file")
	partner := fs.String("partner", "", "the partner agency whose receipts to prove")
	record := fs.String("record", "", "the record id (e.g. a lead's)")
	out := fs.String("out", "", "the evidence file to write (must not exist)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dbPath == "" || *partner == "" || *record == "" || *out == "" {
		return errors.New("federation receipt-proof: --db, --partner, --record and --out are required")
	}
	r, err := store.OpenReadOnly(*dbPath)
	if err != nil {
		return fmt.Errorf("federation receipt-proof: %w", err)
	}
	defer r.Close()
	proofs, err := r.ReceiptProofs(ctx, *partner, *record)
	if err != nil {
		return err
	}
	if len(proofs) == 0 {
		return fmt.Errorf("federation receipt-proof: nothing about %s was ever sent to %s", *record, *partner)
	}
	ev := &liaisonv1.ReceiptEvidence{Format: federation.EvidenceFormat, Receiver: *partner, RecordId: *record}
	for _, p := range proofs {
		env := &liaisonv1.Envelope{}
		if err := proto.Unmarshal(p.Envelope, env); err != nil {
			return fmt.Errorf("envelope %d to %s: %w", p.Seq, *partner, err)
		}
		ev.Sender = env.GetSender()
		what := fmt.Sprintf("envelope %s seq %d (%s v%d)", env.GetId(), p.Seq, strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(env.GetKind().String(), "ENVELOPE_KIND_")), "_", " "), env.GetRecordVersion())
		if !p.Signed {
			why := "no receipt yet"
			if p.ReceiptStatus != liaisonv1.ReceiptStatus_RECEIPT_STATUS_UNSPECIFIED {
				why = "receipted before receipts were signed: nothing to prove it with"
			}
			fmt.Fprintf(stdout, "  not included: %s: %s\n", what, why)
			continue
		}
		ev.Deliveries = append(ev.Deliveries, &liaisonv1.DeliveryEvidence{
			Receipt: p.Receipt, ReceiptProof: p.Proof, HighestApplied: uint64(p.Batch.HighestApplied),
			Signature:   &liaisonv1.ReceiptsSignature{MerkleRoot: p.Batch.Root, Signature: p.Batch.Signature, SignerChain: p.Batch.SignerChain},
			ReceiveTime: timestamppb.New(p.ReceiveTime),
		})
		fmt.Fprintf(stdout, "  signed receipt: %s: %s\n", what, strings.TrimPrefix(p.ReceiptStatus.String(), "RECEIPT_STATUS_"))
	}
	if len(ev.Deliveries) == 0 {
		return fmt.Errorf("federation receipt-proof: %s holds no signed receipt of %s for %s", *dbPath, *partner, *record)
	}
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(ev)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("federation receipt-proof: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("federation receipt-proof: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("federation receipt-proof: %w", err)
	}
	fmt.Fprintf(stdout, "%d signed receipt(s) of %s for %s written to %s; check with: liaison federation check-receipt %s --ca %s-ca.crt\n",
		len(ev.Deliveries), *partner, *record, *out, *out, *partner)
	return nil
}

// federationCheckReceipt verifies an evidence file offline, with only the
// partner's CA certificate, and says what each receipt confirms. Exit
// status 2: some receipt does not verify.
func federationCheckReceipt(_ context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("federation check-receipt", flag.ContinueOnError)
	ca := fs.String("ca", "", "the CA certificate (PEM) of the agency whose node signed the receipts")
	td := fs.String("trust-domain", "", "that agency's SPIFFE trust domain (default: <agency>.liaison.test)")
	file, err := parseFileArg(fs, args)
	if err != nil {
		return err
	}
	if file == "" || *ca == "" {
		return errors.New("usage: liaison federation check-receipt FILE --ca PARTNER-CA.crt [--trust-domain DOMAIN]")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("federation check-receipt: %w", err)
	}
	ev := &liaisonv1.ReceiptEvidence{}
	if err := protojson.Unmarshal(b, ev); err != nil {
		return fmt.Errorf("federation check-receipt: %s is not an evidence file: %w", file, err)
	}
	if ev.GetFormat() != federation.EvidenceFormat {
		return fmt.Errorf("federation check-receipt: %s: format %q, want %q", file, ev.GetFormat(), federation.EvidenceFormat)
	}
	cas, err := mtls.ReadCAs(*ca)
	if err != nil {
		return fmt.Errorf("federation check-receipt: CA: %w", err)
	}
	trustDomain := *td
	if trustDomain == "" {
		trustDomain = ev.GetReceiver() + ".liaison.test"
	}
	check := federation.SignerCheck{CAs: cas, Sender: ev.GetReceiver(), TrustDomain: trustDomain}
	bad := 0
	for i, d := range ev.GetDeliveries() {
		rc, err := federation.VerifyDelivery(check, ev.GetSender(), ev.GetRecordId(), d)
		if err != nil {
			bad++
			fmt.Fprintf(stdout, "NOT VERIFIED: receipt %d of %d: %v\n", i+1, len(ev.GetDeliveries()), err)
			continue
		}
		fmt.Fprintln(stdout, federation.DescribeReceipt(ev.GetReceiver(), rc))
	}
	if bad > 0 || len(ev.GetDeliveries()) == 0 {
		fmt.Fprintf(stdout, "%d of %d receipt(s) do NOT verify against %s\n", bad, len(ev.GetDeliveries()), *ca)
		return exitError(2)
	}
	fmt.Fprintf(stdout, "%d receipt(s) verified: signed by spiffe://%s/node, whose certificate chains to %s (revocation not checked offline)\n",
		len(ev.GetDeliveries()), trustDomain, *ca)
	return nil
}
