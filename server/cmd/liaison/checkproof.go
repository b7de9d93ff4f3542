package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/auditsvc"
)

// auditCheckProof checks an evidence file (`liaisonctl audit prove`)
// offline, with nothing but the log's verifier key and its witnesses':
// exit status 2 if it does not hold.
func auditCheckProof(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("audit check-proof", flag.ContinueOnError)
	logKey := fs.String("log-key", "", "file of the log's verifier key (the node's log.vkey)")
	var witnesses stringList
	fs.Var(&witnesses, "witness-key", "file of a witness's verifier key whose cosignature the checkpoint must carry (repeatable)")
	file, err := parseFileArg(fs, args)
	if err != nil {
		return err
	}
	if file == "" || *logKey == "" {
		return errors.New("audit check-proof: give the evidence FILE and --log-key")
	}
	read := func(path string) (string, error) {
		b, err := os.ReadFile(path)
		return strings.TrimSpace(string(b)), err
	}
	var k audit.Keys
	if k.Log, err = read(*logKey); err != nil {
		return fmt.Errorf("audit check-proof: %w", err)
	}
	for _, w := range witnesses {
		v, err := read(w)
		if err != nil {
			return fmt.Errorf("audit check-proof: %w", err)
		}
		k.Witnesses = append(k.Witnesses, v)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("audit check-proof: %w", err)
	}
	ev := &liaisonv1.AuditEvidence{}
	if err := protojson.Unmarshal(b, ev); err != nil {
		fmt.Fprintf(stdout, "evidence NOT VALID: %s is not an evidence file: %v\n", file, err)
		return exitError(2)
	}
	p, err := auditsvc.CheckEvidence(ev, k)
	if err != nil {
		fmt.Fprintf(stdout, "evidence NOT VALID: %v\n", err)
		return exitError(2)
	}
	fmt.Fprintf(stdout, "evidence OK: %s\n", p)
	return nil
}

// parseFileArg parses fs's flags around one positional FILE, which may come
// before or after them ("" if none was given).
func parseFileArg(fs *flag.FlagSet, args []string) (string, error) {
	var file string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		file, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	switch {
	case file == "" && fs.NArg() == 1:
		file = fs.Arg(0)
	case fs.NArg() > 0:
		return "", fmt.Errorf("%s: one file, please", fs.Name())
	}
	return file, nil
}
