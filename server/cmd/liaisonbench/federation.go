package main

// The federation phase (-fed-leads N, default 100,000): N leads are
// created on a fresh alpha node (untimed, through ImportLeads), then
// released to a fresh bravo node by supervisors at the run's concurrency,
// and the clock runs from the first release until bravo has applied the
// last one. Next to it, from the same run, it prints the two ceilings the
// issue names: the raw SQLite rate of inserting N lead-sized rows in
// batches of 1,000 into one table (same disk, same synchronous setting),
// and the cost of one P-256 signature and verification. Afterwards every
// envelope bravo stored is verified down to its signature, as
// `liaison federation verify` does.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/liaison-exchange/liaison/client"
	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/config"
	"github.com/liaison-exchange/liaison/server/federation"
	"github.com/liaison-exchange/liaison/server/mtls"
	"github.com/liaison-exchange/liaison/server/node"
	"github.com/liaison-exchange/liaison/server/store"
)

// fedTarget is the end-to-end rate the federation issue asks for.
const fedTarget = 5000.0

// fedResult is what the federation phase measured.
type fedResult struct {
	leads          int
	release        time.Duration // first release sent → last release answered
	endToEnd       time.Duration // first release sent → last lead applied on bravo
	tail           time.Duration // last release answered → last lead applied
	rawRate        float64       // rows/s, batched inserts
	signUS, verUS  float64       // µs per P-256 signature / verification
	verify         federation.VerifyResult
	envelopes      int64 // envelopes bravo applied
	batches        int64 // alpha's writer group commits during the releases
	createLeadRate float64
	// cosign is, for the audit events alpha committed during the releases,
	// the time from commit to bravo's cosignature of a checkpoint covering
	// them (p50, p99), and how many events that covers.
	cosignP50, cosignP99 time.Duration
	cosignEvents         int
	checkpointEvery      time.Duration
	imported             time.Duration // the leads' ImportLeads calls, before the releases
	err                  error
}

