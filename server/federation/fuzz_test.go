package federation

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/liaison-exchange/liaison/certs"
	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/store"
)

// refFold reads a proof as federation.proto documents it, independently of
// VerifyProof: steps of a side byte (0: sibling on the left, 1: on the
// right) and a 32-byte sibling; inner nodes are SHA-256(0x01||left||right).
// ok is false for a proof that is not well formed.
func refFold(leaf, proof []byte) (root []byte, ok bool) {
	if len(proof)%33 != 0 || len(proof)/33 > 64 {
		return nil, false
	}
	h := leaf
	for i := 0; i < len(proof); i += 33 {
		side, sib := proof[i], proof[i+1:i+33]
		var b []byte
		switch side {
		case 0:
			b = append(append([]byte{1}, sib...), h...)
		case 1:
			b = append(append([]byte{1}, h...), sib...)
		default:
			return nil, false
		}
		sum := sha256.Sum256(b)
		h = sum[:]
	}
	return h, true
}

// refRoot builds the root level by level as federation.proto documents
// it: an unpaired node is promoted to the next level unchanged.
func refRoot(leaves [][]byte) []byte {
	level := leaves
	for len(level) > 1 {
		var next [][]byte
		for i := 0; i < len(level); i += 2 {
			if i+1 == len(level) {
				next = append(next, level[i])
				continue
			}
			sum := sha256.Sum256(append(append([]byte{1}, level[i]...), level[i+1]...))
			next = append(next, sum[:])
		}
		level = next
	}
	return level[0]
}

// distinctLeaves makes n leaf hashes of distinct envelopes from seed.
func distinctLeaves(seed []byte, n int) [][]byte {
	leaves := make([][]byte, n)
	for i := range leaves {
		leaves[i] = LeafHash(binary.BigEndian.AppendUint32(append([]byte(nil), seed...), uint32(i)))
	}
	return leaves
}

func flipped(b []byte, bit int) []byte {
	c := append([]byte(nil), b...)
	c[bit/8] ^= 1 << (bit % 8)
	return c
}

// FuzzMerkleProof checks VerifyProof on arbitrary input (it never panics
// and accepts exactly the proofs that fold to the root) and on trees built
// from the input (every proof verifies; any flipped bit of the leaf, proof
// or root, or another leaf, fails).
func FuzzMerkleProof(f *testing.F) {
	leaves := distinctLeaves([]byte("seed"), 5)
	root, proofs := MerkleTree(leaves)
	f.Add([]byte("seed"), uint16(5), uint16(2), uint32(7), leaves[2], proofs[2], root)
	f.Add([]byte("seed"), uint16(1), uint16(0), uint32(0), leaves[0], []byte{}, leaves[0])
	f.Add([]byte{}, uint16(300), uint16(299), uint32(1000), leaves[4], proofs[4], root)
	f.Add([]byte{0}, uint16(2), uint16(1), uint32(3), []byte{}, []byte{2}, []byte{})
	f.Add([]byte("x"), uint16(64), uint16(63), uint32(99), leaves[1], append(proofs[1], 7), root[:31])
	f.Fuzz(func(t *testing.T, seed []byte, n, idx uint16, flip uint32, leaf, proof, root []byte) {
		// Arbitrary input: accepted exactly when the proof folds to root.
		err := VerifyProof(leaf, proof, root)
		want, ok := refFold(leaf, proof)
		if ok && bytes.Equal(want, root) {
			if err != nil {
				t.Fatalf("VerifyProof refused a proof that folds to the root: %v", err)
			}
		} else if err == nil {
			t.Fatalf("VerifyProof accepted leaf %x, proof %x for root %x", leaf, proof, root)
		}

		// A tree built from the input.
		count := int(n%300) + 1
		leaves := distinctLeaves(seed, count)
		root2, proofs := MerkleTree(leaves)
		if !bytes.Equal(root2, refRoot(leaves)) {
			t.Fatalf("root of %d leaves differs from the documented construction", count)
		}
		if len(proofs) != count {
			t.Fatalf("%d proofs for %d leaves", len(proofs), count)
		}
		i := int(idx) % count
		p := proofs[i]
		if err := VerifyProof(leaves[i], p, root2); err != nil {
			t.Fatalf("leaf %d of %d: own proof does not verify: %v", i, count, err)
		}
		if steps, most := len(p)/33, bits.Len(uint(count-1)); len(p)%33 != 0 || steps > most {
			t.Fatalf("leaf %d of %d: proof of %d bytes, want whole steps, at most %d", i, count, len(p), most)
		}
		if VerifyProof(flipped(leaves[i], int(flip)%(8*len(leaves[i]))), p, root2) == nil {
			t.Fatal("a flipped bit of the leaf verifies")
		}
		if VerifyProof(leaves[i], p, flipped(root2, int(flip)%(8*len(root2)))) == nil {
			t.Fatal("a flipped bit of the root verifies")
		}
		if len(p) > 0 && VerifyProof(leaves[i], flipped(p, int(flip)%(8*len(p))), root2) == nil {
			t.Fatalf("a flipped bit %d of the proof verifies", int(flip)%(8*len(p)))
		}
		if count > 1 {
			j := (i + 1 + int(flip)%(count-1)) % count
			if VerifyProof(leaves[j], p, root2) == nil {
				t.Fatalf("leaf %d verifies with the proof of leaf %d", j, i)
			}
		}
		if len(p) > 0 && VerifyProof(leaves[i], p[:len(p)-33], root2) == nil {
			t.Fatal("a proof missing its last step verifies")
		}
	})
}

