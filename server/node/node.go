// Package node wires a Liaison node together — config → TLS material →
// store → services → gRPC server — so that main and the end-to-end tests
// start exactly the same thing.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/auditsvc"
	"github.com/liaison-exchange/liaison/server/cases"
	"github.com/liaison-exchange/liaison/server/changefeed"
	"github.com/liaison-exchange/liaison/server/config"
	"github.com/liaison-exchange/liaison/server/federation"
	"github.com/liaison-exchange/liaison/server/handling"
	"github.com/liaison-exchange/liaison/server/identity"
	"github.com/liaison-exchange/liaison/server/interceptors"
	"github.com/liaison-exchange/liaison/server/leads"
	"github.com/liaison-exchange/liaison/server/manifests"
	"github.com/liaison-exchange/liaison/server/match"
	"github.com/liaison-exchange/liaison/server/metrics"
	"github.com/liaison-exchange/liaison/server/mtls"
	"github.com/liaison-exchange/liaison/server/officers"
	"github.com/liaison-exchange/liaison/server/permissions"
	"github.com/liaison-exchange/liaison/server/retention"
	"github.com/liaison-exchange/liaison/server/search"
	"github.com/liaison-exchange/liaison/server/store"
	"github.com/liaison-exchange/liaison/server/transparency"
	"github.com/liaison-exchange/liaison/server/validate"
)

// Node is a running node.
type Node struct {
	Config   *config.Config
	Log      *slog.Logger
	Store    *store.Store
	Material *mtls.Material

	// Federation is the node's side of every partner channel.
	Federation *federation.Federation
	// AuditLog signs checkpoints of the audit log's tree.
	AuditLog *transparency.Log
	// Match keeps the blind indexes published to the partners current.
	Match *match.Indexer
	// Metrics is the Prometheus endpoint (nil when off).
	Metrics *metrics.Metrics
	// MetricsAddr is where /metrics listens ("" when off).
	MetricsAddr string

	feed      *changefeed.Server
	refusals  *interceptors.Refusals
	retention *retention.Server
	stopJobs  context.CancelFunc
	jobs      sync.WaitGroup

	grpc   *grpc.Server
	health *health.Server
	lis    net.Listener
	served chan error
}

