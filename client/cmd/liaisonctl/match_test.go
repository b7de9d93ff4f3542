package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/config"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// startMatchPair starts alpha and bravo publishing their blind indexes to
// each other every 50ms.
func startMatchPair(t *testing.T) (alpha, bravo *peer) {
	t.Helper()
	// The two agencies agree to publish blind indexes to each other.
	a, b := nodetest.Pair(t, func(c *config.Config) {
		c.Match.IndexInterval.Duration = 50 * time.Millisecond
		c.Match.Partners = []string{c.Partners[0].Agency}
	})
	return &peer{a}, &peer{b}
}

// leadWithSubject is leadJSON with title and its subject replaced, coded
// H0 (an H3 lead is not discoverable by default).
func leadWithSubject(title, subject string) string {
	s := leadWithHandling(title, "H0")
	start, end := strings.Index(s, `"subjects": [`), strings.LastIndex(s, "]")
	return s[:start] + `"subjects": [` + subject + s[end:]
}

const chenSubject = `{
  "names": [{"familyName": "陈", "givenNames": "伟", "latinFamilyName": "CHEN", "latinGivenNames": "Wei"}],
  "dateOfBirth": {"year": 1980, "month": 3, "day": 2},
  "documents": [{"type": "DOCUMENT_TYPE_PASSPORT", "number": "E1234567", "issuingCountry": "CHN"}]
}`

// matchStatusOf is p's match status with partner.
func matchStatusOf(p *peer, partner string) (*liaisonv1.MatchPartnerStatus, error) {
	var resp liaisonv1.GetMatchStatusResponse
	if err := p.tryJSON("analyst", &resp, "match", "status"); err != nil {
		return nil, err
	}
	for _, s := range resp.GetPartners() {
		if s.GetPartner() == partner {
			return s, nil
		}
	}
	return nil, fmt.Errorf("%s reports no match status for %s", p.Agency, partner)
}

// waitMatchSync waits until holder has sent asker all of an index of at
// least minEntries entries, and asker holds it complete, of the same epoch.
func waitMatchSync(t *testing.T, holder, asker *peer, minEntries int64) {
	t.Helper()
	nodetest.Eventually(t, 20*time.Second, func() error {
		h, err := matchStatusOf(holder, asker.Agency)
		if err != nil {
			return err
		}
		a, err := matchStatusOf(asker, holder.Agency)
		if err != nil {
			return err
		}
		// Every index also holds its epoch's canary entry.
		if h.GetOwnEntries() < minEntries+1 || h.GetOwnPending() != 0 || !a.GetPartnerComplete() ||
			a.GetPartnerEntries() != h.GetOwnEntries() || a.GetPartnerEpoch() != h.GetOwnEpoch() {
			return fmt.Errorf("holder %s: epoch %d, %d entries (want %d or more), %d pending; %s holds epoch %d, %d entries, complete %t",
				holder.Agency, h.GetOwnEpoch(), h.GetOwnEntries(), minEntries, h.GetOwnPending(), asker.Agency,
				a.GetPartnerEpoch(), a.GetPartnerEntries(), a.GetPartnerComplete())
		}
		return nil
	})
}

// askRows are the rows of the table of 'match ask': per person label, the
// rows of its kinds of key as "KIND KEYS RESULT [TOKEN]".
func askRows(t *testing.T, stdout string) map[string][]string {
	t.Helper()
	ls := lines(stdout)
	if len(ls) == 0 || strings.Join(strings.Fields(ls[0]), " ") != "PERSON KEY KIND KEYS RESULT HIT TOKEN" {
		t.Fatalf("no header:\n%s", stdout)
	}
	out := map[string][]string{}
	person := ""
	for _, l := range ls[1:] {
		if !strings.Contains(l, "  ") {
			break // the notes below the table
		}
		cells := strings.Split(l, "  ")
		var kept []string
		for _, c := range cells {
			if c = strings.TrimSpace(c); c != "" {
				kept = append(kept, c)
			}
		}
		if !strings.HasPrefix(l, " ") {
			person, kept = kept[0], kept[1:]
		}
		out[person] = append(out[person], strings.Join(kept, " "))
	}
	return out
}

// hitToken is the token of the hit of kind in row.
func hitToken(t *testing.T, rows []string, kind string) string {
	t.Helper()
	for _, r := range rows {
		if f := strings.Fields(r); len(f) == 4 && f[0] == kind && f[2] == "hit" {
			return f[3]
		}
	}
	t.Fatalf("no %s hit in %q", kind, rows)
	return ""
}