// fuzzSigner is a bravo CA and node key made once per process.
type fuzzSigner struct {
	check SignerCheck
	at    time.Time
	root  []byte
	sig   []byte
	node  []byte // DER
	seeds [][]byte
}

func newFuzzSigner(tb testing.TB) *fuzzSigner {
	ca, err := certs.NewCA("bravo")
	if err != nil {
		tb.Fatal(err)
	}
	node, err := ca.IssueNode("bravo")
	if err != nil {
		tb.Fatal(err)
	}
	analyst, err := ca.IssueClient("bravo", "analyst", "bob")
	if err != nil {
		tb.Fatal(err)
	}
	other, err := certs.NewCA("charlie")
	if err != nil {
		tb.Fatal(err)
	}
	fake, err := other.Issue(certs.LeafOptions{URI: certs.NodeID("bravo"), Server: true})
	if err != nil {
		tb.Fatal(err)
	}
	root := sha256.Sum256([]byte("a batch"))
	sig, err := SignRoot(node.Key, "bravo", "alpha", root[:])
	if err != nil {
		tb.Fatal(err)
	}
	fakeSig, err := SignRoot(fake.Key, "bravo", "alpha", root[:])
	if err != nil {
		tb.Fatal(err)
	}
	return &fuzzSigner{
		check: SignerCheck{CAs: []*x509.Certificate{ca.Cert}, Sender: "bravo", TrustDomain: certs.TrustDomain("bravo")},
		at:    time.Now(), root: root[:], sig: sig, node: node.Cert.Raw,
		seeds: [][]byte{node.Cert.Raw, analyst.Cert.Raw, fake.Cert.Raw, ca.Cert.Raw, fakeSig},
	}
}

