// Package metrics is the node's Prometheus endpoint: RPC metrics from the
// go-grpc-middleware Prometheus provider, and the node's own, read from
// the database and the federation channels at scrape time. It serves
// /metrics on its own plaintext listener (loopback only, see
// config.Metrics), from a registry of its own: tests start many nodes in
// one process.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/federation"
	"github.com/liaison-exchange/liaison/server/store"
)

// Options say what the metrics read.
type Options struct {
	Agency     string
	Store      *store.Store
	Federation *federation.Federation
	// FeedConsumers reports the open change-feed streams.
	FeedConsumers func() int
	// Searches reports the searches from the name or birth-date index
	// running and waiting for their turn (search.Server.Searches).
	Searches func() (running, waiting int)
	Logger   *slog.Logger
}

// Metrics holds the node's collectors.
type Metrics struct {
	opts Options
	reg  *prometheus.Registry
	rpc  *grpcprom.ServerMetrics
	node *nodeCollector

	mu  sync.Mutex
	srv *http.Server
}

// New builds the collectors. Every series carries the node's agency as the
// label "agency".
func New(o Options) *Metrics {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	m := &Metrics{opts: o, reg: prometheus.NewRegistry()}
	m.rpc = grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram())
	m.node = &nodeCollector{m: m}
	r := prometheus.WrapRegistererWith(prometheus.Labels{"agency": o.Agency}, m.reg)
	r.MustRegister(
		m.rpc, m.node,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// SetFederation gives the metrics the node's federation (made after the
// interceptors).
func (m *Metrics) SetFederation(f *federation.Federation) {
	m.node.mu.Lock()
	defer m.node.mu.Unlock()
	m.opts.Federation = f
}

// UnaryInterceptor records RPC metrics of unary calls: started and handled
// calls by method and code, and handling time.
func (m *Metrics) UnaryInterceptor() grpc.UnaryServerInterceptor {
	inner := m.rpc.UnaryServerInterceptor()
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		return inner(ctx, req, info, func(ctx context.Context, req any) (any, error) {
			resp, err := h(ctx, req)
			return resp, withCode(err)
		})
	}
}

// StreamInterceptor records RPC metrics of streams: started and handled
// streams, messages each way, and handling time.
func (m *Metrics) StreamInterceptor() grpc.StreamServerInterceptor {
	inner := m.rpc.StreamServerInterceptor()
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		return inner(srv, ss, info, func(srv any, ss grpc.ServerStream) error {
			return withCode(h(srv, ss))
		})
	}
}

// withCode lets the provider see the code a call ends with. The metrics
// interceptors sit inside the one that turns the project's errors into
// statuses, so without this every refusal would count as Unknown. The
// error itself passes on unchanged (it unwraps to the original).
func withCode(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	c := codes.Code(code.Code_value[errs.CodeName(err)])
	return &codedError{err: err, st: status.New(c, c.String())}
}

type codedError struct {
	err error
	st  *status.Status
}

func (e *codedError) Error() string              { return e.err.Error() }
func (e *codedError) Unwrap() error              { return e.err }
func (e *codedError) GRPCStatus() *status.Status { return e.st }

// Serve listens on addr and serves /metrics until Close; it returns the
// address it listens on ("127.0.0.1:0" picks a free port). Every other
// path is 404.
func (m *Metrics) Serve(addr string) (string, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(m.opts.Logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
		Timeout:       scrapeTimeout,
	}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(m.opts.Logger.Handler(), slog.LevelWarn)}
	m.mu.Lock()
	m.srv = srv
	m.mu.Unlock()
	go func() {
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.opts.Logger.Error("metrics endpoint stopped", "err", err)
		}
	}()
	return lis.Addr().String(), nil
}

// Close stops serving (a scrape under way gets a second to finish).
func (m *Metrics) Close() error {
	m.mu.Lock()
	srv := m.srv
	m.srv = nil
	m.mu.Unlock()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return srv.Close()
	}
	return nil
}