func TestMatch_AskFollowUpDecide(t *testing.T) {
	t.Parallel()
	alpha, bravo := startMatchPair(t)

	// bravo holds a lead on 陈伟 / CHEN Wei, passport E1234567 (not released:
	// a blind match needs no release).
	var created liaisonv1.CreateLeadResponse
	bravo.ctl(t, "analyst", "leads", "create", "-f", writeFile(t, leadWithSubject("Fujian route", chenSubject)), "-o", "json").
		wantCode(t, exitOK).decode(t, &created)
	bravoLead := created.GetLead().GetId()
	waitMatchSync(t, bravo, alpha, 1)

	// A person typed in: the document hits, the passport written otherwise.
	r := alpha.ctl(t, "analyst", "match", "ask", "--partner", "bravo", "Chen", "Wei", "--document", "PASSPORT:e123-4567:CHN").wantCode(t, exitOK)
	rows := askRows(t, r.stdout)
	token := hitToken(t, rows["[1] Chen Wei"], "document")
	if diff := cmp.Diff([]string{"document 1 hit " + token}, rows["[1] Chen Wei"]); diff != "" {
		t.Errorf("rows of Chen Wei (-want +got):\n%s", diff)
	}
	wantContains(t, "stdout", r.stdout, "\nbravo, key epoch 1: 2 evaluations, ", // the key and the epoch's canary
		"a hit says only that bravo holds an entry with the same key, nothing more",
		"to ask for more: liaisonctl match follow-up --partner bravo --token TOKEN --kind KIND --justification TEXT")
	// The same in JSON, with the same token (the OPRF is deterministic).
	var asked liaisonv1.MatchPersonsResponse
	alpha.ctl(t, "analyst", "match", "ask", "--partner", "bravo", "Chen", "Wei", "--document", "PASSPORT:e123-4567:CHN", "-o", "json").
		wantCode(t, exitOK).decode(t, &asked)
	if want := (&liaisonv1.MatchPersonsResponse{Partner: "bravo", Epoch: 1, Evaluations: 2, BudgetRemaining: asked.GetBudgetRemaining(),
		Results: []*liaisonv1.MatchResult{{PersonIndex: 0, SubjectIndex: -1, Label: "Chen Wei", Hit: true, Keys: []*liaisonv1.MatchKeyResult{
			{Kind: liaisonv1.MatchKeyKind_MATCH_KEY_KIND_DOCUMENT, Keys: 1, Hit: true, HitToken: token}}}}}); !cmp.Equal(want, &asked, protocmp.Transform()) {
		t.Errorf("ask -o json: %v\nwant %v", &asked, want)
	}
	if asked.GetBudgetRemaining() <= 0 {
		t.Errorf("budget remaining %d", asked.GetBudgetRemaining())
	}

	t.Run("UnrelatedPerson", func(t *testing.T) {
		// The phone typed unquoted: its groups of digits are the number's.
		r := alpha.ctl(t, "analyst", "match", "ask", "--partner", "bravo", "--phone", "+84", "912", "345", "678", "Nguyen", "Van", "Thanh",
			"--dob", "1975-11-20", "--document", "passport:C9876543:vnm").wantCode(t, exitOK)
		rows := askRows(t, r.stdout)
		got := rows["[1] Nguyen Van Thanh"]
		if len(got) != 4 || len(rows) != 1 {
			t.Fatalf("rows %q, want the 4 kinds of key of Nguyen Van Thanh", rows)
		}
		for i, kind := range []string{"document", "phone", "name-dob", "name-year"} {
			if f := strings.Fields(got[i]); len(f) != 5 || f[0] != kind || f[2] != "no" || f[3] != "hit" || f[4] != "-" {
				t.Errorf("row %d %q, want %s no hit", i, got[i], kind)
			}
		}
		if strings.Contains(r.stdout, "to ask for more") {
			t.Errorf("no hit, yet the follow-up is suggested:\n%s", r.stdout)
		}
	})

	t.Run("Batch", func(t *testing.T) {
		file := writeFile(t, `{"names": [{"familyName": "Ch'en", "givenNames": "Wei"}], "dateOfBirth": {"year": 1980, "month": 3, "day": 2}}`+"\n\n"+
			`{"names": [{"familyName": "Nguyen", "givenNames": "Van Thanh"}], "dateOfBirth": {"year": 1975}}`+"\n")
		r := alpha.ctl(t, "analyst", "match", "ask", "--partner", "bravo", "--file", file).wantCode(t, exitOK)
		rows := askRows(t, r.stdout)
		if len(rows) != 2 {
			t.Fatalf("rows %q, want two persons", rows)
		}
		hitToken(t, rows["[1] Ch'en Wei"], "name-dob")
		hitToken(t, rows["[1] Ch'en Wei"], "name-year")
		nguyen := rows["[2] Nguyen Van Thanh"]
		if len(nguyen) != 1 || !strings.HasPrefix(nguyen[0], "name-year ") || !strings.HasSuffix(nguyen[0], " no hit -") {
			t.Errorf("Nguyen Van Thanh born 1975: %q, want only a name-year key, no hit", nguyen)
		}
		// The same file from stdin.
		r2 := ctl(t, readFile(t, file), append([]string{"match", "ask", "--partner", "bravo", "-f", "-"}, alpha.flags("analyst")...)...).wantCode(t, exitOK)
		if diff := cmp.Diff(rows, askRows(t, r2.stdout)); diff != "" {
			t.Errorf("from stdin (-file +stdin):\n%s", diff)
		}
	})

	t.Run("NoKeys", func(t *testing.T) {
		// A name without a date of birth has no key: nothing is evaluated.
		var resp liaisonv1.MatchPersonsResponse
		file := writeFile(t, `{"names": [{"familyName": "Chen", "givenNames": "Wei"}]}`)
		alpha.ctl(t, "analyst", "match", "ask", "--partner", "bravo", "-f", file, "-o", "json").wantCode(t, exitOK).decode(t, &resp)
		if resp.GetEvaluations() != 0 || len(resp.GetResults()) != 1 || len(resp.GetResults()[0].GetKeys()) != 0 {
			t.Errorf("a person without keys: %v", &resp)
		}
		r := alpha.ctl(t, "analyst", "match", "ask", "--partner", "bravo", "-f", file).wantCode(t, exitOK)
		wantContains(t, "stdout", r.stdout, "not asked: no key", "\nbravo, key epoch 1: no keys to ask about, nothing evaluated\n")
	})

	t.Run("Lead", func(t *testing.T) {
		var own liaisonv1.CreateLeadResponse
		alpha.ctl(t, "analyst", "leads", "create", "-f", writeFile(t, leadWithSubject("our view of CHEN", chenSubject)), "-o", "json").
			wantCode(t, exitOK).decode(t, &own)
		id := own.GetLead().GetId()
		r := alpha.ctl(t, "analyst", "match", "ask", "--partner", "bravo", "--lead", id).wantCode(t, exitOK)
		rows := askRows(t, r.stdout)
		got := rows["lead "+id+" [1] 陈 伟"]
		if len(got) != 3 {
			t.Fatalf("rows %q, want 3 kinds of key of the lead's subject", rows)
		}
		if hitToken(t, got, "document") != token {
			t.Errorf("the lead's subject's passport hit with another token than the one typed in")
		}
		hitToken(t, got, "name-dob")
		hitToken(t, got, "name-year")
	})

	t.Run("NoSuchPartner", func(t *testing.T) {
		r := alpha.ctl(t, "analyst", "match", "ask", "--partner", "zulu", "Chen", "Wei", "--dob", "1980").wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: FAILED_PRECONDITION: ", "rule match.not_a_partner on partners/zulu")
	})

	// Step 2: the document hit followed up with the printed token.
	r = alpha.ctl(t, "analyst", "match", "follow-up", "--partner", "bravo", "--token", token, "--kind", "document",
		"--justification", "same passport seen at Mae Sot", "--deadline-hours", "24").wantCode(t, exitOK)
	fu := kvWidth(t, r.stdout)
	wantContains(t, "stdout", r.stdout, fu("FROM:", "alpha (asked)"), fu("TO:", "bravo (holds the hit, decides)"), fu("KIND:", "document"),
		fu("TOKEN:", token), fu("STATUS:", "pending"), fu("JUSTIFICATION:", "same passport seen at Mae Sot"), fu("DUE:", ""), "(in 23h59m)")
	followedUp := r.stdout
	id := uuidPattern.FindString(lines(r.stdout)[0])
	if id == "" {
		t.Fatalf("first line is not the follow-up's ID:\n%s", r.stdout)
	}
	r = alpha.ctl(t, "analyst", "match", "follow-up", "--partner", "bravo", "--token", "bm90IGEgdG9rZW4", "--kind", "phone", "--justification", "x").wantCode(t, exitFailed)
	wantContains(t, "stderr", r.stderr, "error: INVALID_ARGUMENT: ", "field hit_token: not a hit token from MatchPersons")

	// bravo's supervisor sees it incoming, with the lead it resolves to.
	var incoming []string
	eventually(t, func() error {
		r := bravo.try("supervisor", "match", "follow-ups", "--incoming", "--status", "pending")
		if r.code != exitOK {
			return fmt.Errorf("exit %d: %s", r.code, r.stderr)
		}
		if ls := lines(r.stdout); len(ls) != 2 {
			return fmt.Errorf("bravo's pending incoming follow-ups:\n%s", r.stdout)
		}
		incoming = strings.Fields(lines(r.stdout)[1])
		return nil
	})
	if len(incoming) > 7 && strings.HasPrefix(incoming[7], "23h") {
		incoming[7] = "23h"
	}
	want := []string{id, "alpha", "bravo", "document", "pending", dueOf(t, followedUp), "in", "23h", "lead", bravoLead, "-",
		"same", "passport", "seen", "at", "Mae", "Sot", "-"}
	if diff := cmp.Diff(want, incoming); diff != "" {
		t.Errorf("bravo's incoming row (-want +got):\n%s", diff)
	}
	r = bravo.ctl(t, "supervisor", "match", "follow-ups", "--outgoing").wantCode(t, exitOK)
	if strings.TrimSpace(r.stdout) != "no follow-ups" {
		t.Errorf("bravo's outgoing follow-ups:\n%s", r.stdout)
	}

	r = bravo.ctl(t, "analyst", "match", "decide", id, "--decline", "--reason", "x").wantCode(t, exitFailed)
	wantContains(t, "stderr", r.stderr, "error: PERMISSION_DENIED: ")
	r = bravo.ctl(t, "supervisor", "match", "decide", id, "--decline", "--reason", "operation under way; ask again in a month").wantCode(t, exitOK)
	d := kvWidth(t, r.stdout)
	wantContains(t, "stdout", r.stdout, d("ID:", id), d("STATUS:", "declined"), d("RECORDS:", "lead "+bravoLead),
		d("DECIDED BY:", "spiffe://bravo.liaison.test/supervisor/"), d("REASON:", "operation under way; ask again in a month"))
	r = bravo.ctl(t, "supervisor", "match", "decide", id, "--release", "--reason", "changed my mind").wantCode(t, exitFailed)
	wantContains(t, "stderr", r.stderr, "rule match.decided on match_follow_ups/"+id)

	// The decision travels back; alpha never sees bravo's records.
	eventually(t, func() error {
		r := alpha.try("analyst", "match", "follow-ups", "--outgoing", "--status", "declined")
		if ls := lines(r.stdout); r.code != exitOK || len(ls) != 2 || !strings.HasPrefix(ls[1], id+" ") {
			return fmt.Errorf("alpha's declined follow-ups (exit %d):\n%s%s", r.code, r.stdout, r.stderr)
		}
		return nil
	})
	r = alpha.ctl(t, "analyst", "match", "follow-ups").wantCode(t, exitOK)
	wantContains(t, "stdout", r.stdout, " declined ", "operation under way; ask again in a month")
	if strings.Contains(r.stdout, bravoLead) {
		t.Errorf("alpha lists bravo's lead:\n%s", r.stdout)
	}

	// A second follow-up: the list reads every page, pending first.
	var second liaisonv1.FollowUpHitResponse
	alpha.ctl(t, "analyst", "match", "follow-up", "--partner", "bravo", "--token", token, "--kind", "document", "--justification", "asked again",
		"-o", "json").wantCode(t, exitOK).decode(t, &second)
	var listed liaisonv1.ListMatchFollowUpsResponse
	alpha.ctl(t, "analyst", "match", "follow-ups", "--page-size", "1", "-o", "json").wantCode(t, exitOK).decode(t, &listed)
	var ids []string
	for _, f := range listed.GetFollowUps() {
		ids = append(ids, f.GetId())
	}
	if diff := cmp.Diff([]string{second.GetFollowUp().GetId(), id}, ids); diff != "" || listed.GetNextPageToken() != "" {
		t.Errorf("follow-ups read a page at a time (-want +got):\n%s\nnext page %q", diff, listed.GetNextPageToken())
	}

	// Status: both directions, for the one partner.
	r = alpha.ctl(t, "analyst", "match", "status").wantCode(t, exitOK)
	ls := lines(r.stdout)
	if len(ls) != 3 || strings.Join(strings.Fields(ls[0]), " ") != "PARTNER INDEX EPOCH ENTRIES STATE WHEN EVALUATIONS TODAY" {
		t.Fatalf("want a header and two rows:\n%s", r.stdout)
	}
	if f := strings.Fields(ls[1]); len(f) != 13 || f[0] != "bravo" || f[1] != "published" || f[3] != "bravo" || f[4] != "1" || f[5] == "0" ||
		f[6] != "all" || f[7] != "sent" || f[8] != "began" || f[10] != "0" || f[12] != "10000" {
		t.Errorf("row of alpha's index %q", ls[1])
	}
	if f := strings.Fields(ls[2]); len(f) != 11 || f[0] != "held" || f[2] != "bravo" || f[3] != "1" || f[4] == "0" || f[5] != "complete," ||
		f[8] != "updated" || f[10] != "-" {
		t.Errorf("row of bravo's index %q", ls[2])
	}
	// bravo counted alpha's evaluations of today.
	r = bravo.ctl(t, "analyst", "match", "status").wantCode(t, exitOK)
	if f := strings.Fields(lines(r.stdout)[1]); len(f) != 13 || f[0] != "alpha" || f[3] != "alpha" || f[10] == "0" {
		t.Errorf("bravo's row of its index for alpha: %q", f)
	}
}

