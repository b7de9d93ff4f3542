// Package federation exchanges records between partner nodes: the outbox
// relay that sends each partner its envelopes, the receiver that applies a
// partner's envelopes exactly once and in order, the drift check that
// compares copies, and the status operators read.
package federation

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/identity"
	"github.com/liaison-exchange/liaison/server/store"
	"github.com/liaison-exchange/liaison/server/validate"
)

// Outcome is what applying an envelope did.
type Outcome struct {
	// Status is APPLIED, REJECTED or IGNORED.
	Status liaisonv1.ReceiptStatus
	Code   string
	Reason string
	// PurgeContent deletes the stored content of earlier envelopes about
	// the record (the envelope withdrew it).
	PurgeContent bool
}

// Applied is the outcome of an envelope applied as sent.
var Applied = Outcome{Status: liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED}

// Applier applies envelopes of one kind on the receiving node, inside the
// transaction that records the receipt. Returning an *errs.Error (other
// than Internal) rejects the envelope with that reason: its changes are
// rolled back, its sequence is still consumed and the rejection travels
// back to the sender. So does any other error or a panic (reason
// envelope.apply_failed): one envelope can never stop a channel. Only a
// transaction that can no longer be used is a fault: nothing of the batch
// is applied and the sender sends it again later.
//
// payload is what the kind's Decoder made of the envelope's payload.
type Applier func(tx *store.Tx, env *liaisonv1.Envelope, payload proto.Message) (Outcome, error)

// Decoder makes an envelope's payload into its message and checks it
// against the API's rules: work that needs no transaction, done for a
// whole batch before the batch's transaction (the node's one writer
// applies everything of every channel). Its error rejects the envelope
// as an Applier's does.
type Decoder func(env *liaisonv1.Envelope) (proto.Message, error)

// ReceiptHandler runs on the sending node when a partner's receipt for an
// envelope of its kind arrives, in the transaction that stores the
// receipt (e.g. to mark a proposal applied or rejected).
type ReceiptHandler func(tx *store.Tx, sent store.SentEnvelope, r *liaisonv1.Receipt) error

// Registry maps envelope kinds to their handlers.
type Registry struct {
	own       string
	validator *validate.Validator
	appliers  map[liaisonv1.EnvelopeKind]Applier
	decoders  map[liaisonv1.EnvelopeKind]Decoder
	receipts  map[liaisonv1.EnvelopeKind]ReceiptHandler
	kinds     map[liaisonv1.RecordKind]RecordKindSpec
}

// NewRegistry returns an empty registry for the node of agency own, whose
// appliers validate payloads with v.
func NewRegistry(own string, v *validate.Validator) *Registry {
	return &Registry{
		own:       own,
		validator: v,
		appliers:  map[liaisonv1.EnvelopeKind]Applier{},
		decoders:  map[liaisonv1.EnvelopeKind]Decoder{},
		receipts:  map[liaisonv1.EnvelopeKind]ReceiptHandler{},
		kinds:     map[liaisonv1.RecordKind]RecordKindSpec{},
	}
}

// handle registers the decoder and applier of a kind and, optionally, its
// receipt handler. Kinds register through Handle, which puts the
// ownership rule in front of their applier.
func (r *Registry) handle(kind liaisonv1.EnvelopeKind, d Decoder, a Applier, rh ReceiptHandler) {
	r.decoders[kind] = d
	r.appliers[kind] = a
	if rh != nil {
		r.receipts[kind] = rh
	}
}

// Receiver implements FederationService.
type Receiver struct {
	liaisonv1.UnimplementedFederationServiceServer

	own      string
	store    *store.Store
	registry *Registry
	signers  func(agency string) (SignerCheck, error)
	key      func() (crypto.Signer, []*x509.Certificate, error)
	log      *slog.Logger
	now      func() time.Time
	quit     chan struct{} // closed when the node stops: open channels end
	quitOnce sync.Once

	witness WitnessOptions
	logs    map[string]witnessedLog // the partners' logs this node witnesses
}

var _ liaisonv1.FederationServiceServer = (*Receiver)(nil)

