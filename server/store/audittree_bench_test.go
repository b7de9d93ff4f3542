package store_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/store"
)

// BenchmarkAuditAppend is the cost of appending one audit event in a
// group commit of 20 (the size CreateLead commits reach at concurrency 50),
// with its leaf and tree hashes, on a real file with synchronous=full.
func BenchmarkAuditAppend(b *testing.B) {
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(b.TempDir(), "bench.db"), store.Options{Agency: "alpha"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	e := audit.Event{Principal: "spiffe://alpha.liaison.test/analyst/alice", Role: "analyst", Action: "/liaison.v1.LeadService/GetLead",
		Resource: "leads/01a24c62-5c02-7624-8682-ba3fa4aeac71", Outcome: "OK", RequestID: "01a24c62-5c02-7624-8682-ba3fa4aeac72"}
	b.ResetTimer()
	for i := 0; i < b.N; i += 20 {
		if err := s.Write(ctx, func(tx *store.Tx) error {
			for k := 0; k < 20; k++ {
				ev := e
				if err := tx.Audit(&ev); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
}