// scrapeTimeout bounds what one scrape may spend reading.
const scrapeTimeout = 10 * time.Second

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	recordsDesc = desc("liaison_records",
		"Records held, by kind (lead, case, manifest) and origin agency: own records and partners' replicas, tombstones included.", "kind", "origin")
	leadsDesc = desc("liaison_leads",
		"Leads held, by origin agency and status (draft, released, withdrawn).", "origin", "status")
	tombstonesDesc = desc("liaison_lead_tombstones",
		"Leads whose content is deleted (withdrawn replicas, purged leads), by origin agency.", "origin")
	waitingDesc = desc("liaison_outbox_waiting_envelopes",
		"Envelopes to a partner without a receipt yet.", "partner")
	oldestDesc = desc("liaison_outbox_oldest_waiting_seconds",
		"Age of the oldest envelope to a partner without a receipt (0 when none waits).", "partner")
	sentDesc = desc("liaison_envelopes_sent_total",
		"Envelopes written to a partner's outbox (each is sent, in sequence order).", "partner")
	envelopesDesc = desc("liaison_envelopes_total",
		"Envelopes by what became of them: direction=outbound are this node's envelopes as the partner receipted them, "+
			"direction=inbound the partner's envelopes as this node applied them; status is applied, rejected or ignored.",
		"direction", "partner", "status")
	connectedDesc = desc("liaison_partner_connected",
		"1 while the channel to the partner's node is open.", "partner")
	contactDesc = desc("liaison_partner_last_contact_timestamp_seconds",
		"When the partner's node last answered on the outbound channel (Unix time).", "partner")
	inStepDesc = desc("liaison_drift_check_in_step",
		"1 if the last drift check found the partner's copies in step with this node's records.", "partner")
	differencesDesc = desc("liaison_drift_check_differences",
		"Differences the last drift check with the partner found.", "partner")
	failedDesc = desc("liaison_drift_check_failed",
		"1 if the last drift check with the partner could not be completed.", "partner")
	driftTimeDesc = desc("liaison_drift_check_timestamp_seconds",
		"When the last drift check with the partner ran (Unix time).", "partner")
	auditDesc = desc("liaison_audit_chain_length",
		"Events in the audit hash chain (the sequence of the last one).")
	dbSizeDesc = desc("liaison_database_size_bytes",
		"Size of the node's SQLite database: the file plus its write-ahead log.")
	walSizeDesc = desc("liaison_database_wal_size_bytes",
		"Size of the database's write-ahead log.")
	feedDesc = desc("liaison_feed_consumers",
		"Change-feed streams open now.")
	searchesRunningDesc = desc("liaison_searches_running",
		"Searches from the name or birth-date index running now (at most one a core).")
	searchesWaitingDesc = desc("liaison_searches_waiting",
		"Searches from the name or birth-date index waiting now for their turn.")
	forkAlarmsDesc = desc("liaison_audit_fork_alarms_total",
		"Fork alarms raised by this node, as the partner's witness, on the partner's audit log (it stays raised: never cleared by the node).", "partner")
	forkRefusalsDesc = desc("liaison_audit_fork_alarm_refusals_total",
		"Checkpoints of the partner's audit log this node refused to cosign since it raised the fork alarm.", "partner")
	witnessedDesc = desc("liaison_audit_witnessed_size",
		"Size of the latest checkpoint of the partner's audit log this node cosigned.", "partner")
	cosignedDesc = desc("liaison_audit_cosigned_size",
		"Size of the latest checkpoint of this node's audit log the partner cosigned.", "partner")
	readErrorsDesc = desc("liaison_metrics_read_errors_total",
		"Scrapes in which a node metric could not be read (the error is logged).")
)

// nodeCollector reads the node's own metrics at scrape time.
type nodeCollector struct {
	m *Metrics
	// mu guards m.opts.Federation and readErrors.
	mu         sync.Mutex
	readErrors float64
}

var allDescs = []*prometheus.Desc{
	recordsDesc, leadsDesc, tombstonesDesc, waitingDesc, oldestDesc, sentDesc, envelopesDesc,
	connectedDesc, contactDesc, inStepDesc, differencesDesc, failedDesc, driftTimeDesc,
	auditDesc, dbSizeDesc, walSizeDesc, feedDesc, searchesRunningDesc, searchesWaitingDesc, readErrorsDesc,
	forkAlarmsDesc, forkRefusalsDesc, witnessedDesc, cosignedDesc,
}

// Describe implements prometheus.Collector.
func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

// receiptStatuses are the outcomes counted in liaison_envelopes_total;
// each is exported, zero or not, for every partner.
var receiptStatuses = []liaisonv1.ReceiptStatus{
	liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED,
	liaisonv1.ReceiptStatus_RECEIPT_STATUS_REJECTED,
	liaisonv1.ReceiptStatus_RECEIPT_STATUS_IGNORED,
}

