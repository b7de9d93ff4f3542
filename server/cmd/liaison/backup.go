package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/liaison-exchange/liaison/server/store"
)

// backup copies a node's database, while the node runs, into a new file
// (store.Backup: one consistent snapshot, complete or absent at --out) and
// verifies the copy like a restored database would be: PRAGMA
// integrity_check and the audit chain, as `liaison audit verify`
// (store.CheckFile).
func backup(ctx context.Context, args []string, stdout io.Writer) error {
	fset := flag.NewFlagSet("backup", flag.ContinueOnError)
	dbPath := fset.String("db", "", "the node's database file")
	out := fset.String("out", "", "the backup file to write; must not exist")
	if err := fset.Parse(args); err != nil {
		return err
	}
	if *dbPath == "" || *out == "" || fset.NArg() > 0 {
		return errors.New("backup: usage: liaison backup --db FILE --out FILE")
	}
	start := time.Now()
	size, err := store.Backup(ctx, *dbPath, *out)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(stdout, "backup of %s written to %s (%d bytes, %s)\n", *dbPath, *out, size, time.Since(start).Round(time.Millisecond))

	c, err := store.CheckFile(ctx, *out)
	if err != nil {
		return fmt.Errorf("backup: verify %s: %w", *out, err)
	}
	fmt.Fprintf(stdout, "schema version: %d (this binary: %d)\n", c.SchemaVersion, store.SchemaVersion())
	if len(c.Problems) == 0 {
		fmt.Fprintln(stdout, "integrity_check: ok")
	} else {
		fmt.Fprintf(stdout, "integrity_check: FAILED:\n  %s\n", strings.Join(c.Problems, "\n  "))
	}
	if res := c.Audit; res.OK {
		fmt.Fprintf(stdout, "audit chain OK: %d events, head %d %x\n", res.Checked, res.HeadSeq, res.HeadHash)
	} else {
		fmt.Fprintf(stdout, "audit chain BROKEN at event %d: %s (%d events verified before it)\n", res.FirstBad, res.Problem, res.Checked)
	}
	if !c.OK() {
		fmt.Fprintf(stdout, "the backup %s does NOT verify: do not restore it\n", *out)
		return exitError(2)
	}
	return nil
}