// NewReceiver returns the receiving side of every partner's channel.
// signers gives, for a partner agency, how to check its signatures; key
// is this node's signing key and certificate chain, which sign the
// receipts.
func NewReceiver(own string, s *store.Store, reg *Registry, signers func(string) (SignerCheck, error),
	key func() (crypto.Signer, []*x509.Certificate, error), log *slog.Logger) *Receiver {
	return &Receiver{own: own, store: s, registry: reg, signers: signers, key: key, log: log, now: time.Now, quit: make(chan struct{}), logs: map[string]witnessedLog{}}
}

// Close ends every open channel (the senders reconnect later).
func (r *Receiver) Close() { r.quitOnce.Do(func() { close(r.quit) }) }

// Exchange implements liaisonv1.FederationServiceServer.
func (r *Receiver) Exchange(stream liaisonv1.FederationService_ExchangeServer) error {
	ctx := stream.Context()
	caller, _ := identity.FromContext(ctx)
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	hello := first.GetHello()
	switch {
	case hello == nil:
		err = errs.Invalid("hello", "open the channel with a Hello")
	case hello.GetSender() != caller.Agency:
		err = errs.New(errs.PermissionDenied, "Hello names sender %q but the certificate is %s's node", hello.GetSender(), caller.Agency)
	case hello.GetReceiver() != r.own:
		err = errs.Precondition("envelope.wrong_receiver", "channels/"+caller.Agency, "this is the node of %s, not of %s", r.own, hello.GetReceiver())
	default:
		err = r.refuseOnFork(ctx, caller.Agency)
	}
	if err != nil {
		r.auditRefusal(ctx, caller.Agency, "federation.channel.refused", "", err)
		return err
	}
	var ch store.InChannel
	if err := r.store.Write(ctx, func(tx *store.Tx) error {
		var err error
		if ch, err = tx.InChannel(caller.Agency); err != nil {
			return err
		}
		return tx.SetInChannel(caller.Agency, ch.LastApplied) // records the contact
	}); err != nil {
		return err
	}
	if err := stream.Send(&liaisonv1.ExchangeResponse{Msg: &liaisonv1.ExchangeResponse_Welcome{Welcome: &liaisonv1.Welcome{LastApplied: uint64(ch.LastApplied)}}}); err != nil {
		return err
	}
	// Receive in the background so that a stopping node can end the call
	// without waiting for the sender's next batch.
	done := make(chan struct{})
	defer close(done)
	msgs := make(chan *liaisonv1.ExchangeRequest)
	recvErr := make(chan error, 1)
	go func() {
		for {
			req, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			select {
			case msgs <- req:
			case <-done:
				return
			}
		}
	}()
	for {
		var req *liaisonv1.ExchangeRequest
		select {
		case req = <-msgs:
		case err := <-recvErr:
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		case <-r.quit:
			return errs.New(errs.Unavailable, "%s's node is shutting down", r.own)
		case <-ctx.Done():
			// The call ended under it (its certificate revoked, say).
			return ctx.Err()
		}
		b := req.GetBatch()
		if b == nil {
			return errs.Invalid("batch", "after the Hello, only batches may be sent")
		}
		// A fork alarm raised while the channel is open stops it too.
		if err := r.refuseOnFork(ctx, caller.Agency); err != nil {
			r.auditRefusal(ctx, caller.Agency, "federation.channel.refused", "channels/"+caller.Agency, err)
			return err
		}
		receipts, err := r.ApplyBatch(ctx, caller.Agency, b)
		if err != nil {
			return err
		}
		signed, err := r.signReceipts(caller.Agency, receipts)
		if err != nil {
			return err
		}
		if err := stream.Send(&liaisonv1.ExchangeResponse{Msg: &liaisonv1.ExchangeResponse_SignedReceipts{SignedReceipts: signed}}); err != nil {
			return err
		}
	}
}

// signReceipts signs the receipts for a batch from sender: once per batch,
// so that a receipt is evidence the sender can show later.
func (r *Receiver) signReceipts(sender string, rs *liaisonv1.Receipts) (*liaisonv1.SignedReceipts, error) {
	key, chain, err := r.key()
	if err != nil {
		r.log.Error("cannot sign receipts: node key unavailable", "sender", sender, "err", err)
		return nil, errs.New(errs.Unavailable, "%s cannot sign receipts now", r.own)
	}
	der := make([][]byte, len(chain))
	for i, c := range chain {
		der[i] = c.Raw
	}
	sr, err := SignReceipts(key, der, r.own, sender, rs)
	if err != nil {
		return nil, fmt.Errorf("sign receipts for %s: %w", sender, err)
	}
	return sr, nil
}

