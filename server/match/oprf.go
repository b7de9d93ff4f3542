package match

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cloudflare/circl/oprf"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// suite is RFC 9497's ristretto255-SHA512.
var suite = oprf.SuiteRistretto255

const (
	// EntryBytes is the size of an index entry: 128 bits of SHA-256 over
	// an OPRF output, enough that entries of different keys do not collide
	// among billions.
	EntryBytes = 16
	// elementBytes is a compressed ristretto255 element.
	elementBytes = 32
	outputBytes  = 64
)

// epochKey is the holder's OPRF key for a partner and epoch, derived from
// the node's secret (RFC 9497 DeriveKeyPair): it is never stored, and a
// new epoch is a new key.
func epochKey(secret []byte, holder, partner string, epoch int64) (*oprf.PrivateKey, error) {
	seed := sha256.Sum256(append([]byte("liaison match oprf seed v1\x00"), secret...))
	info := fmt.Sprintf("liaison match index v1\x00%s\x00%s\x00%d", holder, partner, epoch)
	return oprf.DeriveKey(suite, oprf.BaseMode, seed[:], []byte(info))
}

// Entry is the index entry of an OPRF output.
func Entry(output []byte) []byte {
	h := sha256.New()
	h.Write([]byte("liaison match entry v1\x00"))
	h.Write(output)
	return h.Sum(nil)[:EntryBytes]
}

// evaluator is the holder's side of one epoch.
type evaluator struct {
	server oprf.Server
	public []byte
}

func newEvaluator(secret []byte, holder, partner string, epoch int64) (*evaluator, error) {
	k, err := epochKey(secret, holder, partner, epoch)
	if err != nil {
		return nil, err
	}
	pub, err := k.Public().MarshalBinary()
	if err != nil {
		return nil, err
	}
	return &evaluator{server: oprf.NewServer(suite, k), public: pub}, nil
}

// entries evaluates keys directly (the holder knows its own keys) and
// returns their index entries.
func (e *evaluator) entries(keys []Key) ([][]byte, error) {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		o, err := e.server.FullEvaluate(k.Input)
		if err != nil {
			return nil, err
		}
		out[i] = Entry(o)
	}
	return out, nil
}

// evaluate evaluates blinded elements (base mode: no proof; the asker
// checks the key through the epoch's canary).
func (e *evaluator) evaluate(blinded [][]byte) (elements [][]byte, err error) {
	req := &oprf.EvaluationRequest{Elements: make([]oprf.Blinded, len(blinded))}
	for i, b := range blinded {
		el := suite.Group().NewElement()
		if err := el.UnmarshalBinary(b); err != nil {
			return nil, fmt.Errorf("element %d is not a ristretto255 element", i)
		}
		req.Elements[i] = el
	}
	ev, err := e.server.Evaluate(req)
	if err != nil {
		return nil, err
	}
	elements = make([][]byte, len(ev.Elements))
	for i, el := range ev.Elements {
		if elements[i], err = el.MarshalBinaryCompress(); err != nil {
			return nil, err
		}
	}
	return elements, nil
}

// blinding is the asker's side of one query: its keys blinded.
type blinding struct {
	client  oprf.Client
	fin     *oprf.FinalizeData
	Blinded [][]byte
}

func blind(public []byte, keys []Key) (*blinding, error) {
	pk := new(oprf.PublicKey)
	if err := pk.UnmarshalBinary(suite, public); err != nil {
		return nil, fmt.Errorf("the holder's public key: %w", err)
	}
	inputs := make([][]byte, len(keys))
	for i, k := range keys {
		inputs[i] = k.Input
	}
	c := oprf.NewClient(suite)
	fin, req, err := c.Blind(inputs)
	if err != nil {
		return nil, err
	}
	b := &blinding{client: c, fin: fin, Blinded: make([][]byte, len(req.Elements))}
	for i, el := range req.Elements {
		if b.Blinded[i], err = el.MarshalBinaryCompress(); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// finalize unblinds the holder's evaluations into OPRF outputs. Whether
// the holder used the key of its index is checked through the canary
// (askCall), not a proof.
func (b *blinding) finalize(elements [][]byte) ([][]byte, error) {
	if len(elements) != len(b.Blinded) {
		return nil, fmt.Errorf("the holder returned %d evaluations for %d elements", len(elements), len(b.Blinded))
	}
	ev := &oprf.Evaluation{Elements: make([]oprf.Evaluated, len(elements))}
	for i, e := range elements {
		el := suite.Group().NewElement()
		if err := el.UnmarshalBinary(e); err != nil {
			return nil, fmt.Errorf("evaluation %d is not a ristretto255 element", i)
		}
		ev.Elements[i] = el
	}
	return b.client.Finalize(b.fin, ev)
}

// The canary of an epoch: a key both nodes can derive, whose entry the
// holder puts in the index it publishes. Every query carries it, blinded
// among its keys where the holder cannot tell it apart; if its evaluation
// does not give an entry of the index, the holder did not answer under
// the key of the index it published, and the answer is refused. (RFC
// 9497's verifiable mode proves the same with a DLEQ proof per batch, at
// about a third of a query's CPU; the canary costs one evaluation.)
func canary(holder, partner string, epoch int64) Key {
	return Key{Input: []byte(fmt.Sprintf("liaison-match-canary-v1\x00%s\x00%s\x00%d", holder, partner, epoch))}
}

// A hit token names an entry of a holder's index for a follow-up: the
// epoch and the OPRF output, base64url. The holder recomputes the entry
// from the output; the asker cannot make a token for an entry it has
// only seen in the index (that would take a preimage of SHA-256).

func token(epoch int64, output []byte) string {
	b := binary.BigEndian.AppendUint32(nil, uint32(epoch))
	return base64.RawURLEncoding.EncodeToString(append(b, output...))
}

var errBadToken = errors.New("not a hit token")

func parseToken(t string) (epoch int64, entry []byte, err error) {
	b, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil || len(b) != 4+outputBytes {
		return 0, nil, errBadToken
	}
	return int64(binary.BigEndian.Uint32(b)), Entry(b[4:]), nil
}

// Builder computes a person's index entries exactly as the indexer does,
// without a node: for measuring the build rate (liaisonbench).
type Builder struct{ ev *evaluator }

// NewBuilder returns the builder of a holder's index for partner's epoch.
func NewBuilder(secret []byte, holder, partner string, epoch int64) (*Builder, error) {
	ev, err := newEvaluator(secret, holder, partner, epoch)
	if err != nil {
		return nil, err
	}
	return &Builder{ev: ev}, nil
}

// Entries are the index entries of a person's keys, one a key.
func (b *Builder) Entries(p *liaisonv1.Person) ([][]byte, error) { return b.ev.entries(Keys(p)) }
