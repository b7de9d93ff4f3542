package store

import (
	"context"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// The ids of the records of TestRecordsUnder_EveryKind.
const (
	heldLead     = "0190a3b1-0000-7000-8000-000000000001"
	heldCase     = "0190a3b1-0000-7000-8000-000000000002"
	heldEntry    = "0190a3b1-0000-7000-8000-000000000003"
	heldManifest = "0190a3b1-0000-7000-8000-000000000004"
	heldAction   = "0190a3b1-0000-7000-8000-000000000005"
	heldOrphan   = "0190a3b1-0000-7000-8000-000000000006" // an action of a manifest not held
	heldNothing  = "0190a3b1-0000-7000-8000-000000000007"
)

// holdEveryKind stores a lead homed on bravo, a case homed on alpha with
// an entry, and a manifest from bravo to charlie with an action, and an
// action whose manifest is not held.
func holdEveryKind(tb testing.TB, s *Store) {
	tb.Helper()
	now := timestamppb.Now()
	err := s.Write(context.Background(), func(tx *Tx) error {
		if err := tx.InsertLead(&liaisonv1.Lead{Id: heldLead, OriginAgency: "bravo", Version: 1, CreateTime: now, UpdateTime: now}); err != nil {
			return err
		}
		if err := tx.InsertCase(&liaisonv1.Case{Id: heldCase, OriginAgency: "alpha", Version: 1, CreateTime: now, UpdateTime: now}); err != nil {
			return err
		}
		if err := tx.PutCaseEntry(&liaisonv1.CaseEntry{Id: heldEntry, CaseId: heldCase, Agency: "alpha", CreateTime: now}); err != nil {
			return err
		}
		if err := tx.InsertManifest(&liaisonv1.Manifest{Id: heldManifest, OriginAgency: "bravo", ReceivingAgency: "charlie", Version: 1, CreateTime: now, UpdateTime: now}); err != nil {
			return err
		}
		for _, a := range []struct{ id, manifest string }{{heldAction, heldManifest}, {heldOrphan, heldNothing}} {
			if err := tx.PutManifestAction(ManifestActionRow{Action: &liaisonv1.ManifestAction{Id: a.id, ManifestId: a.manifest, CreateTime: now}, State: "pending"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// TestRecordsUnder_EveryKind: what the ownership rule reads of the records
// held under an id — kind, home and the record it belongs to.
func TestRecordsUnder_EveryKind(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "node.db"))
	defer mustClose(t, s)
	holdEveryKind(t, s)
	for _, c := range []struct {
		id   string
		want []HeldRecord
	}{
		{heldLead, []HeldRecord{{Kind: "lead", Home: "bravo"}}},
		{heldCase, []HeldRecord{{Kind: "case", Home: "alpha"}}},
		{heldEntry, []HeldRecord{{Kind: "case_entry", Home: "alpha", Parent: heldCase}}},
		{heldManifest, []HeldRecord{{Kind: "manifest", Home: "bravo"}}},
		// A manifest action's home is the agency the manifest goes to.
		{heldAction, []HeldRecord{{Kind: "manifest_action", Home: "charlie", Parent: heldManifest}}},
		// One whose manifest is not held has no home any partner is.
		{heldOrphan, []HeldRecord{{Kind: "manifest_action", Home: "", Parent: heldNothing}}},
		{heldNothing, nil},
	} {
		var got []HeldRecord
		if err := s.Write(context.Background(), func(tx *Tx) (err error) {
			got, err = tx.RecordsUnder(c.id)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(c.want) || len(got) > 0 && got[0] != c.want[0] {
			t.Errorf("RecordsUnder(%s) = %+v, want %+v", c.id, got, c.want)
		}
	}
}

// BenchmarkRecordsUnder is the ownership rule's lookup, once or twice for
// every envelope a node applies: of an id held by nothing (a new
// replica) and of a case entry.
func BenchmarkRecordsUnder(b *testing.B) {
	s := mustOpen(b, filepath.Join(b.TempDir(), "node.db"))
	defer mustClose(b, s)
	holdEveryKind(b, s)
	for _, c := range []struct{ name, id string }{{"new", heldNothing}, {"entry", heldEntry}} {
		b.Run(c.name, func(b *testing.B) {
			err := s.Write(context.Background(), func(tx *Tx) error {
				for b.Loop() {
					if _, err := tx.RecordsUnder(c.id); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		})
	}
}