// auditRefusal records something refused outside an envelope's transaction.
func (r *Receiver) auditRefusal(ctx context.Context, sender, action, resource string, cause error) {
	call := audit.FromContext(ctx)
	// The refusal stands even if recording it fails; the store logs that.
	_ = r.store.Write(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		return tx.Audit(&audit.Event{Agency: sender, Principal: call.Principal, Role: call.Role, Action: action, Resource: resource,
			Outcome: errs.CodeName(cause), RequestID: call.RequestID, Detail: cause.Error()})
	})
}

// decoded is one envelope of a batch, decoded.
type decoded struct {
	raw   []byte
	leaf  []byte
	proof []byte
	env   *liaisonv1.Envelope
	err   error
	// the payload as its kind's Decoder made it (decodePayloads), and why
	// it was refused
	payload    proto.Message
	payloadErr error
}

// decodePayloads runs each envelope's Decoder, before the batch's
// transaction: every envelope that can reach its applier (the batch
// signed, the envelope decoded, its kind handled here; classify and
// Receiver.apply refuse the others). A panic is the envelope's error (it
// is rejected with envelope.apply_failed, as a panic while applying is):
// one envelope can never stop a channel.
func (r *Registry) decodePayloads(items []decoded) {
	for i := range items {
		it := &items[i]
		d, ok := r.decoders[it.env.GetKind()]
		if it.err != nil || !ok {
			continue
		}
		func() {
			defer func() {
				if p := recover(); p != nil {
					it.payload, it.payloadErr = nil, fmt.Errorf("panic: %v", p)
				}
			}()
			it.payload, it.payloadErr = d(it.env)
		}()
	}
}

// decodeBatch decodes a batch's envelopes and computes its Merkle tree: the
// root the sender signed and each envelope's inclusion proof.
func decodeBatch(b *liaisonv1.Batch) ([]decoded, []byte) {
	items := make([]decoded, len(b.GetEnvelopes()))
	leaves := make([][]byte, len(items))
	for i, raw := range b.GetEnvelopes() {
		items[i].raw = raw
		items[i].leaf = LeafHash(raw)
		leaves[i] = items[i].leaf
		env := &liaisonv1.Envelope{}
		if err := proto.Unmarshal(raw, env); err != nil {
			items[i].err = fmt.Errorf("undecodable envelope: %v", err)
		}
		items[i].env = env
	}
	root, proofs := MerkleTree(leaves)
	for i := range items {
		items[i].proof = proofs[i]
	}
	return items, root
}

// verifyBatch says why the batch's signature does not hold, if it does not:
// the signed root must be the envelopes' root, signed by the sender's node
// for this one.
func (r *Receiver) verifyBatch(sender string, root []byte, sig *liaisonv1.BatchSignature) error {
	if !bytes.Equal(root, sig.GetMerkleRoot()) {
		return errors.New("the signed Merkle root does not match the envelopes")
	}
	check, err := r.signers(sender)
	if err != nil {
		return err
	}
	return check.Verify(r.own, root, sig.GetSignature(), sig.GetSignerChain(), r.now())
}

