// Command liaisonctl is the command-line client of a Liaison node. It
// connects over mutual TLS with the caller's own certificate (--addr, --ca,
// --cert, --key, or LIAISON_ADDR, LIAISON_CA, LIAISON_CERT, LIAISON_KEY)
// and calls one RPC per command:
//
//	liaisonctl [global flags] GROUP COMMAND [flags] [args]
//
// Every group, command and flag carries its own help in the command
// registry (registry.go, and each group's file); 'liaisonctl help',
// 'liaisonctl help GROUP' and 'liaisonctl help GROUP COMMAND' print it.
//
// Exit status: 0 success, 1 an error from the node or in reaching it,
// 2 a usage error, 3 an audit chain that does not verify.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