// FuzzSignerCheck feeds SignerCheck.Verify arbitrary roots, signatures,
// certificate chains and receivers: it never panics and accepts only the
// one genuine signature of bravo's node over its root, for alpha.
func FuzzSignerCheck(f *testing.F) {
	s := newFuzzSigner(f)
	one := store.JoinDER([][]byte{s.node})
	f.Add(s.root, s.sig, one, "alpha")
	f.Add(s.root, s.sig, one, "charlie")
	f.Add(s.root, s.sig, store.JoinDER([][]byte{s.node, s.seeds[3]}), "alpha")
	f.Add(s.root, s.sig, store.JoinDER([][]byte{s.seeds[1]}), "alpha")
	f.Add(s.root, s.seeds[4], store.JoinDER([][]byte{s.seeds[2]}), "alpha")
	f.Add(s.root[:31], s.sig, one, "alpha")
	f.Add(s.root, flipped(s.sig, 77), one, "alpha")
	f.Add([]byte{}, []byte{}, []byte{}, "")
	f.Add(s.root, s.sig, []byte{0, 0, 0, 9, 1, 2}, "alpha")
	f.Fuzz(func(t *testing.T, root, sig, chainBytes []byte, receiver string) {
		chain, err := store.SplitDER(chainBytes)
		if err != nil {
			chain = [][]byte{chainBytes}
		}
		err = s.check.Verify(receiver, root, sig, chain, s.at)
		if err != nil {
			return
		}
		if receiver != "alpha" || !bytes.Equal(root, s.root) || len(chain) == 0 || !bytes.Equal(chain[0], s.node) {
			t.Fatalf("verified a signature that bravo's node never made: receiver %q, root %x, chain %d certificates", receiver, root, len(chain))
		}
	})
}

// FuzzEnvelopeDecode decodes arbitrary bytes as the messages that travel
// between nodes: decoding never panics, and whatever decodes re-encodes to
// a fixed point (deterministic marshal, decode, marshal gives the same
// bytes).
func FuzzEnvelopeDecode(f *testing.F) {
	det := proto.MarshalOptions{Deterministic: true}
	lead := &liaisonv1.Lead{Id: "0190f1c2-0000-7000-8000-000000000001", OriginAgency: "bravo", Version: 3, Title: "t", Summary: "s",
		CrimeAreas: []liaisonv1.CrimeArea{liaisonv1.CrimeArea_CRIME_AREA_MIGRANT_SMUGGLING}, Handling: &liaisonv1.Handling{Code: liaisonv1.HandlingCode_HANDLING_CODE_H2},
		Subjects: []*liaisonv1.Person{{Names: []*liaisonv1.PersonName{{FamilyName: "Chen", GivenNames: "Wei"}}}}}
	payloads := map[liaisonv1.EnvelopeKind]proto.Message{
		liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD:                lead,
		liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD_TOMBSTONE:      &liaisonv1.Tombstone{RecordId: lead.Id, OriginAgency: "bravo", Version: 4, DeleteTime: timestamppb.Now()},
		liaisonv1.EnvelopeKind_ENVELOPE_KIND_PERMISSION_REQUEST:  &liaisonv1.PermissionRequest{Id: "r", RecordId: lead.Id, OriginAgency: "alpha", RequestingAgency: "bravo", Justification: "j"},
		liaisonv1.EnvelopeKind_ENVELOPE_KIND_PERMISSION_DECISION: &liaisonv1.PermissionRequest{Id: "r", Status: liaisonv1.PermissionStatus_PERMISSION_STATUS_GRANTED},
	}
	for kind, m := range payloads {
		p, err := det.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		env, err := det.Marshal(&liaisonv1.Envelope{Id: "e", Sender: "bravo", Receiver: "alpha", Sequence: 7, Kind: kind, RecordId: lead.Id, RecordVersion: 3, CreateTime: timestamppb.Now(), Payload: p})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(env)
		f.Add(p)
	}
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{0x4a, 0x80, 0x80, 0x80, 0x80, 0x10})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(LeafHash(b)) != sha256.Size {
			t.Fatal("leaf hash is not 32 bytes")
		}
		fixedPoint := func(m proto.Message) bool {
			if proto.Unmarshal(b, m) != nil {
				return false
			}
			once, err := det.Marshal(m)
			if err != nil {
				t.Fatalf("%T decoded but does not encode: %v", m, err)
			}
			again := m.ProtoReflect().New().Interface()
			if err := proto.Unmarshal(once, again); err != nil {
				t.Fatalf("%T re-encoded does not decode: %v", m, err)
			}
			twice, err := det.Marshal(again)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(once, twice) {
				t.Fatalf("%T does not re-encode to a fixed point:\n%x\n%x", m, once, twice)
			}
			return true
		}
		env := &liaisonv1.Envelope{}
		if fixedPoint(env) {
			// Decode the payload as the applier of its kind would.
			if m, ok := payloads[env.GetKind()]; ok {
				pm := m.ProtoReflect().New().Interface()
				_ = proto.Unmarshal(env.GetPayload(), pm)
			}
		}
		for _, m := range []proto.Message{&liaisonv1.Lead{}, &liaisonv1.Tombstone{}, &liaisonv1.PermissionRequest{}, &liaisonv1.Batch{}, &liaisonv1.ExchangeRequest{}, &liaisonv1.Receipts{}} {
			fixedPoint(m)
		}
	})
}

