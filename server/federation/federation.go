package federation

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/mtls"
	"github.com/liaison-exchange/liaison/server/store"
)

// Partner is a partner agency's node.
type Partner struct {
	Agency, TrustDomain, Address string
	// LogVKey is the verifier key of the partner's audit log ("" : this
	// node does not witness it).
	LogVKey string
}

// Options configure federation.
type Options struct {
	Own         string
	TrustDomain string
	Partners    []Partner
	Store       *store.Store
	Material    *mtls.Material
	Registry    *Registry
	Log         *slog.Logger
	Relay       RelayOptions
	// DriftInterval is how often copies are compared (0: only on demand).
	DriftInterval time.Duration
	// Witness makes this node the witness of its partners' audit logs.
	Witness WitnessOptions
}

// Federation is a node's side of every channel.
type Federation struct {
	Receiver *Receiver
	Admin    *Admin
	relays   map[string]*Relay
	drift    *DriftChecker
	opts     Options

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New prepares the relays, receiver and drift checker.
func New(o Options) (*Federation, error) {
	nodeID := "spiffe://" + o.TrustDomain + "/node"
	f := &Federation{relays: map[string]*Relay{}, opts: o}
	trust := map[string]Partner{}
	for _, p := range o.Partners {
		trust[p.Agency] = p
	}
	signers := func(agency string) (SignerCheck, error) {
		p, ok := trust[agency]
		if !ok {
			return SignerCheck{}, fmt.Errorf("%s is not a partner", agency)
		}
		cas, err := o.Material.CAs(agency)
		if err != nil {
			return SignerCheck{}, err
		}
		return SignerCheck{CAs: cas, Sender: agency, TrustDomain: p.TrustDomain,
			Revoked: func(c *x509.Certificate) bool { return o.Material.IsRevoked(agency, c) }}, nil
	}
	for _, p := range o.Partners {
		// The same check for a partner's batches and its receipts.
		signer := func() (SignerCheck, error) { return signers(p.Agency) }
		r, err := NewRelay(o.Own, nodeID, p.Agency, p.Address, o.Store, o.Material, o.Registry, signer, o.Log, o.Relay)
		if err != nil {
			f.closeRelays()
			return nil, err
		}
		f.relays[p.Agency] = r
	}
	f.Receiver = NewReceiver(o.Own, o.Store, o.Registry, signers, o.Material.Signer, o.Log)
	f.Receiver.witness = o.Witness
	for _, p := range o.Partners {
		if p.LogVKey != "" {
			f.Receiver.logs[p.Agency] = witnessedLog{origin: audit.Origin(p.TrustDomain), vkey: p.LogVKey}
		}
	}
	f.drift = NewDriftChecker(o.Own, nodeID, o.Store, o.Registry, f.relays, o.Log)
	f.Admin = &Admin{own: o.Own, store: o.Store, relays: f.relays, drift: f.drift}
	return f, nil
}

// Start runs a relay per partner and the periodic drift check.
func (f *Federation) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	for _, r := range f.relays {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			r.Run(ctx)
		}()
	}
	if f.opts.DriftInterval > 0 {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.drift.Run(ctx, f.opts.DriftInterval)
		}()
	}
}

// Client is partner's FederationService over the relay's connection (nil
// if partner is not one).
func (f *Federation) Client(partner string) liaisonv1.FederationServiceClient {
	if r, ok := f.relays[partner]; ok {
		return r.Client()
	}
	return nil
}

// Conn is the connection to partner for its node-to-node services other
// than federation (nil if partner is not one).
func (f *Federation) Conn(partner string) grpc.ClientConnInterface {
	if r, ok := f.relays[partner]; ok {
		return r.Conn()
	}
	return nil
}

// Stop stops the relays and the drift check, ends the partners' open
// channels to this node and closes the connections.
func (f *Federation) Stop() {
	f.Receiver.Close()
	if f.cancel != nil {
		f.cancel()
	}
	f.wg.Wait()
	f.closeRelays()
}

func (f *Federation) closeRelays() {
	for _, r := range f.relays {
		r.Close()
	}
}

// Admin implements FederationAdminService.
type Admin struct {
	liaisonv1.UnimplementedFederationAdminServiceServer
	own    string
	store  *store.Store
	relays map[string]*Relay
	drift  *DriftChecker
}

var _ liaisonv1.FederationAdminServiceServer = (*Admin)(nil)

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// GetFederationStatus implements liaisonv1.FederationAdminServiceServer.
func (a *Admin) GetFederationStatus(ctx context.Context, _ *liaisonv1.GetFederationStatusRequest) (*liaisonv1.GetFederationStatusResponse, error) {
	audit.SetResource(ctx, "channels")
	names := make([]string, 0, len(a.relays))
	for p := range a.relays {
		names = append(names, p)
	}
	sort.Strings(names)
	resp := &liaisonv1.GetFederationStatusResponse{Agency: a.own}
	for _, p := range names {
		r := a.relays[p]
		snap := r.State.Snapshot()
		oc, err := a.store.OutChannel(ctx, p)
		if err != nil {
			return nil, err
		}
		waiting, oldest, err := a.store.OutboxWaiting(ctx, p)
		if err != nil {
			return nil, err
		}
		in, err := a.store.InChannel(ctx, p)
		if err != nil {
			return nil, err
		}
		dc, err := a.store.LatestDriftCheck(ctx, p)
		if err != nil {
			return nil, err
		}
		st := &liaisonv1.PartnerStatus{
			Agency: p, Address: r.State.Address, Connected: snap.Connected, LastContact: ts(snap.LastContact),
			EnvelopesWaiting: waiting, OldestWaitingTime: ts(oldest),
			LastSequenceAssigned: uint64(oc.LastSeq), LastSequenceSent: max(snap.LastSent, uint64(oc.Acked)),
			LastSequenceAcknowledged: uint64(oc.Acked), LastSequenceApplied: uint64(oc.PartnerApplied),
			LastError: snap.LastError, LastErrorTime: ts(snap.LastErrorTime),
			InboundLastApplied: uint64(in.LastApplied), LastDriftCheck: dc,
		}
		if st.Witness, err = a.witnessStatus(ctx, p); err != nil {
			return nil, err
		}
		if in.LastApplied > 0 || !in.LastContact.IsZero() && in.LastContact.Unix() > 0 {
			st.InboundLastContact = ts(in.LastContact)
		}
		resp.Partners = append(resp.Partners, st)
	}
	return resp, nil
}

// CheckDrift implements liaisonv1.FederationAdminServiceServer.
func (a *Admin) CheckDrift(ctx context.Context, _ *liaisonv1.CheckDriftRequest) (*liaisonv1.CheckDriftResponse, error) {
	audit.SetResource(ctx, "channels")
	return &liaisonv1.CheckDriftResponse{Results: a.drift.CheckAll(ctx)}, nil
}
