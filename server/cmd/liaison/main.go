// Command liaison runs a Liaison node and its offline tools.
//
//	liaison serve --config FILE [--listen ADDR] [--db PATH] [--partner-addr AGENCY=ADDR]...
//	liaison audit verify [--config FILE] [--db FILE] [--checkpoint FILE]...
//	liaison audit check-proof FILE --log-key VKEY-FILE [--witness-key VKEY-FILE]...
//	liaison federation verify --config FILE [--db FILE]
//	liaison federation fast-forward --config FILE --partner AGENCY --to N [--db FILE]
//	liaison federation receipt-proof --db FILE --partner AGENCY --record ID --out FILE
//	liaison federation check-receipt FILE --ca PARTNER-CA.crt [--trust-domain DOMAIN]
//	liaison backup --db FILE --out FILE
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/liaison-exchange/liaison/server/config"
	"github.com/liaison-exchange/liaison/server/federation"
	"github.com/liaison-exchange/liaison/server/mtls"
	"github.com/liaison-exchange/liaison/server/node"
	"github.com/liaison-exchange/liaison/server/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "liaison:", err)
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(int(ee))
		}
		os.Exit(1)
	}
}

// exitError is an error that carries its own exit code (e.g. 2 for a
// broken audit chain, distinct from 1 for "could not check").
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

const usage = `usage:
  liaison serve --config FILE [--listen ADDR] [--db PATH] [--partner-addr AGENCY=ADDR]... [--metrics-listen ADDR]
  liaison audit verify [--config FILE] [--db FILE] [--checkpoint FILE]...
  liaison audit check-proof FILE --log-key VKEY-FILE [--witness-key VKEY-FILE]...
  liaison federation verify --config FILE [--db FILE]
  liaison federation fast-forward --config FILE --partner AGENCY --to N [--db FILE]
  liaison federation receipt-proof --db FILE --partner AGENCY --record ID --out FILE
  liaison federation check-receipt FILE --ca PARTNER-CA.crt [--trust-domain DOMAIN]
  liaison backup --db FILE --out FILE`

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:])
	case "audit":
		switch {
		case len(args) >= 2 && args[1] == "verify":
			return auditVerify(ctx, args[2:], stdout)
		case len(args) >= 2 && args[1] == "check-proof":
			return auditCheckProof(args[2:], stdout)
		}
		return errors.New(usage)
	case "federation":
		switch {
		case len(args) >= 2 && args[1] == "verify":
			return federationVerify(ctx, args[2:], stdout)
		case len(args) >= 2 && args[1] == "fast-forward":
			return federationFastForward(ctx, args[2:], stdout)
		case len(args) >= 2 && args[1] == "receipt-proof":
			return federationReceiptProof(ctx, args[2:], stdout)
		case len(args) >= 2 && args[1] == "check-receipt":
			return federationCheckReceipt(ctx, args[2:], stdout)
		}
		return errors.New(usage)
	case "backup":
		return backup(ctx, args[1:], stdout)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}

type partnerAddrs map[string]string

func (p partnerAddrs) String() string { return fmt.Sprint(map[string]string(p)) }
func (p partnerAddrs) Set(v string) error {
	agency, addr, ok := strings.Cut(v, "=")
	if !ok || agency == "" || addr == "" {
		return fmt.Errorf("want AGENCY=HOST:PORT, got %q", v)
	}
	p[agency] = addr
	return nil
}

func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	path := fs.String("config", "", "node configuration file (YAML)")
	var o config.Overrides
	o.PartnerAddrs = partnerAddrs{}
	fs.StringVar(&o.Listen, "listen", "", "override the listen address")
	fs.StringVar(&o.DBPath, "db", "", "override the database path")
	fs.StringVar(&o.MetricsListen, "metrics-listen", "", `override the metrics address ("off" disables it)`)
	fs.Var(partnerAddrs(o.PartnerAddrs), "partner-addr", "override a partner's address: AGENCY=HOST:PORT (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" {
		return errors.New("serve: --config is required")
	}
	cfg, err := config.Load(*path, o)
	if err != nil {
		return err
	}
	log := node.NewLogger(cfg.Log)
	limit, err := node.LimitMemory()
	if err != nil {
		return err
	}
	log.Debug("garbage collector", "gogc", node.TuneGC(), "memory_limit", limit, "sqlite_heap_limit", node.SQLiteHeapLimit,
		"c_allocator_keeps_freed", store.KeepFreedMemory())
	n, err := node.Start(ctx, cfg, log, nil)
	if err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			log.Info("stop signal received; shutting down")
			return n.Shutdown()
		case <-hup:
			// Re-read the revocation list; certificates reload on their own.
			fresh, err := config.Load(*path, o)
			if err != nil {
				log.Error("SIGHUP: config not reloaded", "err", err)
				continue
			}
			if err := n.ReloadRevocations(fresh); err != nil {
				log.Error("SIGHUP: revocation list not reloaded", "err", err)
				continue
			}
			log.Info("SIGHUP: revocation list reloaded", "revoked", len(fresh.TLS.Revoked))
		}
	}
}

