package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// changesOf parses NDJSON of Change messages.
func changesOf(t *testing.T, stdout string) []*liaisonv1.Change {
	t.Helper()
	var out []*liaisonv1.Change
	for _, line := range lines(stdout) {
		c := &liaisonv1.Change{}
		if err := protojson.Unmarshal([]byte(line), c); err != nil {
			t.Fatalf("not a Change: %v\n%s", err, line)
		}
		out = append(out, c)
	}
	return out
}

func cursorsOf(cs []*liaisonv1.Change) []int64 {
	out := make([]int64, len(cs))
	for i, c := range cs {
		out[i] = c.GetCursor()
	}
	return out
}

func wantCursors(t *testing.T, cs []*liaisonv1.Change, want ...int64) {
	t.Helper()
	got := cursorsOf(cs)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("cursors %v, want %v", got, want)
	}
}

func TestWatch_Once(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	var leads []*liaisonv1.Lead
	for _, title := range []string{"Kupang boats", "Batam ferry", "Tanjung Pinang"} {
		leads = append(leads, createLead(t, n, title))
	}

	t.Run("Table", func(t *testing.T) {
		r := n.ctl(t, "service", "watch", "--once").wantCode(t, exitOK)
		ls := lines(r.stdout)
		if len(ls) != 4 {
			t.Fatalf("want a header and 3 changes:\n%s", r.stdout)
		}
		if got := strings.Fields(ls[0]); strings.Join(got, " ") != "CURSOR TIME KIND ACTION ORIGIN RECORD VERSION SUMMARY" {
			t.Errorf("header %q", ls[0])
		}
		for i, l := range leads {
			f := strings.Fields(ls[i+1])
			if len(f) < 8 || f[0] != fmt.Sprint(i+1) || f[2] != "lead" || f[3] != "created" || f[4] != "alpha" || f[5] != l.GetId() || f[6] != "1" ||
				strings.Join(f[7:], " ") != l.GetTitle() {
				t.Errorf("row %q, want cursor %d, lead created by alpha, %s v1, %q", ls[i+1], i+1, l.GetId(), l.GetTitle())
			}
		}
		wantContains(t, "stderr", r.stderr, "caught up at cursor 3; resume with --cursor 3")
	})
	t.Run("JSON", func(t *testing.T) {
		r := n.ctl(t, "analyst", "watch", "--follow=false", "-o", "json").wantCode(t, exitOK)
		cs := changesOf(t, r.stdout)
		wantCursors(t, cs, 1, 2, 3)
		for i, c := range cs {
			if c.GetLead().GetId() != leads[i].GetId() || c.GetKind() != liaisonv1.ChangeKind_CHANGE_KIND_LEAD {
				t.Errorf("change %d: %v, want lead %s", i, c, leads[i].GetId())
			}
		}
	})
	t.Run("FromCursor", func(t *testing.T) {
		r := n.ctl(t, "service", "watch", "--once", "--cursor", "2", "-o", "json").wantCode(t, exitOK)
		wantCursors(t, changesOf(t, r.stdout), 3)
	})
	t.Run("Ahead", func(t *testing.T) {
		r := n.ctl(t, "service", "watch", "--once", "--cursor", "99").wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "OUT_OF_RANGE", "cursor 99 is ahead", "after resyncing, resume with --cursor 3")
	})
	t.Run("Supervisor", func(t *testing.T) {
		// A supervisor can do everything an analyst can, the feed included.
		r := n.ctl(t, "supervisor", "watch", "--once", "-o", "json").wantCode(t, exitOK)
		wantCursors(t, changesOf(t, r.stdout), 1, 2, 3)
	})
	t.Run("Auditor", func(t *testing.T) {
		r := n.ctl(t, "auditor", "watch", "--once").wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "PERMISSION_DENIED")
	})
}

func TestWatch_Kind(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	createLead(t, n, "Kupang boats")
	cases := liaisonv1.NewCaseServiceClient(n.Conn(t, "analyst"))
	c, err := cases.CreateCase(context.Background(), &liaisonv1.CreateCaseRequest{Case: &liaisonv1.Case{
		Title: "Operation Gecko", CrimeAreas: []liaisonv1.CrimeArea{liaisonv1.CrimeArea_CRIME_AREA_MIGRANT_SMUGGLING},
	}})
	if err != nil {
		t.Fatal(err)
	}
	createLead(t, n, "Batam ferry")

	r := n.ctl(t, "service", "watch", "--once", "--kind", "case", "-o", "json").wantCode(t, exitOK)
	cs := changesOf(t, r.stdout)
	if len(cs) != 1 || cs[0].GetCase().GetId() != c.GetCase().GetId() || cs[0].GetCursor() != 2 {
		t.Fatalf("changes %v, want only the case, at cursor 2", cs)
	}
	// The cursor to resume from passed the leads after the case.
	wantContains(t, "stderr", r.stderr, "caught up at cursor 3")

	r = n.ctl(t, "service", "watch", "--once", "--kind", "lead,case_entry", "-o", "json").wantCode(t, exitOK)
	wantCursors(t, changesOf(t, r.stdout), 1, 3)

	r = n.ctl(t, "service", "watch", "--once", "--kind", "leads").wantCode(t, exitUsage)
	wantContains(t, "stderr", r.stderr, `--kind: "leads" is not one of lead, case, case-entry, manifest`)
}

