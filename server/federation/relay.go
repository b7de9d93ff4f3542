package federation

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/mtls"
	"github.com/liaison-exchange/liaison/server/store"
)

// RelayOptions tune a relay.
type RelayOptions struct {
	// BatchSize is the most envelopes signed and sent as one batch.
	BatchSize int
	// Window is the most batches sent and not yet receipted.
	Window int
	// MinBackoff and MaxBackoff bound the wait between reconnections
	// (exponential, with full jitter).
	MinBackoff, MaxBackoff time.Duration
	// WelcomeTimeout bounds the wait for the partner's Welcome.
	WelcomeTimeout time.Duration
}

func (o *RelayOptions) defaults() {
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.Window <= 0 {
		o.Window = 4
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 200 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.WelcomeTimeout <= 0 {
		o.WelcomeTimeout = 15 * time.Second
	}
}

// Relay sends one partner its envelopes from the outbox, in sequence
// order, and stores the partner's receipts.
type Relay struct {
	own, partner string
	nodeID       string // this node's SPIFFE ID, the actor of its audit events
	store        *store.Store
	material     *mtls.Material
	registry     *Registry
	signer       func() (SignerCheck, error) // checks the partner's receipts signatures
	log          *slog.Logger
	opts         RelayOptions
	conn         *grpc.ClientConn
	client       liaisonv1.FederationServiceClient
	State        *ChannelState
}

// NewRelay prepares the relay to partner at addr (it connects in Run).
// nodeID is this node's SPIFFE ID; signer checks that receipts were
// signed by the partner's node.
func NewRelay(own, nodeID, partner, addr string, s *store.Store, m *mtls.Material, reg *Registry, signer func() (SignerCheck, error), log *slog.Logger, o RelayOptions) (*Relay, error) {
	o.defaults()
	tlsCfg, err := m.PartnerClientConfig(partner)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 20 * time.Second, Timeout: 10 * time.Second, PermitWithoutStream: true}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20)),
	)
	if err != nil {
		return nil, fmt.Errorf("relay to %s: %w", partner, err)
	}
	return &Relay{
		own: own, nodeID: nodeID, partner: partner, store: s, material: m, registry: reg, signer: signer, log: log.With("partner", partner), opts: o,
		conn: conn, client: liaisonv1.NewFederationServiceClient(conn), State: &ChannelState{Partner: partner, Address: addr},
	}, nil
}

// Client is the partner's FederationService, over the relay's connection.
func (r *Relay) Client() liaisonv1.FederationServiceClient { return r.client }

// Conn is the connection to the partner, for its other node-to-node
// services.
func (r *Relay) Conn() grpc.ClientConnInterface { return r.conn }

// Close closes the connection.
func (r *Relay) Close() error { return r.conn.Close() }