// measureFederation runs the phase; createLeadRate is the CreateLead figure
// of the same run (0 if not measured).
func measureFederation(ctx context.Context, f flags, pkiDir, tmp string, createLeadRate float64) fedResult {
	r := fedResult{leads: f.fedLeads, createLeadRate: createLeadRate}
	progress := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "liaisonbench: %-12s "+format+"\n", append([]any{"Federation"}, args...)...)
	}
	dir := filepath.Join(tmp, "federation")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		r.err = err
		return r
	}
	defer os.RemoveAll(dir)

	progress("raw SQLite ceiling: %d rows in batches of 1,000", f.fedLeads)
	if r.rawRate, r.err = rawInsertRate(ctx, filepath.Join(dir, "raw.db"), f.fedLeads); r.err != nil {
		return r
	}
	if r.signUS, r.verUS, r.err = signatureCost(2000); r.err != nil {
		return r
	}

	path := func(agency, file string) string { return filepath.Join(pkiDir, agency, file) }
	lisA, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		r.err = err
		return r
	}
	lisB, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		lisA.Close()
		r.err = err
		return r
	}
	cfgA, err := nodeConfig(f, pkiDir, filepath.Join(dir, ownAgency+".db"), ownAgency, partnerAgency, lisA.Addr().String(), lisB.Addr().String())
	if err != nil {
		lisA.Close()
		lisB.Close()
		r.err = err
		return r
	}
	bravo, cfgB, err := startPartner(ctx, f, pkiDir, dir, lisB, lisA.Addr().String())
	if err != nil {
		lisA.Close()
		r.err = err
		return r
	}
	stopBravo := sync.OnceValue(bravo.Shutdown)
	defer stopBravo()
	alpha, err := node.Start(ctx, cfgA, node.NewLogger(cfgA.Log), lisA)
	if err != nil {
		r.err = fmt.Errorf("start alpha: %w", err)
		return r
	}
	defer alpha.Shutdown()

	dial := func(role string) ([]*grpc.ClientConn, error) {
		var conns []*grpc.ClientConn
		for range f.conns {
			c, err := client.Dial(client.Options{Addr: alpha.Addr(), CA: path(ownAgency, "ca.crt"),
				Cert: path(ownAgency, role+".crt"), Key: path(ownAgency, role+".key")})
			if err != nil {
				return nil, err
			}
			conns = append(conns, c)
		}
		return conns, nil
	}
	analysts, err := dial("analyst")
	if err != nil {
		r.err = err
		return r
	}
	supervisors, err := dial("supervisor")
	if err != nil {
		r.err = err
		return r
	}
	defer func() {
		for _, c := range append(analysts, supervisors...) {
			c.Close()
		}
	}()

	progress("creating %d leads on alpha with ImportLeads (1,000 a call)", f.fedLeads)
	importStart := time.Now()
	ids, err := importLeads(ctx, analysts, f.fedLeads, f.concurrency)
	if err != nil {
		r.err = err
		return r
	}
	r.imported = time.Since(importStart)

	progress("releasing %d leads to bravo, concurrency %d", f.fedLeads, f.concurrency)
	clients := make([]liaisonv1.LeadServiceClient, len(supervisors))
	for i, c := range supervisors {
		clients[i] = liaisonv1.NewLeadServiceClient(c)
	}
	done := make(chan error, 1)
	stats0 := alpha.Store.Stats()
	sampler := &cosignSampler{st: alpha.Store, partner: partnerAgency}
	sampleCtx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	go sampler.run(sampleCtx)
	stopProfile := (&bench{}).profile(f, 99, Scenario{Name: "federation"})
	defer stopProfile()
	start := time.Now()
	go func() {
		err := Do(ctx, len(ids), f.concurrency, func(ctx context.Context, i int) error {
			_, err := clients[i%len(clients)].ReleaseLead(ctx, &liaisonv1.ReleaseLeadRequest{Id: ids[i], Partners: []string{partnerAgency}})
			return err
		})
		r.release = time.Since(start)
		done <- err
	}()

	// Poll bravo's inbound channel from alpha (one row) until the last
	// release's envelope is applied; every envelope here is a release, one
	// per lead, so the sequence reaches the number of leads. The records
	// are counted once at the end.
	want := int64(len(ids))
	deadline := time.Now().Add(10 * time.Minute)
	releasing := true
	for {
		if releasing {
			select {
			case err := <-done:
				releasing = false
				if err != nil {
					r.err = fmt.Errorf("release: %w", err)
					return r
				}
			default:
			}
		}
		ch, err := bravo.Store.InChannel(ctx, ownAgency)
		if err != nil {
			r.err = fmt.Errorf("bravo's channel from alpha: %w", err)
			return r
		}
		if ch.LastApplied >= want {
			r.endToEnd = time.Since(start)
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			r.err = fmt.Errorf("bravo applied %d of %d envelopes after %v", ch.LastApplied, want, time.Since(start).Round(time.Second))
			return r
		}
		time.Sleep(5 * time.Millisecond)
	}
	if releasing {
		if err := <-done; err != nil {
			r.err = fmt.Errorf("release: %w", err)
			return r
		}
	}
	r.tail = max(0, r.endToEnd-r.release)
	// Until bravo has cosigned every event alpha committed meanwhile.
	if size, err := alpha.Store.AuditSize(ctx); err == nil {
		for wait := time.Now().Add(2 * time.Minute); !sampler.cosigned(size) && time.Now().Before(wait); {
			time.Sleep(50 * time.Millisecond)
		}
	}
	stopSampling()
	lat := sampler.latencies()
	r.cosignEvents, r.cosignP50, r.cosignP99 = len(lat), percentile(lat, 0.50), percentile(lat, 0.99)
	r.checkpointEvery = cfgA.Audit.CheckpointInterval.Duration
	r.batches = alpha.Store.Stats().Batches - stats0.Batches
	progress("%d leads applied on bravo in %v (%.0f/s)", want, r.endToEnd.Round(time.Millisecond), float64(want)/r.endToEnd.Seconds())

	c, err := bravo.Store.Counts(ctx)
	if err != nil {
		r.err = err
		return r
	}
	if got := c.Records[store.RecordKey{Kind: "lead", Origin: ownAgency}]; got != want {
		r.err = fmt.Errorf("bravo holds %d of alpha's leads, want %d", got, want)
		return r
	}
	for k, n := range c.Inbox {
		if k.Partner == ownAgency && k.Status == liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED {
			r.envelopes += n
		}
	}

	// Every envelope bravo stored, checked down to alpha's signature.
	progress("verifying every envelope bravo stored")
	if err := stopBravo(); err != nil {
		r.err = fmt.Errorf("stop bravo: %w", err)
		return r
	}
	ro, err := store.OpenReadOnly(cfgB.Database.Path)
	if err != nil {
		r.err = err
		return r
	}
	defer ro.Close()
	cas, err := mtls.ReadCAs(path(ownAgency, "ca.crt"))
	if err != nil {
		r.err = err
		return r
	}
	r.verify, r.err = federation.VerifyInbox(ctx, ro, partnerAgency, func(sender string) (federation.SignerCheck, error) {
		if sender != ownAgency {
			return federation.SignerCheck{}, fmt.Errorf("unexpected sender %s", sender)
		}
		return federation.SignerCheck{CAs: cas, Sender: sender, TrustDomain: cfgB.Partners[0].TrustDomain}, nil
	})
	return r
}

