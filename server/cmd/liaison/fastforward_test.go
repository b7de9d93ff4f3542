package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/liaison-exchange/liaison/server/store"
)

// TestFederationFastForward_Command: the command's arguments, its effect
// on the channel, its audit event, and a second run that finds nothing to
// do. (The restore it repairs is tested end to end in server/e2e.)
func TestFederationFastForward_Command(t *testing.T) {
	r := fvPair(t) // bravo's files; bravo never sent alpha anything
	run1 := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"federation", "fast-forward"}, args...), &out)
		return out.String(), err
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", r.config, "--partner", "alpha"}, "--to (> 0) are required"},
		{[]string{"--config", r.config, "--to", "3"}, "--partner"},
		{[]string{"--config", r.config, "--partner", "charlie", "--to", "3"}, "charlie is not a partner"},
		{[]string{"--config", r.config, "--partner", "alpha", "--to", "3", "--db", r.db + ".missing"}, "no such file"},
	} {
		if _, err := run1(bad.args...); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v: %v, want an error with %q", bad.args, err, bad.want)
		}
	}

	out, err := run1("--config", r.config, "--db", r.db, "--partner", "alpha", "--to", "3")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "channel to alpha moved past sequence 3: 0 envelope(s)") {
		t.Errorf("output %q", out)
	}
	s, err := store.Open(context.Background(), r.db, store.Options{Agency: "bravo"})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := s.OutChannel(context.Background(), "alpha")
	if err != nil || ch.LastSeq != 3 || ch.Acked != 3 {
		t.Errorf("channel after fast-forward: %+v %v, want last and acknowledged sequence 3", ch, err)
	}
	events, err := s.ListAuditEvents(context.Background(), store.AuditFilter{Action: "federation.channel.fast_forward"}, 0, 10)
	if err != nil || len(events) != 1 || !strings.HasPrefix(events[0].Principal, "operator") || events[0].Resource != "channels/alpha" {
		t.Errorf("audit events: %v %v", events, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := run1("--config", r.config, "--db", r.db, "--partner", "alpha", "--to", "3"); err == nil || !strings.Contains(err.Error(), "nothing to fast-forward") {
		t.Errorf("second run: %v, want nothing to do", err)
	}
}
