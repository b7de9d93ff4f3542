package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	tlogfmt "github.com/transparency-dev/formats/log"
	cosig "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// The audit log is also an RFC 6962 Merkle tree, kept with
// golang.org/x/mod/sumdb/tlog:
//
//   - event n (n ≥ 1) is leaf n-1;
//   - its leaf data is content(n) = SHA-256(salt(n) || canonical(event n)),
//     salt(n) 32 random bytes chosen when the event is written; the leaf
//     hash is SHA-256(0x00 || content(n)) and inner nodes
//     SHA-256(0x01 || left || right) (RFC 6962);
//   - erasing an event's content (its detail and resource, and its salt)
//     keeps content(n), so the tree and every proof stay valid while the
//     content is gone and cannot be guessed back from content(n).
//
// A checkpoint is a C2SP tlog-checkpoint: the origin line
// "<trust domain>/audit", the tree size in decimal, the root hash in
// standard base64, each followed by a newline; signed as a C2SP signed note
// with the node's log key (Ed25519). A partner witness adds a C2SP
// tlog-cosignature (cosignature/v1) with the same kind of key.

// SaltSize is the size of an event's salt.
const SaltSize = 32

// NewSalt returns a fresh salt.
func NewSalt() []byte {
	b := make([]byte, SaltSize)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return b
}

// ContentHash is the leaf data of an event.
func ContentHash(salt []byte, e *Event) []byte {
	h := sha256.New()
	h.Write(salt)
	h.Write(Canonical(e))
	return h.Sum(nil)
}

// LeafHash is the tree's hash of a leaf with content hash c.
func LeafHash(c []byte) tlog.Hash { return tlog.RecordHash(c) }

// Origin is the origin line of the audit log of the node of a trust domain.
func Origin(trustDomain string) string { return trustDomain + "/audit" }

// Checkpoint is a parsed, verified checkpoint.
type Checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
	// Text is the signed note as stored and sent.
	Text []byte
	// Cosigners are the names of the witnesses whose cosignature verified,
	// and when each cosigned.
	Cosigners map[string]time.Time
}

// CheckpointBody is the unsigned text of a checkpoint.
func CheckpointBody(origin string, size int64, root tlog.Hash) []byte {
	return tlogfmt.Checkpoint{Origin: origin, Size: uint64(size), Hash: root[:]}.Marshal()
}

// SignCheckpoint makes the signed note of a checkpoint.
func SignCheckpoint(origin string, size int64, root tlog.Hash, key note.Signer) ([]byte, error) {
	return note.Sign(&note.Note{Text: string(CheckpointBody(origin, size, root))}, key)
}

// Keys are the public keys a checkpoint is checked with.
type Keys struct {
	// Log is the verifier key (C2SP vkey) of the log's own key.
	Log string
	// Witnesses are verifier keys of witnesses whose cosignatures count.
	Witnesses []string
}

// OpenCheckpoint verifies a signed checkpoint of origin with the log's key
// and reads it; cosignatures of the given witnesses that verify are
// reported, others are ignored (a checkpoint may carry any number).
func OpenCheckpoint(text []byte, origin string, k Keys) (*Checkpoint, error) {
	logV, err := note.NewVerifier(k.Log)
	if err != nil {
		return nil, fmt.Errorf("log key: %w", err)
	}
	vs := []note.Verifier{logV}
	for _, w := range k.Witnesses {
		v, err := cosig.NewVerifierForCosignatureV1(w)
		if err != nil {
			return nil, fmt.Errorf("witness key: %w", err)
		}
		vs = append(vs, v)
	}
	n, err := note.Open(text, note.VerifierList(vs...))
	if err != nil {
		return nil, fmt.Errorf("checkpoint signature: %w", err)
	}
	if !slicesContainName(n.Sigs, logV.Name(), logV.KeyHash()) {
		return nil, errors.New("checkpoint is not signed by the log's key")
	}
	var c tlogfmt.Checkpoint
	if _, err := c.Unmarshal([]byte(n.Text)); err != nil {
		return nil, err
	}
	if c.Origin != origin {
		return nil, fmt.Errorf("checkpoint of %q, want %q", c.Origin, origin)
	}
	if len(c.Hash) != tlog.HashSize || c.Size > 1<<62 {
		return nil, errors.New("checkpoint: bad root hash or size")
	}
	out := &Checkpoint{Origin: c.Origin, Size: int64(c.Size), Text: text, Cosigners: map[string]time.Time{}}
	copy(out.Root[:], c.Hash)
	for _, s := range n.Sigs {
		if s.Name == logV.Name() && s.Hash == logV.KeyHash() {
			continue
		}
		at, err := cosig.CoSigV1Timestamp(s)
		if err != nil {
			continue
		}
		out.Cosigners[s.Name] = at
	}
	return out, nil
}