// TestMatch_DiscoverableAndRotate: a record kept out of the index stops
// hitting; a rotated key starts an epoch the asker moves to.
func TestMatch_DiscoverableAndRotate(t *testing.T) {
	t.Parallel()
	alpha, bravo := startMatchPair(t)
	var created liaisonv1.CreateLeadResponse
	bravo.ctl(t, "analyst", "leads", "create", "-f", writeFile(t, leadWithSubject("Fujian route", chenSubject)), "-o", "json").
		wantCode(t, exitOK).decode(t, &created)
	lead := created.GetLead().GetId()
	waitMatchSync(t, bravo, alpha, 1)
	ask := func(wantHit bool, epoch string) {
		t.Helper()
		r := alpha.ctl(t, "analyst", "match", "ask", "--partner", "bravo", "Chen", "Wei", "--document", "PASSPORT:E1234567:CHN").wantCode(t, exitOK)
		want := "document 1 no hit -"
		if wantHit {
			want = "document 1 hit " + hitToken(t, askRows(t, r.stdout)["[1] Chen Wei"], "document")
		}
		if got := askRows(t, r.stdout)["[1] Chen Wei"]; !cmp.Equal(got, []string{want}) {
			t.Errorf("rows %q, want %q", got, want)
		}
		wantContains(t, "stdout", r.stdout, "bravo, key epoch "+epoch+": ")
	}
	ask(true, "1")

	r := bravo.ctl(t, "analyst", "match", "discoverable", lead, "--partner", "alpha", "--off").wantCode(t, exitFailed)
	wantContains(t, "stderr", r.stderr, "error: PERMISSION_DENIED: ")
	r = bravo.ctl(t, "supervisor", "match", "discoverable", lead, "--partner", "alpha", "--off").wantCode(t, exitOK)
	wantContains(t, "stdout", r.stdout, lead+": its persons are not discoverable by alpha")
	eventually(t, func() error {
		s, err := matchStatusOf(alpha, "bravo")
		if err != nil || s.GetPartnerEntries() != 1 { // the canary only
			return fmt.Errorf("alpha holds %d entries of bravo's index, want only the canary (%v)", s.GetPartnerEntries(), err)
		}
		return nil
	})
	ask(false, "1")
	bravo.ctl(t, "supervisor", "match", "discoverable", lead, "--partner", "alpha", "--on").wantCode(t, exitOK)
	waitMatchSync(t, bravo, alpha, 1)
	ask(true, "1")

	r = bravo.ctl(t, "supervisor", "match", "rotate", "--partner", "alpha").wantCode(t, exitOK)
	if f := strings.Fields(lines(r.stdout)[1]); len(f) < 5 || f[0] != "alpha" || f[4] != "2" {
		t.Errorf("rotate: row %q, want epoch 2", f)
	}
	wantContains(t, "stdout", r.stdout, "\nepoch 2 started; alpha keeps the old index until the new one is complete\n")
	waitMatchSync(t, bravo, alpha, 1)
	if s, err := matchStatusOf(alpha, "bravo"); err != nil || s.GetPartnerEpoch() != 2 {
		t.Fatalf("alpha holds epoch %d of bravo's index (%v), want 2", s.GetPartnerEpoch(), err)
	}
	ask(true, "2")
}

