package main

import (
	"testing"

	"github.com/liaison-exchange/liaison/client"
	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// These tests set environment variables, so none of them is parallel.

func TestRun_Env(t *testing.T) {
	n := startNode(t)
	o := n.options("alpha", "analyst")
	t.Setenv(client.EnvAddr, o.Addr)
	t.Setenv(client.EnvCA, o.CA)
	t.Setenv(client.EnvCert, o.Cert)
	t.Setenv(client.EnvKey, o.Key)
	l := createLead(t, n, "Kupang boats")

	t.Run("FromEnv", func(t *testing.T) {
		var resp liaisonv1.GetLeadResponse
		ctl(t, "", "leads", "get", l.GetId(), "-o", "json").wantCode(t, exitOK).decode(t, &resp)
		if resp.GetLead().GetId() != l.GetId() {
			t.Errorf("got lead %s, want %s", resp.GetLead().GetId(), l.GetId())
		}
	})
	t.Run("FlagsOverEnv", func(t *testing.T) {
		sup := n.options("alpha", "supervisor")
		t.Setenv(client.EnvAddr, "127.0.0.1:1")
		// Global flags before the command words this time.
		ctl(t, "", "--addr", o.Addr, "--cert", sup.Cert, "--key", sup.Key, "-o", "json", "leads", "release", l.GetId(), "--to", "bravo").wantCode(t, exitOK)
	})
}

func TestRun_MissingConnectionSettings(t *testing.T) {
	for _, env := range []string{client.EnvAddr, client.EnvCA, client.EnvCert, client.EnvKey} {
		t.Setenv(env, "")
	}
	r := ctl(t, "", "leads", "get", "0190f1c2-0000-7000-8000-000000000001", "--ca", "ca.crt").wantCode(t, exitUsage)
	wantContains(t, "stderr", r.stderr, "error: missing --addr (or LIAISON_ADDR), --cert (or LIAISON_CERT), --key (or LIAISON_KEY)", "usage: liaisonctl leads get ID")
}