// Run sends until ctx is done, reconnecting with backoff and jitter.
func (r *Relay) Run(ctx context.Context) {
	failures := 0
	for ctx.Err() == nil {
		progressed, err := r.session(ctx)
		if ctx.Err() != nil {
			break
		}
		r.State.disconnected(err)
		if progressed {
			failures = 0
		}
		var ooo *outOfOrderError
		if errors.As(err, &ooo) {
			r.log.Info("partner expects another sequence; resuming there", "expected", ooo.expected)
			continue // resume at once from the partner's Welcome
		}
		failures++
		wait := backoff(r.opts.MinBackoff, r.opts.MaxBackoff, failures)
		r.log.Warn("channel to partner down; retrying", "err", err, "retry_in", wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	r.State.disconnected(nil)
}

// backoff is exponential with full jitter.
func backoff(min, max time.Duration, failures int) time.Duration {
	d := min
	for i := 1; i < failures && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return min/2 + rand.N(d)
}

type outOfOrderError struct{ expected uint64 }

func (e *outOfOrderError) Error() string {
	return fmt.Sprintf("partner expects sequence %d next", e.expected)
}

// session runs one stream; progressed reports whether receipts arrived.
// gatherWait bounds how long the relay waits, while a batch is in flight,
// for more envelopes before it sends a partial batch.
const gatherWait = 20 * time.Millisecond

func (r *Relay) session(ctx context.Context) (progressed bool, err error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := r.client.Exchange(sctx)
	if err != nil {
		return false, describe("open channel", err)
	}
	if err := stream.Send(&liaisonv1.ExchangeRequest{Msg: &liaisonv1.ExchangeRequest_Hello{Hello: &liaisonv1.Hello{Sender: r.own, Receiver: r.partner}}}); err != nil {
		return false, describe("send hello", err)
	}
	welcomed := make(chan struct{})
	go func() {
		select {
		case <-welcomed:
		case <-time.After(r.opts.WelcomeTimeout):
			cancel()
		case <-sctx.Done():
		}
	}()
	resp, err := stream.Recv()
	close(welcomed)
	if err != nil {
		return false, describe("wait for welcome", err)
	}
	welcome := resp.GetWelcome()
	if welcome == nil {
		return false, errors.New("partner did not answer the hello with a welcome")
	}
	ch, err := r.store.OutChannel(ctx, r.partner)
	if err != nil {
		return false, err
	}
	partnerApplied := int64(welcome.GetLastApplied())
	if partnerApplied > ch.LastSeq {
		return false, fmt.Errorf("partner reports sequence %d applied but only %d were ever sent to it (was one database restored from an older backup?); "+
			"if this node's was, stop it and run: liaison federation fast-forward --config FILE --partner %s --to %d", partnerApplied, ch.LastSeq, r.partner, partnerApplied)
	}
	// Resume after what both sides agree on: envelopes the partner applied
	// whose receipts were lost are sent again and answered with their
	// original receipts.
	next := min(ch.Acked, partnerApplied) + 1
	r.State.connected(uint64(partnerApplied))
	// Envelopes the channel has passed without a receipt were refused by
	// the partner and are never sent again: the channel flows, but the
	// status keeps saying so until an operator repairs it.
	if n, first, err := r.store.Stranded(ctx, r.partner, next-1); err != nil {
		return false, err
	} else if n > 0 {
		r.State.warn(fmt.Sprintf("%d envelope(s) to %s were refused and will not be sent again (the lowest is sequence %d; see the log and the audit events); "+
			"if this node's database was restored from an older backup, stop it and run: liaison federation fast-forward --config FILE --partner %s --to %d",
			n, r.partner, first, r.partner, partnerApplied))
	}
	r.log.Info("channel to partner open", "resume_at", next, "partner_applied", partnerApplied)

	slots := make(chan struct{}, r.opts.Window)
	// freed is signalled when a receipt frees a slot.
	freed := make(chan struct{}, 1)
	recvDone := make(chan error, 1)
	var receipted atomic.Bool
	go func() { recvDone <- r.receive(ctx, stream, slots, freed, &receipted) }()
	signal := r.store.OutboxSignal(r.partner)
	for {
		items, err := r.store.OutboxFrom(ctx, r.partner, next, r.opts.BatchSize)
		if err != nil {
			return receipted.Load(), err
		}
		if len(items) > 0 && len(items) < r.opts.BatchSize && len(slots) > 0 {
			// A batch is in flight, so the partner is busy: rather than
			// sign and send a small batch now, gather what arrives until
			// its receipt comes back (bounded by gatherWait), and send
			// one larger batch — one signature, one transaction and one
			// receipt for many envelopes. Idle, a batch goes at once.
			select {
			case <-freed:
			case <-time.After(gatherWait):
			case err := <-recvDone:
				return receipted.Load(), err
			case <-ctx.Done():
				return receipted.Load(), nil
			}
			if items, err = r.store.OutboxFrom(ctx, r.partner, next, r.opts.BatchSize); err != nil {
				return receipted.Load(), err
			}
		}
		items = fitBytes(items, maxBatchBytes)
		if len(items) == 0 {
			select {
			case <-signal:
			case <-time.After(5 * time.Second):
			case err := <-recvDone:
				return receipted.Load(), err
			case <-ctx.Done():
				stream.CloseSend()
				return receipted.Load(), nil
			}
			continue
		}
		select {
		case slots <- struct{}{}:
		case err := <-recvDone:
			return receipted.Load(), err
		case <-ctx.Done():
			return receipted.Load(), nil
		}
		batch, err := r.sign(items)
		if err != nil {
			return receipted.Load(), err
		}
		if err := stream.Send(&liaisonv1.ExchangeRequest{Msg: &liaisonv1.ExchangeRequest_Batch{Batch: batch}}); err != nil {
			// The receive side knows why the stream broke.
			select {
			case rerr := <-recvDone:
				return receipted.Load(), rerr
			case <-time.After(time.Second):
			}
			return receipted.Load(), describe("send batch", err)
		}
		first, last := items[0].Seq, items[len(items)-1].Seq
		r.State.sent(uint64(last))
		if err := r.auditSent(ctx, first, last, batch.GetSignature().GetMerkleRoot()); err != nil {
			return receipted.Load(), err
		}
		next = last + 1
	}
}

// sign makes a batch of the stored envelopes, signed with the node's key.
// maxBatchBytes bounds the envelope bytes of one batch, so that a batch
// of large envelopes (a blind index's snapshot) stays under the gRPC
// message size a partner accepts (4 MiB by default).
const maxBatchBytes = 2 << 20

// fitBytes is the longest prefix of items within max envelope bytes, and
// at least the first item.
func fitBytes(items []store.OutboxItem, max int) []store.OutboxItem {
	n := 0
	for i, it := range items {
		n += len(it.Envelope)
		if n > max && i > 0 {
			return items[:i]
		}
	}
	return items
}

func (r *Relay) sign(items []store.OutboxItem) (*liaisonv1.Batch, error) {
	key, chain, err := r.material.Signer()
	if err != nil {
		return nil, fmt.Errorf("node key: %w", err)
	}
	envs := make([][]byte, len(items))
	leaves := make([][]byte, len(items))
	for i, it := range items {
		envs[i] = it.Envelope
		leaves[i] = LeafHash(it.Envelope)
	}
	root, _ := MerkleTree(leaves)
	sig, err := SignRoot(key, r.own, r.partner, root)
	if err != nil {
		return nil, err
	}
	der := make([][]byte, len(chain))
	for i, c := range chain {
		der[i] = c.Raw
	}
	return &liaisonv1.Batch{Envelopes: envs, Signature: &liaisonv1.BatchSignature{MerkleRoot: root, Signature: sig, SignerChain: der}}, nil
}

func (r *Relay) auditSent(ctx context.Context, first, last int64, root []byte) error {
	return r.store.Write(ctx, func(tx *store.Tx) error {
		return tx.Audit(&audit.Event{
			Principal: r.nodeID, Role: "node", Action: "federation.batch.sent", Resource: "channels/" + r.partner,
			Outcome: "OK", Detail: fmt.Sprintf("envelopes %d-%d (%d) to %s, Merkle root %x", first, last, last-first+1, r.partner, root),
		})
	})
}

// receive stores receipts until the stream ends. Receipts are evidence:
// only receipts the partner's node signed are stored; any others end the
// session, unstored, and the unreceipted batches go again after backoff.
func (r *Relay) receive(ctx context.Context, stream liaisonv1.FederationService_ExchangeClient, slots, freed chan struct{}, receipted *atomic.Bool) error {
	for {
		resp, err := stream.Recv()
		if err != nil {
			return describe("channel closed by partner", err)
		}
		var rs *liaisonv1.Receipts
		var signed []SignedReceipt
		switch m := resp.GetMsg().(type) {
		case *liaisonv1.ExchangeResponse_SignedReceipts:
			check, err := r.signer()
			if err != nil {
				return err
			}
			if rs, signed, err = OpenReceipts(check, r.own, m.SignedReceipts, time.Now()); err != nil {
				return r.refuseReceipts(ctx, err)
			}
		case *liaisonv1.ExchangeResponse_Receipts:
			return r.refuseReceipts(ctx, errors.New("the receipts are unsigned"))
		default:
			return errors.New("partner sent something other than receipts")
		}
		select {
		case <-slots:
		default:
		}
		select {
		case freed <- struct{}{}:
		default:
		}
		r.State.contact(rs.GetHighestApplied())
		bad, err := r.storeReceipts(ctx, rs, signed, resp.GetSignedReceipts().GetSignature())
		var refused *refusedReceipts
		if errors.As(err, &refused) {
			return r.refuseReceipts(ctx, refused.why)
		}
		if err != nil {
			return err
		}
		receipted.Store(true)
		if bad != nil {
			return bad
		}
	}
}

// refusedReceipts is a partner's answer that cannot be taken as its
// receipts: nothing of it is stored.
type refusedReceipts struct{ why error }

func (e *refusedReceipts) Error() string { return e.why.Error() }

// refuseReceipts logs and audits receipts not taken, and returns the error
// that ends the session (the channel retries after backoff).
func (r *Relay) refuseReceipts(ctx context.Context, why error) error {
	r.log.Warn("receipts refused, not stored; the channel will retry", "err", why)
	// The refusal stands even if recording it fails; the store logs that.
	_ = r.store.Write(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		return tx.Audit(&audit.Event{
			Principal: r.nodeID, Role: "node", Action: "federation.receipts.refused", Resource: "channels/" + r.partner,
			Outcome: "REFUSED", Detail: fmt.Sprintf("receipts from %s refused, not stored: %v", r.partner, why),
		})
	})
	return fmt.Errorf("receipts from %s refused (not stored): %w", r.partner, why)
}

// storeReceipts records a batch's receipts in one transaction, each with
// the partner's signed bytes and Merkle path, and the partner's signature
// once. It returns an error describing a refusal or gap, after which the
// session restarts.
func (r *Relay) storeReceipts(ctx context.Context, rs *liaisonv1.Receipts, signed []SignedReceipt, sig *liaisonv1.ReceiptsSignature) (bad error, err error) {
	err = r.store.Write(ctx, func(tx *store.Tx) error {
		bad = nil
		var acked, batchID int64
		for i, rc := range rs.GetReceipts() {
			switch rc.GetStatus() {
			case liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED, liaisonv1.ReceiptStatus_RECEIPT_STATUS_REJECTED, liaisonv1.ReceiptStatus_RECEIPT_STATUS_IGNORED:
			case liaisonv1.ReceiptStatus_RECEIPT_STATUS_OUT_OF_ORDER:
				if bad == nil {
					bad = &outOfOrderError{expected: rc.GetExpectedSequence()}
				}
				continue
			default:
				if bad == nil {
					bad = fmt.Errorf("partner refused envelope %d (%s): %s", rc.GetSequence(), rc.GetReasonCode(), rc.GetReason())
					if rc.GetReasonCode() == "envelope.sequence_reused" {
						bad = fmt.Errorf("%w — the partner applied other envelopes under these numbers (was this node's database restored from an older backup?); "+
							"stop it and run: liaison federation fast-forward --config FILE --partner %s --to %d", bad, r.partner, rs.GetHighestApplied())
					}
				}
				continue
			}
			sent, first, err := tx.RecordReceipt(r.partner, rc)
			if err != nil {
				return err
			}
			// The receipt is evidence of what it names: it must name
			// exactly the envelope sent.
			if !bytes.Equal(rc.GetEnvelopeHash(), LeafHash(sent.Envelope)) || rc.GetKind() != sent.Kind ||
				rc.GetRecordId() != sent.RecordID || rc.GetRecordVersion() != sent.RecordVersion {
				return &refusedReceipts{fmt.Errorf("the receipt for sequence %d does not name the envelope sent (hash %x, %s %s v%d; sent %x, %s %s v%d)",
					rc.GetSequence(), rc.GetEnvelopeHash(), kindName(rc.GetKind()), rc.GetRecordId(), rc.GetRecordVersion(),
					LeafHash(sent.Envelope), kindName(sent.Kind), sent.RecordID, sent.RecordVersion)}
			}
			acked = max(acked, int64(rc.GetSequence()))
			keep := first
			if !first {
				// A resent envelope's receipt again: kept only if the
				// first one came before receipts were signed.
				has, err := tx.HasSignedReceipt(r.partner, sent.Seq)
				if err != nil {
					return err
				}
				keep = !has
			}
			if keep {
				if batchID == 0 {
					if batchID, err = tx.InsertReceiptBatch(r.partner, store.ReceiptBatch{Root: sig.GetMerkleRoot(),
						HighestApplied: int64(rs.GetHighestApplied()), Signature: sig.GetSignature(), SignerChain: sig.GetSignerChain()}); err != nil {
						return err
					}
				}
				if err := tx.KeepSignedReceipt(r.partner, sent.Seq, batchID, signed[i].Bytes, signed[i].Proof); err != nil {
					return err
				}
			}
			if !first {
				continue
			}
			if h, ok := r.registry.receipts[sent.Kind]; ok {
				if err := h(tx, sent, rc); err != nil {
					return err
				}
			}
			outcome := strings.TrimPrefix(rc.GetStatus().String(), "RECEIPT_STATUS_")
			detail := fmt.Sprintf("envelope %s seq %d %s v%d to %s: %s", sent.EnvelopeID, sent.Seq, kindName(sent.Kind), sent.RecordVersion, r.partner, strings.ToLower(outcome))
			if rc.GetReasonCode() != "" {
				detail += " (" + rc.GetReasonCode() + ": " + rc.GetReason() + ")"
			}
			if err := tx.Audit(&audit.Event{
				Principal: r.nodeID, Role: "node", Action: "federation.envelope.receipted",
				Resource: resourceOf(&liaisonv1.Envelope{Kind: sent.Kind, RecordId: sent.RecordID, Id: sent.EnvelopeID}),
				Outcome:  outcome, Detail: detail,
			}); err != nil {
				return err
			}
		}
		return tx.SetOutProgress(r.partner, acked, int64(rs.GetHighestApplied()))
	})
	return bad, err
}

// describe turns a transport error into words for the status page.
func describe(what string, err error) error {
	if st, ok := status.FromError(err); ok {
		return fmt.Errorf("%s: %s: %s", what, st.Code(), st.Message())
	}
	return fmt.Errorf("%s: %w", what, err)
}

// ChannelState is the live state of the channel to a partner.
type ChannelState struct {
	Partner, Address string

	mu            sync.Mutex
	isConnected   bool
	lastContact   time.Time
	lastSent      uint64
	lastError     string
	lastErrorTime time.Time
}

func (s *ChannelState) connected(partnerApplied uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.isConnected, s.lastContact = true, time.Now()
	s.lastError = ""
}

// warn records a problem that does not stop the channel.
func (s *ChannelState) warn(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastError, s.lastErrorTime = msg, time.Now()
}

func (s *ChannelState) contact(uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastContact = time.Now()
}

func (s *ChannelState) sent(seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastSent = seq
}

func (s *ChannelState) disconnected(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.isConnected = false
	if err != nil {
		s.lastError, s.lastErrorTime = err.Error(), time.Now()
	}
}

// Snapshot is a copy of the live state.
type Snapshot struct {
	Connected     bool
	LastContact   time.Time
	LastSent      uint64
	LastError     string
	LastErrorTime time.Time
}

// Snapshot returns a copy of the state.
func (s *ChannelState) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Snapshot{s.isConnected, s.lastContact, s.lastSent, s.lastError, s.lastErrorTime}
}