// dueOf is the due time in the detail view of a follow-up.
func dueOf(t *testing.T, detail string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^DUE:\s+(\S+)`).FindStringSubmatch(detail)
	if m == nil {
		t.Fatalf("no due time:\n%s", detail)
	}
	return m[1]
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// kvWidth returns the line of a key/value view in out as printed: the
// width is that of the keys' column, read from the first line.
func kvWidth(t *testing.T, out string) func(key, value string) string {
	t.Helper()
	first := lines(out)[0]
	w := strings.Index(first, strings.TrimLeft(first[len("ID:"):], " "))
	if !strings.HasPrefix(first, "ID:") || w <= len("ID:") {
		t.Fatalf("not a key/value view:\n%s", out)
	}
	return func(key, value string) string { return kv(w, key, value) }
}

func TestRun_UsageOfMatchCommands(t *testing.T) {
	t.Parallel()
	array := writeFile(t, `[{"names": [{"familyName": "Chen"}]}]`)
	badLine := writeFile(t, `{"names": [{"familyName": "Chen"}]}`+"\n"+`{"name": "Chen"}`+"\n")
	empty := writeFile(t, "\n\n")
	var many strings.Builder
	for range maxMatchPersons + 1 {
		many.WriteString(`{"names": [{"familyName": "Chen"}], "dateOfBirth": {"year": 1980}}` + "\n")
	}
	tooMany := writeFile(t, many.String())
	runUsage(t, []usageCase{
		{name: "Help", args: []string{"help", "match"}, code: exitOK, stdout: []string{"liaisonctl match ask --partner AGENCY [NAME...]",
			"liaisonctl match decide ID --release|--decline --reason TEXT", "A hit says only that the partner holds an entry"}},
		{name: "AskHelp", args: []string{"match", "ask", "-h"}, code: exitOK, stdout: []string{"--document TYPE:NUMBER:CC", "JSON lines"}},
		{name: "AskWithoutPartner", args: []string{"match", "ask", "Chen", "Wei", "--dob", "1980"}, code: exitUsage, stderr: []string{"match ask needs --partner AGENCY"}},
		{name: "AskNothing", args: []string{"match", "ask", "--partner", "bravo"}, code: exitUsage, stderr: []string{"match ask needs a person (NAME --dob, --document or --phone), -f FILE or --lead ID"}},
		{name: "AskNameOnly", args: []string{"match", "ask", "--partner", "bravo", "Chen", "Wei"}, code: exitUsage, stderr: []string{"a name is asked about only with its date or year of birth: give --dob"}},
		{name: "AskDobOnly", args: []string{"match", "ask", "--partner", "bravo", "--dob", "1980"}, code: exitUsage, stderr: []string{"--dob goes with a NAME"}},
		{name: "AskBadDob", args: []string{"match", "ask", "--partner", "bravo", "Chen", "--dob", "80"}, code: exitUsage, stderr: []string{`--dob: "80" is not a date of birth like 1980`}},
		{name: "AskDocumentTwoParts", args: []string{"match", "ask", "--partner", "bravo", "--document", "E1234567:CHN"}, code: exitUsage,
			stderr: []string{`--document "E1234567:CHN": not three parts; want TYPE:NUMBER:CC, like PASSPORT:E1234567:CHN`}},
		{name: "AskDocumentBadType", args: []string{"match", "ask", "--partner", "bravo", "--document", "VISA:E1:CHN"}, code: exitUsage,
			stderr: []string{`--document "VISA:E1:CHN": type "VISA" is not one of passport, national-id, residence-permit, travel-document, driving-licence, other`}},
		{name: "AskDocumentNoNumber", args: []string{"match", "ask", "--partner", "bravo", "--document", "passport: :CHN"}, code: exitUsage, stderr: []string{"no number"}},
		{name: "AskDocumentBadCountry", args: []string{"match", "ask", "--partner", "bravo", "--document", "passport:E1:CN"}, code: exitUsage,
			stderr: []string{`issuing country "CN" is not an ISO 3166-1 alpha-3 code like CHN`}},
		{name: "AskNonLatin", args: []string{"match", "ask", "--partner", "bravo", "陈伟", "--dob", "1980"}, code: exitUsage, stderr: []string{`the name "陈伟" is not in Latin script: give its Latin transliteration with --latin NAME`}},
		{name: "AskLatinAlone", args: []string{"match", "ask", "--partner", "bravo", "--latin", "Chen Wei", "--dob", "1980"}, code: exitUsage, stderr: []string{"--latin is the transliteration of a NAME"}},
		{name: "AskArray", args: []string{"match", "ask", "--partner", "bravo", "-f", array}, code: exitFailed, stderr: []string{"a JSON array; the file is JSON lines, one liaison.v1.Person per line"}},
		{name: "AskBadLine", args: []string{"match", "ask", "--partner", "bravo", "-f", badLine}, code: exitFailed, stderr: []string{"line 2: not a liaison.v1.Person: ", `unknown field "name"`}},
		{name: "AskEmptyFile", args: []string{"match", "ask", "--partner", "bravo", "-f", empty}, code: exitFailed, stderr: []string{": no persons (JSON lines"}},
		{name: "AskTooMany", args: []string{"match", "ask", "--partner", "bravo", "--file", tooMany}, code: exitFailed, stderr: []string{"101 persons: at most 100 are asked about in one call; split the file"}},
		{name: "AskMissingFile", args: []string{"match", "ask", "--partner", "bravo", "-f", "/nonexistent/persons.jsonl"}, code: exitFailed, stderr: []string{"no such file"}},
		{name: "FollowUpWithoutToken", args: []string{"match", "follow-up", "--partner", "bravo", "--kind", "document", "--justification", "j"}, code: exitUsage, stderr: []string{"match follow-up needs --token TOKEN"}},
		{name: "FollowUpWithoutKind", args: []string{"match", "follow-up", "--partner", "bravo", "--token", "t", "--justification", "j"}, code: exitUsage, stderr: []string{"match follow-up needs --kind KIND: document, phone, name-dob or name-year"}},
		{name: "FollowUpBadKind", args: []string{"match", "follow-up", "--partner", "bravo", "--token", "t", "--kind", "name", "--justification", "j"}, code: exitUsage,
			stderr: []string{`--kind: "name" is not one of document, phone, name-dob, name-year`}},
		{name: "FollowUpBlankJustification", args: []string{"match", "follow-up", "--partner", "bravo", "--token", "t", "--kind", "phone", "--justification", "  "}, code: exitUsage, stderr: []string{"match follow-up needs --justification TEXT"}},
		{name: "FollowUpBadDeadline", args: []string{"match", "follow-up", "--partner", "bravo", "--token", "t", "--kind", "phone", "--justification", "j", "--deadline-hours", "721"}, code: exitUsage,
			stderr: []string{"--deadline-hours 721 is out of range"}},
		{name: "FollowUpsBothDirections", args: []string{"match", "follow-ups", "--incoming", "--outgoing"}, code: exitUsage, stderr: []string{"--incoming and --outgoing do not go together"}},
		{name: "FollowUpsBadStatus", args: []string{"match", "follow-ups", "--status", "open"}, code: exitUsage, stderr: []string{`--status: "open" is not one of pending, released, declined, not-held`}},
		{name: "FollowUpsBadPageSize", args: []string{"match", "follow-ups", "--page-size", "1001"}, code: exitUsage, stderr: []string{"--page-size 1001 is out of range"}},
		{name: "DecideNeither", args: []string{"match", "decide", "x", "--reason", "r"}, code: exitUsage, stderr: []string{"match decide needs one of --release or --decline"}},
		{name: "DecideBoth", args: []string{"match", "decide", "x", "--release", "--decline", "--reason", "r"}, code: exitUsage, stderr: []string{"match decide needs one of --release or --decline"}},
		{name: "DecideWithoutReason", args: []string{"match", "decide", "x", "--release"}, code: exitUsage, stderr: []string{"match decide needs --reason TEXT"}},
		{name: "DecideWithoutID", args: []string{"match", "decide", "--release", "--reason", "r"}, code: exitUsage, stderr: []string{"match decide takes ID, got []"}},
		{name: "RotateWithoutPartner", args: []string{"match", "rotate"}, code: exitUsage, stderr: []string{"match rotate needs --partner AGENCY"}},
		{name: "DiscoverableNeither", args: []string{"match", "discoverable", "x", "--partner", "bravo"}, code: exitUsage, stderr: []string{"match discoverable needs one of --on or --off"}},
		{name: "DiscoverableWithoutPartner", args: []string{"match", "discoverable", "x", "--on"}, code: exitUsage, stderr: []string{"match discoverable needs --partner AGENCY"}},
		{name: "StatusArgument", args: []string{"match", "status", "bravo"}, code: exitUsage, stderr: []string{`match status takes no arguments, got ["bravo"]`}},
	})
}

func TestTypedPerson(t *testing.T) {
	t.Parallel()
	inv, err := parse([]string{"match", "ask", "--partner", "bravo", "--phone", "+66", "81", "234", "5678", "Nguyen", "Van", "Thanh",
		"--dob", "1975-11", "--document", "national-id:12-34 5:vnm", "--document", "PASSPORT:AB:12:VNM", "--phone", "081 234", "--region", "th"})
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(inv.args, []string{"Nguyen", "Van", "Thanh"}) {
		t.Fatalf("words %q", inv.args)
	}
	// The typed person as parse bound its flags.
	value := func(name string) flag.Value { return inv.flags.Lookup(name).Value }
	tp := &typedPerson{dob: value("dob").String(), region: value("region").String(), latin: value("latin").String(),
		documents: *value("document").(*documentsFlag), phones: *value("phone").(*phonesFlag)}
	p, err := tp.person(inv.args)
	if err != nil {
		t.Fatal(err)
	}
	want := &liaisonv1.Person{
		Names:       []*liaisonv1.PersonName{{FamilyName: "Nguyen", GivenNames: "Van Thanh"}},
		DateOfBirth: &liaisonv1.Date{Year: 1975, Month: 11},
		Documents: []*liaisonv1.IdentityDocument{
			{Type: liaisonv1.DocumentType_DOCUMENT_TYPE_NATIONAL_ID, Number: "12-34 5", IssuingCountry: "VNM"},
			{Type: liaisonv1.DocumentType_DOCUMENT_TYPE_PASSPORT, Number: "AB:12", IssuingCountry: "VNM"},
		},
		PhoneNumbers: []*liaisonv1.PhoneNumber{{Number: "+66 81 234 5678", Region: "TH"}, {Number: "081 234", Region: "TH"}},
	}
	if diff := cmp.Diff(want, p, protocmp.Transform()); diff != "" {
		t.Errorf("person (-want +got):\n%s", diff)
	}

	latin, err := (&typedPerson{dob: "1980", latin: "Chen Wei"}).person([]string{"陈", "伟"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []*liaisonv1.PersonName{{FamilyName: "陈", GivenNames: "伟", LatinFamilyName: "Chen", LatinGivenNames: "Wei"}}; !cmp.Equal(want, latin.GetNames(), protocmp.Transform()) {
		t.Errorf("names %v, want %v", latin.GetNames(), want)
	}
	if p, err := (&typedPerson{}).person(nil); p != nil || err != nil {
		t.Errorf("nothing typed: %v, %v", p, err)
	}
}

func TestFollowUpTable(t *testing.T) {
	t.Parallel()
	due := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	fs := []*liaisonv1.MatchFollowUp{
		{Id: "f1", Querier: "alpha", Holder: "bravo", KeyKind: liaisonv1.MatchKeyKind_MATCH_KEY_KIND_PHONE,
			Status: liaisonv1.MatchFollowUpStatus_MATCH_FOLLOW_UP_STATUS_PENDING, DueTime: timestamppb.New(due), Justification: "seen at the border",
			Records: []*liaisonv1.MatchedRecord{{Kind: "lead", Id: "l1"}, {Kind: "case", Id: "c1"}}},
		{Id: "f2", Querier: "alpha", Holder: "bravo", KeyKind: liaisonv1.MatchKeyKind_MATCH_KEY_KIND_NAME_BIRTH_YEAR,
			Status: liaisonv1.MatchFollowUpStatus_MATCH_FOLLOW_UP_STATUS_PENDING, DueTime: timestamppb.New(due.Add(50 * time.Hour)), Justification: "j", LocalLeadId: "ours"},
		{Id: "f3", Querier: "bravo", Holder: "alpha", KeyKind: liaisonv1.MatchKeyKind_MATCH_KEY_KIND_DOCUMENT,
			Status: liaisonv1.MatchFollowUpStatus_MATCH_FOLLOW_UP_STATUS_NOT_HELD, DueTime: timestamppb.New(due), Justification: "j", DecisionReason: "withdrawn"},
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	followUpTable(tw, fs, due.Add(2*time.Hour+13*time.Minute))
	tw.Flush()
	ls := lines(b.String())
	want := [][]string{
		{"ID", "FROM", "TO", "KIND", "STATUS", "DUE", "LEFT", "RECORDS", "LOCAL", "LEAD", "JUSTIFICATION", "DECISION"},
		{"f1", "alpha", "bravo", "phone", "pending", "2026-03-02T12:00:00Z", "OVERDUE", "by", "2h13m", "lead", "l1,", "case", "c1", "-", "seen", "at", "the", "border", "-"},
		{"f2", "alpha", "bravo", "name-year", "pending", "2026-03-04T14:00:00Z", "in", "1d23h", "-", "ours", "j", "-"},
		{"f3", "bravo", "alpha", "document", "not-held", "2026-03-02T12:00:00Z", "-", "-", "-", "j", "withdrawn"},
	}
	if len(ls) != len(want) {
		t.Fatalf("lines:\n%s", b.String())
	}
	for i, l := range ls {
		if diff := cmp.Diff(want[i], strings.Fields(l)); diff != "" {
			t.Errorf("line %d (-want +got):\n%s", i, diff)
		}
	}
}

// TestMatchResultTable: a person without keys says why it was not asked,
// and without a hit the follow-up is not suggested.
func TestMatchResultTable(t *testing.T) {
	t.Parallel()
	resp := &liaisonv1.MatchPersonsResponse{Partner: "bravo", Epoch: 3, Evaluations: 2, BudgetRemaining: 40, Results: []*liaisonv1.MatchResult{
		{PersonIndex: 0, SubjectIndex: -1, Label: "Chen Wei"},
		{PersonIndex: -1, LeadId: "L1", SubjectIndex: 1, Label: "Ivanov Ivan", Keys: []*liaisonv1.MatchKeyResult{
			{Kind: liaisonv1.MatchKeyKind_MATCH_KEY_KIND_PHONE, Keys: 2}}},
	}}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	matchResultTable(tw, resp)
	tw.Flush()
	want := [][]string{
		{"PERSON", "KEY", "KIND", "KEYS", "RESULT", "HIT", "TOKEN"},
		{"[1]", "Chen", "Wei", "-", "0", "not", "asked:", "no", "key", "(a", "name", "needs", "a", "date", "of", "birth,", "a", "document", "its", "type", "and", "country)", "-"},
		{"lead", "L1", "[2]", "Ivanov", "Ivan", "phone", "2", "no", "hit", "-"},
		{"bravo,", "key", "epoch", "3:", "2", "evaluations,", "40", "left", "of", "today's", "budget"},
		{"a", "hit", "says", "only", "that", "bravo", "holds", "an", "entry", "with", "the", "same", "key,", "nothing", "more:", "not", "who", "it", "is,", "nor", "in", "which", "record."},
	}
	ls := lines(b.String())
	if len(ls) != len(want) {
		t.Fatalf("lines:\n%s", b.String())
	}
	for i, l := range ls {
		if diff := cmp.Diff(want[i], strings.Fields(l)); diff != "" {
			t.Errorf("line %d (-want +got):\n%s", i, diff)
		}
	}

	// Nothing evaluated: the node sends no budget back, so none is shown.
	resp = &liaisonv1.MatchPersonsResponse{Partner: "bravo", Epoch: 3, Results: resp.GetResults()[:1]}
	b.Reset()
	tw = tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	matchResultTable(tw, resp)
	tw.Flush()
	wantContains(t, "table", b.String(), "\nbravo, key epoch 3: no keys to ask about, nothing evaluated\n")
	if strings.Contains(b.String(), "budget") {
		t.Errorf("a budget is shown though nothing was evaluated:\n%s", b.String())
	}
}