func auditVerify(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	path := fs.String("config", "", "the node's configuration file: its log key and its partners' (witnesses') keys; without it only the chain and the leaves are checked")
	dbPath := fs.String("db", "", "node database file (default: the one the config names)")
	var extra stringList
	fs.Var(&extra, "checkpoint", "a signed checkpoint from outside the database, e.g. the latest one the partner cosigned (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var o store.VerifyOptions
	if *path != "" {
		cfg, err := offlineConfig("audit verify", *path, dbPath)
		if err != nil {
			return err
		}
		l, err := node.NewAuditLog(cfg, nil, nil)
		if err != nil {
			return fmt.Errorf("audit verify: %w", err)
		}
		o = l.VerifyOptions()
	}
	for _, f := range extra {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("audit verify: %w", err)
		}
		o.Checkpoints = append(o.Checkpoints, b)
	}
	if *dbPath == "" {
		return errors.New("audit verify: --db (or --config) is required")
	}
	if len(o.Checkpoints) > 0 && o.Keys.Log == "" {
		return errors.New("audit verify: --checkpoint needs --config (the keys it is checked with)")
	}
	r, err := store.OpenReadOnly(*dbPath)
	if err != nil {
		return fmt.Errorf("audit verify: %w", err)
	}
	defer r.Close()
	res, err := r.VerifyAudit(ctx, o)
	if err != nil {
		return err
	}
	if !res.OK {
		at := fmt.Sprintf("event %d", res.FirstBad)
		if res.Through > res.FirstBad {
			at = fmt.Sprintf("events %d to %d", res.FirstBad, res.Through)
		}
		fmt.Fprintf(stdout, "audit log BROKEN at %s: %s (%d events verified)\n", at, res.Problem, res.Checked)
		return exitError(2)
	}
	fmt.Fprintf(stdout, "audit chain OK: %d events, head %d %x\n", res.Checked, res.HeadSeq, res.HeadHash)
	switch {
	case o.Keys.Log == "":
		fmt.Fprintln(stdout, "audit tree: not checked against checkpoints (no --config)")
	case res.WitnessedAt > 0:
		fmt.Fprintf(stdout, "audit tree OK: matches %d checkpoints, the latest at %d events; witnessed at %d events by %s\n",
			res.Checkpoints, res.CheckpointAt, res.WitnessedAt, strings.Join(res.Witnesses, ", "))
	default:
		fmt.Fprintf(stdout, "audit tree OK: matches %d checkpoints, the latest at %d events; none cosigned by a witness\n", res.Checkpoints, res.CheckpointAt)
	}
	return nil
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// federationVerify re-checks the signatures of every envelope the node
// stored. The partners' CAs come from the node's configuration, never from
// the database under test.
func federationVerify(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("federation verify", flag.ContinueOnError)
	path := fs.String("config", "", "the node's configuration file (own agency, partners and their CAs)")
	dbPath := fs.String("db", "", "database file (default: the one the config names)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" {
		return errors.New("federation verify: --config is required")
	}
	cfg, err := offlineConfig("federation verify", *path, dbPath)
	if err != nil {
		return err
	}
	signers := func(sender string) (federation.SignerCheck, error) {
		p, ok := cfg.Partner(sender)
		if !ok {
			return federation.SignerCheck{}, fmt.Errorf("%s is not a partner in %s", sender, *path)
		}
		cas, err := mtls.ReadCAs(p.CA)
		if err != nil {
			return federation.SignerCheck{}, fmt.Errorf("CA of %s: %w", sender, err)
		}
		return federation.SignerCheck{CAs: cas, Sender: sender, TrustDomain: p.TrustDomain}, nil
	}
	r, err := store.OpenReadOnly(*dbPath)
	if err != nil {
		return err
	}
	defer r.Close()
	res, err := federation.VerifyInbox(ctx, r, cfg.Agency, signers)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res.String())
	for _, f := range res.Failures {
		fmt.Fprintf(stdout, "  NOT VERIFIED: envelope %s, sequence %d from %s: %s\n", f.EnvelopeID, f.Seq, f.Sender, f.Problem)
	}
	if len(res.Failures) > 0 {
		return exitError(2)
	}
	return nil
}

// offlineConfig reads the config file of an offline command (without the
// command-line overrides of serve) and settles its database: *dbPath if
// given, else the one the config names, which must exist.
func offlineConfig(cmd, path string, dbPath *string) (*config.Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cmd, err)
	}
	cfg, err := config.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: config %s: %w", cmd, path, err)
	}
	if *dbPath == "" {
		*dbPath = cfg.Database.Path
	}
	if _, err := os.Stat(*dbPath); err != nil {
		return nil, fmt.Errorf("%s: %w", cmd, err)
	}
	return cfg, nil
}
