package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/user"

	"github.com/liaison-exchange/liaison/server/federation"
	"github.com/liaison-exchange/liaison/server/store"
)

// federationFastForward is the repair after restoring a node's database
// from a backup older than what a partner had received from it (see
// federation.FastForward). The relay's error names the partner and the
// sequence to give.
func federationFastForward(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("federation fast-forward", flag.ContinueOnError)
	path := fs.String("config", "", "the node's configuration file")
	dbPath := fs.String("db", "", "database file (default: the one the config names)")
	partner := fs.String("partner", "", "the partner whose channel is behind")
	to := fs.Int64("to", 0, "the sequence the partner reports applied (from the relay's error)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" || *partner == "" || *to <= 0 || fs.NArg() > 0 {
		return errors.New("federation fast-forward: --config, --partner and --to (> 0) are required")
	}
	cfg, err := offlineConfig("federation fast-forward", *path, dbPath)
	if err != nil {
		return err
	}
	if _, ok := cfg.Partner(*partner); !ok {
		return fmt.Errorf("federation fast-forward: %s is not a partner in %s", *partner, *path)
	}
	operator := "operator"
	if u, err := user.Current(); err == nil {
		operator = "operator:" + u.Username
	}
	s, err := store.Open(ctx, *dbPath, store.Options{Synchronous: cfg.Database.Synchronous, Agency: cfg.Agency})
	if err != nil {
		return err
	}
	n, ferr := federation.FastForward(ctx, s, *partner, *to, operator+" (liaison federation fast-forward)")
	if err := s.Close(); ferr == nil {
		ferr = err
	}
	if ferr != nil {
		return fmt.Errorf("federation fast-forward: %w", ferr)
	}
	fmt.Fprintf(stdout, "channel to %s moved past sequence %d: %d envelope(s) not yet receipted renumbered from %d.\n", *partner, *to, n, *to+1)
	fmt.Fprintln(stdout, "Start the node (or let its relay retry), then run `liaisonctl federation check` on both nodes.")
	return nil
}