func slicesContainName(sigs []note.Signature, name string, hash uint32) bool {
	for _, s := range sigs {
		if s.Name == name && s.Hash == hash {
			return true
		}
	}
	return false
}

// Cosign adds a witness's cosignature to a signed checkpoint (the caller
// has checked it). The result carries every signature the input had.
func Cosign(text []byte, witnessKey string) ([]byte, error) {
	s, err := cosig.NewSignerForCosignatureV1(witnessKey)
	if err != nil {
		return nil, err
	}
	// The cosignature covers the checkpoint body only.
	body, _, ok := bytes.Cut(text, []byte("\n\n"))
	if !ok {
		return nil, errors.New("not a signed note")
	}
	signed, err := note.Sign(&note.Note{Text: string(body) + "\n"}, s)
	if err != nil {
		return nil, err
	}
	_, sig, _ := bytes.Cut(signed, []byte("\n\n"))
	return append(append([]byte(nil), text...), sig...), nil
}

// KeyName is the name in a note key ("PRIVATE+KEY+name+…" or "name+…").
func KeyName(key string) string {
	key = strings.TrimPrefix(key, "PRIVATE+KEY+")
	name, _, _ := strings.Cut(key, "+")
	return name
}

// GenerateKey makes a node's log key pair (C2SP signed-note Ed25519): the
// private key for the node's own file, the verifier key for its partners'
// configuration.
func GenerateKey(name string) (skey, vkey string, err error) {
	return note.GenerateKey(rand.Reader, name)
}

// VerifierKey is the verifier key (vkey) of a signed-note private key.
func VerifierKey(skey string) (string, error) {
	// PRIVATE+KEY+<name>+<hash>+<base64(alg || private key)>
	parts := strings.SplitN(skey, "+", 5)
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return "", errors.New("not a signed-note private key")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return "", errors.New("not an Ed25519 signed-note private key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	return note.NewEd25519VerifierKey(parts[2], pub)
}

// PersonalData lists the actions whose events' detail holds personal data
// or free text that may (the terms of a person search; reasons written by
// officers). Their detail is erased once the content retention period
// (audit.content_retention) has passed; the rest of the event, its leaf
// and every proof stay.
var PersonalData = []string{
	"/liaison.v1.SearchService/SearchPersons",
	"/liaison.v1.LeadService/WithdrawLead",
	"/liaison.v1.CaseService/CloseCase",
	"/liaison.v1.CaseService/ReopenCase",
	"/liaison.v1.PermissionService/DecidePermissionRequest",
	// The identifiers a blind match asked about; the reasons of follow-ups.
	"/liaison.v1.MatchService/MatchPersons",
	"/liaison.v1.MatchService/DecideMatchFollowUp",
}

// MergeSignatures returns note a with the signature lines of note b that a
// lacks appended: the same checkpoint, cosigned by several witnesses.
func MergeSignatures(a, b []byte) ([]byte, error) {
	bodyA, sigsA, okA := bytes.Cut(a, []byte("\n\n"))
	bodyB, sigsB, okB := bytes.Cut(b, []byte("\n\n"))
	if !okA || !okB {
		return nil, errors.New("not a signed note")
	}
	if !bytes.Equal(bodyA, bodyB) {
		return nil, errors.New("not the same checkpoint")
	}
	have := map[string]bool{}
	for _, l := range strings.SplitAfter(string(sigsA), "\n") {
		have[l] = true
	}
	out := append([]byte(nil), a...)
	for _, l := range strings.SplitAfter(string(sigsB), "\n") {
		if l != "" && !have[l] {
			out = append(out, l...)
			have[l] = true
		}
	}
	return out, nil
}