// Collect implements prometheus.Collector.
func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	o := &c.m.opts
	c.mu.Lock()
	fed := o.Federation
	c.mu.Unlock()
	var failures []error
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}

	// Partners: those configured, and any found in the tables.
	partners := map[string]bool{}
	var status *liaisonv1.GetFederationStatusResponse
	if fed != nil {
		var err error
		if status, err = fed.Admin.GetFederationStatus(ctx, &liaisonv1.GetFederationStatusRequest{}); err != nil {
			failures = append(failures, fmt.Errorf("federation status: %w", err))
		}
	}
	now := time.Now()
	for _, p := range status.GetPartners() {
		partners[p.GetAgency()] = true
		gauge(waitingDesc, float64(p.GetEnvelopesWaiting()), p.GetAgency())
		oldest := 0.0
		if t := p.GetOldestWaitingTime(); t != nil {
			oldest = max(0, now.Sub(t.AsTime()).Seconds())
		}
		gauge(oldestDesc, oldest, p.GetAgency())
		gauge(connectedDesc, b2f(p.GetConnected()), p.GetAgency())
		if t := p.GetLastContact(); t != nil {
			gauge(contactDesc, unix(t.AsTime()), p.GetAgency())
		}
		if w := p.GetWitness(); w != nil {
			counter(forkAlarmsDesc, b2f(w.GetForkAlarm()), p.GetAgency())
			counter(forkRefusalsDesc, float64(w.GetForkAlarmRefusals()), p.GetAgency())
			gauge(witnessedDesc, float64(w.GetWitnessedSize()), p.GetAgency())
			gauge(cosignedDesc, float64(w.GetCosignedSize()), p.GetAgency())
		}
		if dc := p.GetLastDriftCheck(); dc != nil {
			gauge(inStepDesc, b2f(dc.GetInStep()), p.GetAgency())
			gauge(differencesDesc, float64(dc.GetDifferences()), p.GetAgency())
			gauge(failedDesc, b2f(dc.GetError() != ""), p.GetAgency())
			gauge(driftTimeDesc, unix(dc.GetTime().AsTime()), p.GetAgency())
		}
	}

	counts, err := o.Store.Counts(ctx)
	if err != nil {
		failures = append(failures, err)
	} else {
		// The own agency's series exist from the start, zero or not.
		for _, kind := range []string{"lead", "case", "manifest"} {
			if _, ok := counts.Records[store.RecordKey{Kind: kind, Origin: o.Agency}]; !ok {
				counts.Records[store.RecordKey{Kind: kind, Origin: o.Agency}] = 0
			}
		}
		for k, n := range counts.Records {
			gauge(recordsDesc, float64(n), k.Kind, k.Origin)
		}
		for k, n := range counts.Leads {
			gauge(leadsDesc, float64(n), k.Origin, enumName(k.Status.String(), "LEAD_STATUS_"))
		}
		for origin, n := range counts.LeadTombstones {
			gauge(tombstonesDesc, float64(n), origin)
		}
		for k := range counts.Outbox {
			partners[k.Partner] = true
		}
		for k := range counts.Inbox {
			partners[k.Partner] = true
		}
		for p := range partners {
			var sent int64
			for k, n := range counts.Outbox {
				if k.Partner == p {
					sent += n
				}
			}
			counter(sentDesc, float64(sent), p)
			for _, st := range receiptStatuses {
				name := enumName(st.String(), "RECEIPT_STATUS_")
				counter(envelopesDesc, float64(counts.Outbox[store.EnvelopeKey{Partner: p, Status: st}]), "outbound", p, name)
				counter(envelopesDesc, float64(counts.Inbox[store.EnvelopeKey{Partner: p, Status: st}]), "inbound", p, name)
			}
		}
		gauge(auditDesc, float64(counts.AuditChainLength))
	}

	if file, wal, err := o.Store.Size(); err != nil {
		failures = append(failures, err)
	} else {
		gauge(dbSizeDesc, float64(file+wal))
		gauge(walSizeDesc, float64(wal))
	}
	consumers := 0
	if o.FeedConsumers != nil {
		consumers = o.FeedConsumers()
	}
	gauge(feedDesc, float64(consumers))
	running, waiting := 0, 0
	if o.Searches != nil {
		running, waiting = o.Searches()
	}
	gauge(searchesRunningDesc, float64(running))
	gauge(searchesWaitingDesc, float64(waiting))

	c.mu.Lock()
	if len(failures) > 0 {
		c.readErrors++
	}
	readErrors := c.readErrors
	c.mu.Unlock()
	counter(readErrorsDesc, readErrors)
	if len(failures) > 0 {
		o.Logger.Error("metrics: could not read every node metric", "err", errors.Join(failures...))
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// enumName is an enum value's name without its prefix, in lower case
// ("applied").
func enumName(s, prefix string) string { return strings.ToLower(strings.TrimPrefix(s, prefix)) }
