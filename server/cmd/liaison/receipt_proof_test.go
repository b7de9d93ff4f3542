package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// TestReceiptProof releases a lead from alpha to bravo and withdraws it;
// alpha then holds bravo's signed receipt for the tombstone, and the
// evidence file it writes is checked offline with bravo's CA certificate
// alone — and fails with one byte of a receipt changed or with another
// agency's CA.
func TestReceiptProof(t *testing.T) {
	alpha, bravo := nodetest.Pair(t, nil)
	ctx := context.Background()
	analyst := liaisonv1.NewLeadServiceClient(alpha.Conn(t, "analyst"))
	supervisor := liaisonv1.NewLeadServiceClient(alpha.Conn(t, "supervisor"))
	c, err := analyst.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: &liaisonv1.Lead{
		Title: "prove my deletion", Summary: "s", CrimeAreas: []liaisonv1.CrimeArea{liaisonv1.CrimeArea_CRIME_AREA_MIGRANT_SMUGGLING},
		Evaluation: &liaisonv1.Evaluation{SourceReliability: 1, InformationAccuracy: 1},
		Handling:   &liaisonv1.Handling{Code: liaisonv1.HandlingCode_HANDLING_CODE_H0},
	}})
	if err != nil {
		t.Fatal(err)
	}
	id := c.GetLead().GetId()
	if _, err := supervisor.ReleaseLead(ctx, &liaisonv1.ReleaseLeadRequest{Id: id, Partners: []string{"bravo"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := supervisor.WithdrawLead(ctx, &liaisonv1.WithdrawLeadRequest{Id: id, Reason: "source burned"}); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 10*time.Second, func() error {
		r, err := analyst.ListLeadReceipts(ctx, &liaisonv1.ListLeadReceiptsRequest{Id: id})
		if err != nil {
			return err
		}
		for _, d := range r.GetDeliveries() {
			if d.GetKind() == liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD_TOMBSTONE && d.GetStatus() == liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED {
				return nil
			}
		}
		return fmt.Errorf("no applied tombstone receipt yet: %v", r.GetDeliveries())
	})
	bravo.Stop(t)
	alpha.Stop(t)
	bravoCA, alphaCA := alpha.PKI.Path("bravo", "ca.crt"), alpha.PKI.Path("alpha", "ca.crt")

	evidence := filepath.Join(t.TempDir(), "evidence.json")
	var out bytes.Buffer
	if err := run(ctx, []string{"federation", "receipt-proof", "--db", alpha.Cfg.Database.Path, "--partner", "bravo", "--record", id, "--out", evidence}, &out); err != nil {
		t.Fatalf("receipt-proof: %v\n%s", err, out.String())
	}
	t.Logf("receipt-proof:\n%s", out.String())

	check := func(t *testing.T, file, ca string) (string, error) {
		t.Helper()
		var out bytes.Buffer
		err := run(ctx, []string{"federation", "check-receipt", file, "--ca", ca}, &out)
		t.Logf("check-receipt %s:\n%s", filepath.Base(ca), out.String())
		return out.String(), err
	}

	t.Run("checks offline with bravo's CA only", func(t *testing.T) {
		got, err := check(t, evidence, bravoCA)
		if err != nil {
			t.Fatalf("check-receipt: %v", err)
		}
		for _, want := range []string{
			"bravo confirmed it deleted its copy of lead " + id + " at ",
			"(APPLIED, envelope ",
			"seq 2)",
			"bravo confirmed it received lead " + id + " v",
		} {
			if !strings.Contains(got, want) {
				t.Errorf("output does not say %q", want)
			}
		}
	})

	t.Run("fails with alpha's CA", func(t *testing.T) {
		got, err := check(t, evidence, alphaCA)
		var code exitError
		if !errors.As(err, &code) || code != 2 {
			t.Fatalf("check with alpha's CA: err %v, want exit status 2", err)
		}
		if strings.Contains(got, "confirmed") && !strings.Contains(got, "NOT VERIFIED") {
			t.Errorf("output claims a confirmation: %s", got)
		}
	})

	t.Run("fails with one byte of the tombstone's receipt changed", func(t *testing.T) {
		b, err := os.ReadFile(evidence)
		if err != nil {
			t.Fatal(err)
		}
		ev := &liaisonv1.ReceiptEvidence{}
		if err := protojson.Unmarshal(b, ev); err != nil {
			t.Fatal(err)
		}
		if len(ev.GetDeliveries()) != 2 {
			t.Fatalf("evidence holds %d deliveries, want the release and the tombstone", len(ev.GetDeliveries()))
		}
		// Its last byte, the record version: the receipt still decodes
		// and names the same envelope and record.
		rc := ev.GetDeliveries()[1].GetReceipt()
		rc[len(rc)-1] ^= 0x01
		tampered := filepath.Join(t.TempDir(), "tampered.json")
		b, err = protojson.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(tampered, b, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := check(t, tampered, bravoCA)
		var code exitError
		if !errors.As(err, &code) || code != 2 {
			t.Fatalf("check of a changed receipt: err %v, want exit status 2", err)
		}
		if strings.Contains(got, "confirmed it deleted") {
			t.Errorf("a changed receipt is still taken as a deletion confirmation: %s", got)
		}
	})
}