// TestMerkle_EveryProofVerifies builds trees of 1 to 300 random leaves:
// every leaf's proof verifies against the root; a changed byte of leaf,
// proof or root fails; and no proof verifies against another tree's root.
func TestMerkle_EveryProofVerifies(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	randomLeaves := func(n int) [][]byte {
		leaves := make([][]byte, n)
		for i := range leaves {
			env := make([]byte, 1+rng.IntN(200))
			for j := range env {
				env[j] = byte(rng.Uint32())
			}
			leaves[i] = LeafHash(env)
		}
		return leaves
	}
	if root, proofs := MerkleTree(nil); root != nil || proofs != nil {
		t.Fatalf("empty tree: root %x, proofs %v", root, proofs)
	}
	var prevRoot []byte
	for n := 1; n <= 300; n++ {
		leaves := randomLeaves(n)
		root, proofs := MerkleTree(leaves)
		if !bytes.Equal(root, refRoot(leaves)) {
			t.Fatalf("%d leaves: root differs from the documented construction", n)
		}
		if n == 1 && (!bytes.Equal(root, leaves[0]) || proofs[0] == nil || len(proofs[0]) != 0) {
			t.Fatalf("one leaf: root %x, proof %v; want the leaf itself and an empty (non-nil) proof", root, proofs[0])
		}
		other, _ := MerkleTree(randomLeaves(n))
		for i := range leaves {
			if err := VerifyProof(leaves[i], proofs[i], root); err != nil {
				t.Fatalf("%d leaves: proof of leaf %d: %v", n, i, err)
			}
			if VerifyProof(leaves[i], proofs[i], other) == nil {
				t.Fatalf("%d leaves: proof of leaf %d verifies against another tree's root", n, i)
			}
			if prevRoot != nil && VerifyProof(leaves[i], proofs[i], prevRoot) == nil {
				t.Fatalf("%d leaves: proof of leaf %d verifies against the root of the tree of %d leaves", n, i, n-1)
			}
		}
		// Every byte of leaf, proof and root, for some leaves of each tree
		// (all of them in small trees).
		check := []int{0, n - 1, n / 2, rng.IntN(n)}
		if n <= 16 {
			check = check[:0]
			for i := range leaves {
				check = append(check, i)
			}
		}
		for _, i := range check {
			for b := range leaves[i] {
				if VerifyProof(changed(leaves[i], b), proofs[i], root) == nil {
					t.Fatalf("%d leaves: leaf %d with byte %d changed verifies", n, i, b)
				}
			}
			for b := range proofs[i] {
				if VerifyProof(leaves[i], changed(proofs[i], b), root) == nil {
					t.Fatalf("%d leaves: proof of leaf %d with byte %d changed verifies", n, i, b)
				}
			}
			for b := range root {
				if VerifyProof(leaves[i], proofs[i], changed(root, b)) == nil {
					t.Fatalf("%d leaves: root with byte %d changed verifies leaf %d", n, b, i)
				}
			}
		}
		prevRoot = root
	}
}

// changed returns b with byte i changed.
func changed(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x5a
	return c
}