// nodeConfig is the configuration of every node the bench starts: the
// production settings (real mTLS, synchronous full, signed checkpoints)
// with the per-principal rate limit raised and metrics off. The node of
// agency own listens on listen, keeps its database at dbPath and has one
// partner, agency partner, at partnerAddr.
func nodeConfig(f flags, pkiDir, dbPath, own, partner, listen, partnerAddr string) (*config.Config, error) {
	path := func(agency, file string) string { return filepath.Join(pkiDir, agency, file) }
	c := &config.Config{
		Agency: own, Listen: listen,
		TLS: config.TLS{CA: path(own, "ca.crt"), Cert: path(own, "node.crt"), Key: path(own, "node.key")},
		// synchronous "full" is the production default: every commit is
		// fsynced before the caller is answered.
		Database: config.Database{Path: dbPath, Synchronous: "full"},
		Partners: []config.Partner{{Agency: partner, CA: path(partner, "ca.crt"), Address: partnerAddr, LogKey: path(partner, "log.vkey")}},
		// Checkpoints of the audit tree are signed as in production.
		Audit: config.Audit{LogKey: path(own, "log.key")},
		// The per-principal limiter would otherwise be what is measured.
		Limits: config.Limits{RatePerSecond: 1e6, Burst: 1_000_000},
		Log:    config.Log{Level: f.logLevel},
		// Not scraped here, and the default port may be in use (make run).
		Metrics: config.Metrics{Listen: "off"},
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("config %s: %w", own, err)
	}
	return c, nil
}

// startPartner starts the partner agency's node (bravo) on lis with a
// fresh database in dir, its partner (alpha) at alphaAddr: the receiving
// end of releases, for the federation phase and the mixed workload.
func startPartner(ctx context.Context, f flags, pkiDir, dir string, lis net.Listener, alphaAddr string) (*node.Node, *config.Config, error) {
	cfg, err := nodeConfig(f, pkiDir, filepath.Join(dir, partnerAgency+".db"), partnerAgency, ownAgency, lis.Addr().String(), alphaAddr)
	if err != nil {
		lis.Close()
		return nil, nil, err
	}
	n, err := node.Start(ctx, cfg, node.NewLogger(cfg.Log), lis)
	if err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", partnerAgency, err)
	}
	return n, cfg, nil
}

// importLeads creates n leads through ImportLeads, 1,000 per call.
func importLeads(ctx context.Context, conns []*grpc.ClientConn, n, concurrency int) ([]string, error) {
	ids := make([]string, n)
	const per = 1000
	calls := (n + per - 1) / per
	err := Do(ctx, calls, min(concurrency, 4), func(ctx context.Context, c int) error {
		req := &liaisonv1.ImportLeadsRequest{}
		for i := c * per; i < min(n, (c+1)*per); i++ {
			req.Items = append(req.Items, &liaisonv1.ImportItem{Line: int64(i + 1), RequestId: uuid.Must(uuid.NewV7()).String(),
				Lead: benchLead(fmt.Sprintf("federation %d", i))})
		}
		resp, err := liaisonv1.NewLeadServiceClient(conns[c%len(conns)]).ImportLeads(ctx, req)
		if err != nil {
			return err
		}
		for j, res := range resp.GetResults() {
			if res.GetOutcome() != liaisonv1.ImportOutcome_IMPORT_OUTCOME_CREATED {
				return fmt.Errorf("import line %d: %v %s", res.GetLine(), res.GetOutcome(), res.GetMessage())
			}
			ids[c*per+j] = res.GetLeadId()
		}
		return nil
	})
	return ids, err
}

