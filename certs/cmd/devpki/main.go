// Command devpki creates the development PKI: one directory per agency with
// its CA, node certificate and a client certificate per role.
//
//	go run ./certs/cmd/devpki --out certs/dev --agencies alpha,bravo
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/liaison-exchange/liaison/certs"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "devpki:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("devpki", flag.ContinueOnError)
	out := fs.String("out", "certs/dev", "directory to write into")
	agencies := fs.String("agencies", "alpha,bravo", "comma-separated agency codes")
	force := fs.Bool("force", false, "replace an agency's existing PKI")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, a := range strings.Split(*agencies, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(*out, a, "ca.crt")); err == nil && !*force {
			fmt.Printf("%s: %s exists, kept (use --force to replace)\n", a, filepath.Join(*out, a))
			continue
		}
		if err := certs.WriteAgency(*out, a); err != nil {
			return fmt.Errorf("agency %s: %w", a, err)
		}
		fmt.Printf("%s: wrote CA, node and %d client certificates to %s\n", a, len(certs.DevPrincipals), filepath.Join(*out, a))
	}
	return nil
}