// NewLogger builds the node's logger from its config.
func NewLogger(c config.Log) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// Start opens everything the config names, listens (on lis if given, else
// on cfg.Listen), and serves in the background until Shutdown. Extra
// server options come after the node's own (tests use them to see what a
// node receives, at its handlers).
func Start(ctx context.Context, cfg *config.Config, log *slog.Logger, lis net.Listener, extra ...grpc.ServerOption) (n *Node, err error) {
	if log == nil {
		log = NewLogger(cfg.Log)
	}
	log = log.With("agency", cfg.Agency)
	n = &Node{Config: cfg, Log: log, served: make(chan error, 1), lis: lis}
	// The error paths return a nil *Node, so the clean-up holds its own
	// reference.
	started := n
	defer func() {
		if err != nil {
			if started.lis != nil {
				started.lis.Close()
			}
			started.closeAll()
		}
	}()

	partners := make([]mtls.Agency, 0, len(cfg.Partners))
	partnerCodes := make([]string, 0, len(cfg.Partners))
	for _, p := range cfg.Partners {
		partners = append(partners, mtls.Agency{Code: p.Agency, TrustDomain: p.TrustDomain, CAFile: p.CA})
		partnerCodes = append(partnerCodes, p.Agency)
	}
	n.Material, err = mtls.New(mtls.Options{
		Own:      mtls.Agency{Code: cfg.Agency, TrustDomain: cfg.TrustDomain, CAFile: cfg.TLS.CA},
		Partners: partners, CertFile: cfg.TLS.Cert, KeyFile: cfg.TLS.Key,
		Revoked: revocations(cfg.TLS), Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	n.Store, err = store.Open(ctx, cfg.Database.Path, store.Options{
		Synchronous: cfg.Database.Synchronous, MaxBatch: cfg.Database.MaxBatch,
		ReadConns: cfg.Database.ReadConnections, Agency: cfg.Agency, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	// Officers' names stay home: every payload for a partner passes
	// through the pseudonyms (server/officers says why the key lives in
	// the database).
	officerKey, err := n.Store.Secret(ctx, "officer_pseudonyms")
	if err != nil {
		return nil, err
	}
	n.Store.SetOutgoing(officers.New(officerKey, cfg.Agency, cfg.TrustDomain).Outgoing)
	v, err := validate.New()
	if err != nil {
		return nil, err
	}

	nodeID := "spiffe://" + cfg.TrustDomain + "/node"
	// One handling policy for every surface that serves a lead.
	policy := &handling.Policy{Agency: cfg.Agency, Granted: func(ctx context.Context, id string) (bool, error) {
		return n.Store.HasPermission(ctx, id, liaisonv1.PermissionPurpose_PERMISSION_PURPOSE_EXPORT)
	}}
	n.feed = changefeed.New(n.Store, changefeed.Options{
		MaxLag: cfg.Feed.MaxLag, SendTimeout: cfg.Feed.SendTimeout.Duration, Retention: cfg.Feed.Retention.Duration, Logger: log,
		NodeID: nodeID, Handling: policy,
	})
	searchSvc := search.New(n.Store, cfg.Agency, policy)
	n.Metrics = metrics.New(metrics.Options{Agency: cfg.Agency, Store: n.Store, FeedConsumers: n.feed.Consumers, Searches: searchSvc.Searches, Logger: log})
	n.refusals = interceptors.NewRefusals(interceptors.RefusalOptions{Append: n.Store.AppendAudit, Logger: log})
	opts := interceptors.Chain(interceptors.Options{
		Logger: log,
		Identify: func(ti credentials.TLSInfo) (identity.Identity, error) {
			return n.Material.Identify(ti.State)
		},
		Recorder:      n.Store,
		Validator:     v,
		RatePerSecond: cfg.Limits.RatePerSecond,
		Burst:         cfg.Limits.Burst,
		MetricsUnary:  n.Metrics.UnaryInterceptor(),
		MetricsStream: n.Metrics.StreamInterceptor(),
		Revocations:   n.Material.RevocationChanged,

		PartnerRatePerSecond: cfg.Limits.PartnerRatePerSecond,
		PartnerBurst:         cfg.Limits.PartnerBurst,
		Refusals:             n.refusals,
	})
	opts = append(opts,
		grpc.Creds(credentials.NewTLS(n.Material.ServerConfig())),
		grpc.MaxRecvMsgSize(cfg.Limits.MaxMessageBytes),
		grpc.MaxConcurrentStreams(uint32(cfg.Limits.MaxConcurrentStreams)),
		grpc.ConnectionTimeout(cfg.Limits.HandshakeTimeout.Duration),
		// Reuse call goroutines: a new one per call grows its stack through
		// the interceptor chain every time (measured: about a tenth of the
		// CPU of a read). A call spends most of its time waiting for its
		// group commit, so the workers must outnumber the calls in flight,
		// not the cores: with 4 per core, at 50 calls in flight most calls
		// still got a new goroutine (stack copying 18.6 µs of a GetLead's
		// CPU; 4.1 µs with 128 per core). An idle worker keeps its stack.
		grpc.NumStreamWorkers(uint32(128*runtime.GOMAXPROCS(0))),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	)
	n.grpc = grpc.NewServer(append(opts, extra...)...)
	reg := federation.NewRegistry(cfg.Agency, v)
	leadSvc := leads.New(leads.Options{
		Store: n.Store, Validator: v, Agency: cfg.Agency, Partners: partnerCodes, ReviewAfter: cfg.Retention.ReviewAfter.Duration,
		ReviewAfterByCrimeArea: reviewAfterByArea(cfg.Retention), Handling: policy,
	})
	leadSvc.Register(reg)
	permSvc := permissions.New(n.Store, cfg.Agency)
	permSvc.Register(reg)
	caseSvc := cases.New(n.Store, v, cfg.Agency, partnerCodes)
	caseSvc.Register(reg)
	manifestSvc := manifests.New(n.Store, v, cfg.Agency, partnerCodes)
	manifestSvc.Register(reg)
	// Blind hit/no-hit: the OPRF keys derive from a secret of the node's
	// own, kept in its database like the officers' pseudonym key.
	matchSecret, err := n.Store.Secret(ctx, "match_oprf")
	if err != nil {
		return nil, err
	}
	n.Match = match.NewIndexer(match.IndexerOptions{
		Store: n.Store, Own: cfg.Agency, Partners: cfg.Match.Partners, Secret: matchSecret,
		EpochLength: cfg.Match.EpochLength.Duration, Interval: cfg.Match.IndexInterval.Duration, Logger: log,
	})
	matchSvc := match.New(match.Options{
		Store: n.Store, Own: cfg.Agency, Partners: partnerCodes, PublishTo: cfg.Match.Partners, Indexer: n.Match,
		Conn:        func(p string) grpc.ClientConnInterface { return n.Federation.Conn(p) },
		DailyBudget: cfg.Match.DailyBudget, FollowUpDeadline: cfg.Match.FollowUpDeadline.Duration,
	})
	matchSvc.Register(reg)
	fedPartners := make([]federation.Partner, 0, len(cfg.Partners))
	for _, p := range cfg.Partners {
		vkey, err := p.LogVerifierKey()
		if err != nil {
			return nil, fmt.Errorf("partner %s log_key: %w", p.Agency, err)
		}
		fedPartners = append(fedPartners, federation.Partner{Agency: p.Agency, TrustDomain: p.TrustDomain, Address: p.Address, LogVKey: vkey})
	}
	logKey, err := cfg.LogSignerKey()
	if err != nil {
		return nil, fmt.Errorf("audit.log_key: %w", err)
	}
	n.Federation, err = federation.New(federation.Options{
		Own: cfg.Agency, TrustDomain: cfg.TrustDomain, Partners: fedPartners, Store: n.Store, Material: n.Material,
		Registry: reg, Log: log, DriftInterval: cfg.Federation.DriftInterval.Duration,
		Witness: federation.WitnessOptions{SignerKey: logKey, StopOnFork: cfg.Federation.StopOnFork},
		Relay: federation.RelayOptions{
			BatchSize: cfg.Federation.BatchSize, Window: cfg.Federation.Window,
			MinBackoff: cfg.Federation.MinBackoff.Duration, MaxBackoff: cfg.Federation.MaxBackoff.Duration,
		},
	})
	if err != nil {
		return nil, err
	}
	liaisonv1.RegisterLeadServiceServer(n.grpc, leadSvc)
	liaisonv1.RegisterPermissionServiceServer(n.grpc, permSvc)
	liaisonv1.RegisterCaseServiceServer(n.grpc, caseSvc)
	liaisonv1.RegisterManifestServiceServer(n.grpc, manifestSvc)
	liaisonv1.RegisterFederationServiceServer(n.grpc, n.Federation.Receiver)
	liaisonv1.RegisterFederationAdminServiceServer(n.grpc, n.Federation.Admin)
	if n.AuditLog, err = NewAuditLog(cfg, n.Store, log); err != nil {
		return nil, err
	}
	n.AuditLog.SetClients(n.Federation.Client)
	liaisonv1.RegisterAuditServiceServer(n.grpc, auditsvc.New(n.Store, n.AuditLog))
	liaisonv1.RegisterSearchServiceServer(n.grpc, searchSvc)
	liaisonv1.RegisterChangeFeedServiceServer(n.grpc, n.feed)
	liaisonv1.RegisterMatchServiceServer(n.grpc, matchSvc)
	liaisonv1.RegisterMatchPeerServiceServer(n.grpc, matchSvc)
	n.retention = retention.New(n.Store, retention.Options{
		Agency: cfg.Agency, Interval: cfg.Retention.PurgeInterval.Duration, Now: time.Now, Logger: log,
		Principal: nodeID, AuditContentRetention: cfg.Audit.ContentRetention.Duration,
	})
	liaisonv1.RegisterRetentionServiceServer(n.grpc, n.retention)
	n.health = health.NewServer()
	healthpb.RegisterHealthServer(n.grpc, n.health)
	reflection.Register(n.grpc)
	for name := range n.grpc.GetServiceInfo() {
		n.health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}

	if n.lis == nil {
		if n.lis, err = net.Listen("tcp", cfg.Listen); err != nil {
			return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
		}
	}
	n.Metrics.SetFederation(n.Federation)
	if cfg.Metrics.Listen != "off" {
		if n.MetricsAddr, err = n.Metrics.Serve(cfg.Metrics.Listen); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	go func() { n.served <- n.grpc.Serve(n.lis) }()
	n.Federation.Start()
	jobs, stop := context.WithCancel(context.Background())
	n.stopJobs = stop
	for _, job := range []func(context.Context){n.feed.RunTrim, n.retention.Run, n.AuditLog.Run, n.Match.Run} {
		n.jobs.Add(1)
		go func() {
			defer n.jobs.Done()
			job(jobs)
		}()
	}
	log.Info("node serving", "addr", n.lis.Addr().String(), "db", cfg.Database.Path, "partners", partnerCodes, "metrics", n.MetricsAddr)
	return n, nil
}

// Addr is the address the node listens on.
func (n *Node) Addr() string { return n.lis.Addr().String() }

// Shutdown stops accepting calls, lets calls in flight finish for up to the
// configured grace period (then cuts them off), and closes the database
// after the last queued write has committed.
func (n *Node) Shutdown() error {
	n.health.Shutdown()
	// Background jobs and the channels to and from partners end first: they
	// never finish on their own, and the partners resume where they left off.
	n.stopJobs()
	n.jobs.Wait()
	n.Federation.Stop()
	stopped := make(chan struct{})
	go func() {
		n.grpc.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(n.Config.Limits.ShutdownGrace.Duration):
		n.Log.Warn("calls still running after the shutdown grace period; stopping them")
		n.grpc.Stop()
		<-stopped
	}
	err := n.closeAll()
	if serr := <-n.served; serr != nil && !errors.Is(serr, grpc.ErrServerStopped) {
		err = errors.Join(err, serr)
	}
	n.Log.Info("node stopped")
	return err
}

func (n *Node) closeAll() error {
	var errList []error
	// No call runs any more: what the refusals coalescer still counts is
	// written while the store is open.
	n.refusals.Close()
	if n.Metrics != nil {
		errList = append(errList, n.Metrics.Close())
	}
	if n.Store != nil {
		errList = append(errList, n.Store.Close())
	}
	return errors.Join(errList...)
}

// reviewAfterByArea maps the configured retention per crime area.
func reviewAfterByArea(r config.Retention) map[liaisonv1.CrimeArea]time.Duration {
	out := map[liaisonv1.CrimeArea]time.Duration{}
	for name, d := range r.ReviewAfterByCrimeArea {
		if v, ok := liaisonv1.CrimeArea_value["CRIME_AREA_"+strings.ToUpper(name)]; ok {
			out[liaisonv1.CrimeArea(v)] = d.Duration
		}
	}
	return out
}