// rawInsertRate inserts n lead-sized rows (the protobuf of benchLead) into
// one table of a fresh SQLite file, 1,000 per transaction, with the node's
// journal and synchronous settings, and returns rows/s: what SQLite alone
// does on this disk, the ceiling of any replication into it.
func rawInsertRate(ctx context.Context, path string, n int) (float64, error) {
	body, err := proto.Marshal(benchLead("raw insert ceiling"))
	if err != nil {
		return 0, err
	}
	d, err := sql.Open("sqlite3", store.FileURI(path, url.Values{"_journal_mode": {"WAL"}, "_synchronous": {"FULL"}, "_busy_timeout": {"5000"}}))
	if err != nil {
		return 0, err
	}
	defer d.Close()
	d.SetMaxOpenConns(1)
	if _, err := d.ExecContext(ctx, `CREATE TABLE leads (id TEXT PRIMARY KEY, version INTEGER NOT NULL, body BLOB NOT NULL) STRICT`); err != nil {
		return 0, err
	}
	start := time.Now()
	for done := 0; done < n; {
		tx, err := d.BeginTx(ctx, nil)
		if err != nil {
			return 0, err
		}
		st, err := tx.PrepareContext(ctx, `INSERT INTO leads (id, version, body) VALUES (?, 1, ?)`)
		if err != nil {
			tx.Rollback()
			return 0, err
		}
		for i := 0; i < 1000 && done < n; i++ {
			if _, err := st.ExecContext(ctx, uuid.Must(uuid.NewV7()).String(), body); err != nil {
				tx.Rollback()
				return 0, err
			}
			done++
		}
		st.Close()
		if err := tx.Commit(); err != nil {
			return 0, err
		}
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// signatureCost measures one ECDSA P-256 signature and verification of a
// SHA-256 digest, in µs, over n of each.
func signatureCost(n int) (signUS, verifyUS float64, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return 0, 0, err
	}
	digest := sha256.Sum256([]byte("a batch root"))
	var sig []byte
	start := time.Now()
	for range n {
		if sig, err = ecdsa.SignASN1(rand.Reader, key, digest[:]); err != nil {
			return 0, 0, err
		}
	}
	signUS = float64(time.Since(start).Microseconds()) / float64(n)
	start = time.Now()
	for range n {
		if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
			return 0, 0, fmt.Errorf("signature does not verify")
		}
	}
	verifyUS = float64(time.Since(start).Microseconds()) / float64(n)
	return signUS, verifyUS, nil
}

// reportFederation prints the phase's table; false if it failed.
func reportFederation(w io.Writer, f flags, r fedResult) bool {
	fmt.Fprintln(w)
	fmt.Fprintf(w, "## Federation: %d leads released on alpha, applied on bravo (two nodes in this process, synchronous full, concurrency %d)\n\n", r.leads, f.concurrency)
	if r.err != nil {
		fmt.Fprintf(w, "**Failed: %v**\n", r.err)
		return false
	}
	rate := func(d time.Duration) float64 { return float64(r.leads) / d.Seconds() }
	e2e := rate(r.endToEnd)
	fmt.Fprintln(w, "| measure | value |")
	fmt.Fprintln(w, "|---|---:|")
	fmt.Fprintf(w, "| end to end: first release → last lead applied on bravo | %v = **%.0f leads/s** |\n", r.endToEnd.Round(time.Millisecond), e2e)
	fmt.Fprintf(w, "| releases answered on alpha (ReleaseLead, supervisor) | %v = %.0f/s |\n", r.release.Round(time.Millisecond), rate(r.release))
	fmt.Fprintf(w, "| bravo's lag after the last release was answered | %v |\n", r.tail.Round(time.Millisecond))
	fmt.Fprintf(w, "| envelopes applied on bravo | %d |\n", r.envelopes)
	fmt.Fprintf(w, "| alpha's group commits during the releases | %d |\n", r.batches)
	if r.createLeadRate > 0 {
		fmt.Fprintf(w, "| single-node CreateLead, same run (table above) | %.0f/s |\n", r.createLeadRate)
	}
	fmt.Fprintf(w, "| bulk import beforehand: ImportLeads, 1,000 leads a call, 4 calls at a time | %v = %.0f leads/s |\n", r.imported.Round(time.Millisecond), rate(r.imported))
	fmt.Fprintf(w, "| raw SQLite: %d lead-sized rows, batches of 1,000, one table | %.0f rows/s |\n", r.leads, r.rawRate)
	fmt.Fprintf(w, "| one P-256 signature / verification | %.0f µs / %.0f µs |\n", r.signUS, r.verUS)
	fmt.Fprintf(w, "| audit event committed on alpha → cosigned by bravo (%d events, checkpoints every %v) | p50 %v, p99 %v |\n",
		r.cosignEvents, r.checkpointEvery, r.cosignP50.Round(time.Millisecond), r.cosignP99.Round(time.Millisecond))
	fmt.Fprintln(w)
	fmt.Fprintf(w, "End to end is %.1f%% of the raw batched-insert ceiling.\n", 100*e2e/r.rawRate)
	fmt.Fprintf(w, "Envelopes verified afterwards on bravo: %s.\n", r.verify.String())
	ok := len(r.verify.Failures) == 0 && r.verify.Checked >= int64(r.leads)
	verdict := "PASS"
	if e2e < fedTarget || !ok {
		verdict = "MISS"
	}
	fmt.Fprintf(w, "\nTarget: ≥ %.0f leads/s end to end with every envelope verifiable: %.0f/s, %d of %d envelopes verified — %s\n",
		fedTarget, e2e, r.verify.Checked-int64(len(r.verify.Failures)), r.leads, verdict)
	return ok
}