// ApplyBatch verifies a batch and applies its envelopes in one
// transaction; it returns a receipt per envelope it looked at. Each
// envelope is classified (classify) and then acted on in order: applied,
// or answered without being applied; a gap ends the batch.
func (r *Receiver) ApplyBatch(ctx context.Context, sender string, b *liaisonv1.Batch) (*liaisonv1.Receipts, error) {
	items, root := decodeBatch(b)
	sig := b.GetSignature()
	sigErr := r.verifyBatch(sender, root, sig)
	if sigErr == nil {
		r.registry.decodePayloads(items)
	}

	// Envelopes arrive only inside a FederationService call, whose audit
	// record names the sending node.
	call := audit.FromContext(ctx)
	var receipts []*liaisonv1.Receipt
	var highest int64
	err := r.store.Write(ctx, func(tx *store.Tx) error {
		ch, err := tx.InChannel(sender)
		if err != nil {
			return err
		}
		in := &inbox{r: r, tx: tx, sender: sender, principal: call.Principal, requestID: call.RequestID, root: root, sig: sig}
		state := channelState{own: r.own, sender: sender, sigErr: sigErr, last: ch.LastApplied,
			stored: func(seq int64) (*liaisonv1.Receipt, []byte, error) { return tx.InboxReceipt(sender, seq) }}
		for i := range items {
			it := &items[i]
			c, err := classify(it, state)
			if err != nil {
				return err
			}
			if c.verdict != verdictApply {
				in.receipts = append(in.receipts, c.receipt)
				if err := in.audit(c.action, it.env, c.outcome, c.detail); err != nil {
					return err
				}
				if c.verdict == verdictGap {
					break // the rest of the batch cannot be in order either
				}
				continue
			}
			if err := in.apply(it); err != nil {
				return err
			}
			state.last = int64(it.env.GetSequence())
		}
		receipts, highest = in.receipts, state.last
		return tx.SetInChannel(sender, state.last)
	})
	if err != nil {
		return nil, err
	}
	return &liaisonv1.Receipts{Receipts: receipts, HighestApplied: uint64(highest)}, nil
}

// inbox is one batch of a sender being applied, inside its transaction.
type inbox struct {
	r                    *Receiver
	tx                   *store.Tx
	sender               string
	principal, requestID string
	root                 []byte
	sig                  *liaisonv1.BatchSignature
	batchID              int64 // the stored batch, once an envelope of it is applied
	receipts             []*liaisonv1.Receipt
}

// audit records what became of an envelope.
func (in *inbox) audit(action string, env *liaisonv1.Envelope, outcome, detail string) error {
	return in.tx.Audit(&audit.Event{
		Agency: in.sender, Principal: in.principal, Role: string(identity.Node), Action: action,
		Resource: resourceOf(env), Outcome: outcome, RequestID: in.requestID,
		Detail: fmt.Sprintf("envelope %s seq %d %s v%d from %s; %s", env.GetId(), env.GetSequence(), kindName(env.GetKind()), env.GetRecordVersion(), in.sender, detail),
	})
}

// apply applies the channel's next envelope: it stores the batch (once),
// runs the applier, stores the envelope with its outcome in the inbox,
// purges what the envelope withdrew, and answers and audits the outcome.
func (in *inbox) apply(it *decoded) error {
	env, tx := it.env, in.tx
	seq := int64(env.GetSequence())
	if in.batchID == 0 {
		var err error
		if in.batchID, err = tx.InsertInboxBatch(in.sender, in.root, in.sig.GetSignature(), in.sig.GetSignerChain()); err != nil {
			return err
		}
	}
	out, err := in.r.apply(tx, it, in.requestID)
	if err != nil {
		return err
	}
	if err := tx.InsertInbox(store.InboxEntry{
		Sender: in.sender, Seq: seq, EnvelopeID: env.GetId(), Kind: env.GetKind(), RecordID: env.GetRecordId(),
		RecordVersion: env.GetRecordVersion(), BatchID: in.batchID, LeafHash: it.leaf, Proof: it.proof, Envelope: it.raw,
		Status: out.Status, ReasonCode: out.Code, Reason: out.Reason,
	}); err != nil {
		return err
	}
	if out.PurgeContent {
		if err := tx.PurgeInboxContent(in.sender, env.GetRecordId(), seq); err != nil {
			return err
		}
	}
	in.receipts = append(in.receipts, receiptFor(env, it.leaf, &liaisonv1.Receipt{Status: out.Status,
		ReasonCode: out.Code, Reason: out.Reason, ApplyTime: timestamppb.New(tx.Now())}))
	status := strings.TrimPrefix(out.Status.String(), "RECEIPT_STATUS_")
	detail := "applied"
	if out.Code != "" {
		detail = out.Code + ": " + out.Reason
	}
	return in.audit("federation.envelope."+strings.ToLower(status), env, status, detail)
}

// receiptFor completes a receipt with what names the envelope it answers:
// sequence, id, leaf hash, kind and record, as this node read them.
func receiptFor(env *liaisonv1.Envelope, leaf []byte, rc *liaisonv1.Receipt) *liaisonv1.Receipt {
	rc.Sequence, rc.EnvelopeId, rc.EnvelopeHash = env.GetSequence(), env.GetId(), leaf
	rc.Kind, rc.RecordId, rc.RecordVersion = env.GetKind(), env.GetRecordId(), env.GetRecordVersion()
	return rc
}