// syncBuffer is a buffer a running command writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// background runs liaisonctl until it exits or stop is called.
type background struct {
	stdout, stderr syncBuffer
	stop           context.CancelFunc
	done           chan int
}

func (n *testNode) start(t *testing.T, role string, args ...string) *background {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &background{stop: cancel, done: make(chan int, 1)}
	go func() {
		b.done <- run(ctx, append(args, n.flags(role)...), strings.NewReader(""), &b.stdout, &b.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-b.done:
		case <-time.After(10 * time.Second):
			t.Errorf("liaisonctl %s did not stop", strings.Join(args, " "))
		}
	})
	return b
}

// waitChanges waits until the command printed n changes (NDJSON).
func (b *background) waitChanges(t *testing.T, n int) []*liaisonv1.Change {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for len(lines(b.stdout.String())) < n {
		if time.Now().After(deadline) {
			t.Fatalf("printed %d changes, want %d; stderr:\n%s", len(lines(b.stdout.String())), n, b.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return changesOf(t, b.stdout.String())
}

func (b *background) exit(t *testing.T) int {
	t.Helper()
	select {
	case code := <-b.done:
		b.done <- code // for the cleanup
		t.Logf("stdout:\n%s\nstderr:\n%s", b.stdout.String(), b.stderr.String())
		return code
	case <-time.After(20 * time.Second):
		t.Fatalf("liaisonctl did not exit; stderr:\n%s", b.stderr.String())
		return -1
	}
}

func TestWatch_CutOffExitsWithCursor(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	createLead(t, n, "Kupang boats")
	w := n.start(t, "service", "watch", "-o", "json")
	w.waitChanges(t, 1)

	// The node stops: the stream is cut off, and watch says where to
	// resume.
	n.Stop(t)
	if code := w.exit(t); code != exitFailed {
		t.Errorf("exit status %d, want %d", code, exitFailed)
	}
	wantContains(t, "stderr", w.stderr.String(), "UNAVAILABLE", "the node is stopping", "resume with --cursor 1")
}

func TestWatch_Reconnect(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	createLead(t, n, "Kupang boats")
	createLead(t, n, "Batam ferry")
	w := n.start(t, "service", "watch", "--reconnect", "-o", "json")
	w.waitChanges(t, 2)

	// The node stops, and stays down for a reconnection attempt.
	n.Stop(t)
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(w.stderr.String(), "reconnecting") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no reconnection after the cut-off; stderr:\n%s", w.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	n.Restart(t)
	createLead(t, n, "Tanjung Pinang")
	createLead(t, n, "Bintan")
	cs := w.waitChanges(t, 4)

	w.stop() // Ctrl-C
	if code := w.exit(t); code != exitOK {
		t.Errorf("exit status %d after Ctrl-C, want 0", code)
	}
	// Every change once, in order, across the reconnection.
	wantCursors(t, changesOf(t, w.stdout.String()), 1, 2, 3, 4)
	if got := cs[3].GetLead().GetTitle(); got != "Bintan" {
		t.Errorf("last change is about %q, want Bintan", got)
	}
	wantContains(t, "stderr", w.stderr.String(), "the node is stopping", "from cursor 2", "stopped at cursor 4; resume with --cursor 4")
}

func TestWatch_Usage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"watch", "--cursor", "-1"}, "--cursor -1"},
		{[]string{"watch", "--cursor", "x"}, `invalid value "x" for flag --cursor`},
		{[]string{"watch", "extra"}, "takes no arguments"},
	} {
		r := ctl(t, "", append(tc.args, "--addr", "127.0.0.1:1", "--ca", "x", "--cert", "x", "--key", "x")...).wantCode(t, exitUsage)
		wantContains(t, "stderr", r.stderr, tc.want)
	}
	r := ctl(t, "", "help", "watch").wantCode(t, exitOK)
	wantContains(t, "usage", r.stdout, "--cursor N", "--kind KIND", "--once", "--reconnect", "--follow")
}

func TestWatch_ChangeSummary(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ch   *liaisonv1.Change
		want string
	}{
		{&liaisonv1.Change{Version: 1, Record: &liaisonv1.Change_Lead{Lead: &liaisonv1.Lead{Title: "Kupang\tboats", Version: 1}}}, "Kupang boats"},
		{&liaisonv1.Change{Version: 1, Record: &liaisonv1.Change_Lead{Lead: &liaisonv1.Lead{Title: "Kupang", Version: 3}}}, "[now v3] Kupang"},
		{&liaisonv1.Change{Action: "tombstone"}, "(content deleted)"},
		{&liaisonv1.Change{Action: "replica", Version: 2}, "(content no longer held)"},
		{&liaisonv1.Change{Version: 2, Record: &liaisonv1.Change_CaseEntry{CaseEntry: &liaisonv1.CaseEntry{
			CaseId: "c1", Kind: liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_NOTE, Text: "seen\nthe boat", Sequence: 2}}}, "case c1, note: seen the boat"},
		{&liaisonv1.Change{Version: 4, Record: &liaisonv1.Change_Manifest{Manifest: &liaisonv1.Manifest{
			State: liaisonv1.ManifestState_MANIFEST_STATE_PROPOSED, ReceivingAgency: "bravo", Version: 4, Persons: make([]*liaisonv1.ManifestPerson, 2)}}},
			"proposed, to bravo, 2 persons"},
	} {
		if got := changeSummary(tc.ch); got != tc.want {
			t.Errorf("changeSummary(%v) = %q, want %q", tc.ch, got, tc.want)
		}
	}
}