// apply runs the envelope's applier in a nested savepoint. Whatever the
// applier does — reject, fail or panic — ends as this envelope's receipt;
// only a transaction that can no longer be used fails the batch.
func (r *Receiver) apply(tx *store.Tx, it *decoded, requestID string) (Outcome, error) {
	env := it.env
	a, ok := r.registry.appliers[env.GetKind()]
	if !ok {
		return Outcome{Status: liaisonv1.ReceiptStatus_RECEIPT_STATUS_REJECTED, Code: "envelope.unknown_kind",
			Reason: fmt.Sprintf("this node does not handle envelopes of kind %s", env.GetKind())}, nil
	}
	var out Outcome
	err := tx.Savepoint(func() error {
		if it.payloadErr != nil {
			return it.payloadErr
		}
		var err error
		out, err = a(tx, env, it.payload)
		return err
	})
	if err == nil {
		return out, nil
	}
	if errors.Is(err, store.ErrTxBroken) {
		return Outcome{}, fmt.Errorf("apply %s envelope %s: %w", env.GetKind(), env.GetId(), err)
	}
	var e *errs.Error
	if errors.As(err, &e) && e.Code != errs.Internal {
		code := strings.ToLower(errs.CodeName(err))
		if len(e.Violations) > 0 {
			code = e.Violations[0].Type
		}
		return Outcome{Status: liaisonv1.ReceiptStatus_RECEIPT_STATUS_REJECTED, Code: code, Reason: e.Message}, nil
	}
	// A fault of ours, not the sender's: the details stay in this node's
	// log; the receipt names the request to look them up by.
	r.log.Error("applying an envelope failed; rejected so that the channel goes on",
		"request_id", requestID, "sender", env.GetSender(), "envelope", env.GetId(), "sequence", env.GetSequence(),
		"kind", kindName(env.GetKind()), "record", env.GetRecordId(), "err", err)
	return Outcome{Status: liaisonv1.ReceiptStatus_RECEIPT_STATUS_REJECTED, Code: "envelope.apply_failed",
		Reason: fmt.Sprintf("%s could not apply this envelope (request %s); its operators have the details", r.own, requestID)}, nil
}

func kindName(k liaisonv1.EnvelopeKind) string {
	return strings.ToLower(strings.TrimPrefix(k.String(), "ENVELOPE_KIND_"))
}

// resourceOf names the record an envelope is about, for the audit log.
func resourceOf(env *liaisonv1.Envelope) string {
	switch env.GetKind() {
	case liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD, liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD_TOMBSTONE:
		return "leads/" + env.GetRecordId()
	case liaisonv1.EnvelopeKind_ENVELOPE_KIND_PERMISSION_REQUEST, liaisonv1.EnvelopeKind_ENVELOPE_KIND_PERMISSION_DECISION:
		return "permission_requests/" + env.GetRecordId()
	case liaisonv1.EnvelopeKind_ENVELOPE_KIND_CASE:
		return "cases/" + env.GetRecordId()
	case liaisonv1.EnvelopeKind_ENVELOPE_KIND_CASE_ENTRY, liaisonv1.EnvelopeKind_ENVELOPE_KIND_CASE_ENTRY_PROPOSAL:
		return "case_entries/" + env.GetRecordId()
	case liaisonv1.EnvelopeKind_ENVELOPE_KIND_MANIFEST:
		return "manifests/" + env.GetRecordId()
	case liaisonv1.EnvelopeKind_ENVELOPE_KIND_MANIFEST_ACTION:
		return "manifest_actions/" + env.GetRecordId()
	case liaisonv1.EnvelopeKind_ENVELOPE_KIND_MATCH_INDEX:
		return "match_indexes/" + env.GetRecordId()
	case liaisonv1.EnvelopeKind_ENVELOPE_KIND_MATCH_FOLLOW_UP, liaisonv1.EnvelopeKind_ENVELOPE_KIND_MATCH_FOLLOW_UP_DECISION:
		return "match_follow_ups/" + env.GetRecordId()
	}
	return "envelopes/" + env.GetId()
}
