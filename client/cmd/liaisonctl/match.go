package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"

	"google.golang.org/protobuf/encoding/protojson"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

func init() {
	register(&group{name: "match", summary: "blind hit/no-hit: ask a partner whether it holds a person without saying who, and follow hits up (MatchService)",
		detail: "A hit says only that the partner holds an entry with the same key (a document, a phone number, a name with the date or year of birth): " +
			"not who it is, in which record, or anything else. To learn more, follow the hit up with its token; the partner's supervisors decide " +
			"whether to release anything, through the usual release and sharing paths. Each key asked about costs one evaluation of the daily " +
			"budget the partner grants this agency, and each query one more: the canary that checks the partner answers under the key of its index.",
		commands: []*command{
			{name: "ask", detail: "NAME is the words of the line, family name first (\"Chen Wei\"); the main name key does not depend on word order. " +
				"A name is asked about only with --dob (name with date of birth, name with year of birth); a document needs its type, number and " +
				"issuing country (PASSPORT:E1234567:CHN; types passport, national-id, residence-permit, travel-document, driving-licence, other). " +
				"-f reads persons as JSON lines: one liaison.v1.Person in protojson per line, as in a lead's subjects " +
				"({\"names\":[{\"familyName\":\"Chen\",\"givenNames\":\"Wei\"}],\"dateOfBirth\":{\"year\":1980}}), blank lines skipped, - for stdin. " +
				"The typed person, the file's persons and each subject of each --lead are asked about in one call (at most 100 persons and 100 leads). " +
				"Each person is printed with, per kind of key, hit or no hit and how many keys of that kind were asked; a hit with the token to follow it up.",
				synopsis: "--partner AGENCY [NAME...] [--dob YYYY[-MM[-DD]]] [--document TYPE:NUMBER:CC]... [--phone NUMBER]... [--region CC] [--latin NAME] [-f FILE] [--lead ID]...",
				args:     []string{"NAME..."}, setup: matchAsk,
				summary: "ask a partner, blind, whether it holds persons typed in, read from a file, or the subjects of local leads; the partner learns neither whom nor the answer"},
			{name: "follow-up", detail: "The token and kind are those a hit of 'match ask' printed. This tells the partner which of its entries matched, and why you ask; " +
				"its supervisors decide by the deadline (48 hours unless --deadline-hours says otherwise) whether to release anything.",
				synopsis: "--partner AGENCY --token TOKEN --kind document|phone|name-dob|name-year --justification TEXT [--lead ID] [--deadline-hours N]",
				setup:    matchFollowUp,
				summary:  "send a request for assistance about a hit to the partner that holds it"},
			{name: "follow-ups", detail: "Reads every page (at most 100 pages). Open follow-ups this agency owes come first, overdue ones first among them; " +
				"the records a token resolves to are shown on the holder's node only, the local lead on the asker's.",
				synopsis: "[--incoming|--outgoing] [--status pending|released|declined|not-held] [--page-size N]",
				setup:    matchFollowUps,
				summary:  "list follow-ups sent (outgoing) and received (incoming), with when each is due and whether it is overdue"},
			{name: "decide", detail: "Supervisors of the holder decide. This records the decision, which travels back to the asker without the records; " +
				"release what you decide to release with 'leads release' or 'cases share'.",
				synopsis: "ID --release|--decline --reason TEXT", args: []string{"ID"}, setup: matchDecide,
				summary: "decide an incoming follow-up (supervisors): release or decline, with the reason sent to the asker"},
			{name: "status", synopsis: "", setup: matchStatus,
				summary: "show, per partner, the index this node publishes to it (epoch, entries, evaluations used today) and the one it published here"},
			{name: "rotate", detail: "The partner keeps its copy of the old index until the new one is complete, so matching goes on across the change.",
				synopsis: "--partner AGENCY", setup: matchRotate,
				summary: "start a new key epoch for a partner: a new key and a new index published to it (supervisors)"},
			{name: "discoverable", detail: "RECORD_ID is an own lead, case or manifest. By default the persons of leads are in the index unless the lead is withdrawn or coded H3, " +
				"those of cases are, those of manifests are not. The change reaches the partner with the next update of the index.",
				synopsis: "RECORD_ID --partner AGENCY --on|--off", args: []string{"RECORD_ID"}, setup: matchDiscoverable,
				summary: "put an own record's persons in the index published to a partner, or keep them out (supervisors)"},
		}})
}

func (c *cli) matchService() (liaisonv1.MatchServiceClient, error) {
	conn, err := c.dial()
	if err != nil {
		return nil, err
	}
	return liaisonv1.NewMatchServiceClient(conn), nil
}

// matchKindNames are the short names of the key kinds on the command line
// and in tables.
var matchKindNames = map[liaisonv1.MatchKeyKind]string{
	liaisonv1.MatchKeyKind_MATCH_KEY_KIND_DOCUMENT:           "document",
	liaisonv1.MatchKeyKind_MATCH_KEY_KIND_PHONE:              "phone",
	liaisonv1.MatchKeyKind_MATCH_KEY_KIND_NAME_DATE_OF_BIRTH: "name-dob",
	liaisonv1.MatchKeyKind_MATCH_KEY_KIND_NAME_BIRTH_YEAR:    "name-year",
}

func matchKindName(k liaisonv1.MatchKeyKind) string { return namedOrEnum(matchKindNames, k) }

// maxMatchPersons is what MatchPersonsRequest takes of persons, and of
// leads.
const maxMatchPersons = 100

// partnerFlag is --partner, required where defined.
func partnerFlag(fs *flag.FlagSet, what string) *string {
	return fs.String("partner", "", "the partner `AGENCY` "+what)
}

func needPartner(cmd, p string) (string, error) {
	p = strings.TrimSpace(p)
	if p == "" {
		return "", usageErrorf("match %s needs --partner AGENCY", cmd)
	}
	return p, nil
}

// phonesFlag is a repeatable --phone: like search's, the groups of digits
// right after its value, unquoted, are taken as part of the number.
type phonesFlag []string

func (p *phonesFlag) String() string { return strings.Join(*p, ", ") }

func (p *phonesFlag) Set(v string) error {
	*p = append(*p, v)
	return nil
}

// Continue implements multiWordValue.
func (p *phonesFlag) Continue(word string) bool {
	if len(*p) == 0 || !isDigitGroup(word) {
		return false
	}
	(*p)[len(*p)-1] += " " + word
	return true
}

// documentsFlag is a repeatable --document, read when the request is
// built.
type documentsFlag []string

func (d *documentsFlag) String() string { return strings.Join(*d, ", ") }

func (d *documentsFlag) Set(v string) error {
	*d = append(*d, v)
	return nil
}

// typedPerson is the person of 'match ask' given by words and flags.
type typedPerson struct {
	dob, region, latin string
	documents          documentsFlag
	phones             phonesFlag
}

func (tp *typedPerson) define(fs *flag.FlagSet) {
	fs.StringVar(&tp.dob, "dob", "", "the typed person was born on `YYYY[-MM[-DD]]`; a name is asked about only with it")
	fs.Var(&tp.documents, "document", "an identity document of the typed person, `TYPE:NUMBER:CC` (type, number, "+
		"ISO 3166-1 alpha-3 issuing country; spaces, dashes and case in the number do not matter); repeatable")
	fs.Var(&tp.phones, "phone", "a phone `NUMBER` of the typed person, international (+66 81 234 5678) or national with --region; repeatable")
	fs.StringVar(&tp.region, "region", "", "the country `CC` (ISO 3166-1 alpha-2, like TH) of --phone numbers in national format")
	fs.StringVar(&tp.latin, "latin", "", "the Latin transliteration `NAME` of a NAME written in another script (陈伟 --latin \"Chen Wei\")")
}

// person builds the typed person from the words of the line and the
// flags; nil if nothing of a person was typed.
func (tp *typedPerson) person(words []string) (*liaisonv1.Person, error) {
	name := strings.Join(words, " ")
	if name == "" && tp.dob == "" && len(tp.documents) == 0 && len(tp.phones) == 0 && tp.latin == "" {
		return nil, nil
	}
	p := &liaisonv1.Person{}
	var err error
	if p.DateOfBirth, err = parseDate("--dob", tp.dob); err != nil {
		return nil, err
	}
	if name != "" || tp.latin != "" {
		n := &liaisonv1.PersonName{}
		n.FamilyName, n.GivenNames = splitName(name)
		n.LatinFamilyName, n.LatinGivenNames = splitName(tp.latin)
		if name == "" {
			return nil, usageErrorf("--latin is the transliteration of a NAME: give the name as written too")
		}
		if !isLatin(name) && tp.latin == "" {
			return nil, usageErrorf("the name %q is not in Latin script: give its Latin transliteration with --latin NAME", name)
		}
		p.Names = []*liaisonv1.PersonName{n}
	}
	for _, d := range tp.documents {
		doc, err := parseDocument(d)
		if err != nil {
			return nil, err
		}
		p.Documents = append(p.Documents, doc)
	}
	region := strings.ToUpper(strings.TrimSpace(tp.region))
	for _, ph := range tp.phones {
		p.PhoneNumbers = append(p.PhoneNumbers, &liaisonv1.PhoneNumber{Number: strings.TrimSpace(ph), Region: region})
	}
	switch {
	case p.DateOfBirth != nil && len(p.Names) == 0:
		return nil, usageErrorf("--dob goes with a NAME: a date of birth alone is no key")
	case len(p.Names) > 0 && p.DateOfBirth == nil && len(p.Documents) == 0 && len(p.PhoneNumbers) == 0:
		return nil, usageErrorf("a name is asked about only with its date or year of birth: give --dob YYYY[-MM[-DD]] (or --document, --phone)")
	}
	return p, nil
}

// splitName reads typed words as family name (the first word) and given
// names (the rest).
func splitName(s string) (family, given string) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return "", ""
	}
	return f[0], strings.Join(f[1:], " ")
}

// isLatin says whether every letter of s is in Latin script.
func isLatin(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) && !unicode.Is(unicode.Latin, r) {
			return false
		}
	}
	return true
}

// parseDocument reads TYPE:NUMBER:CC; the number is what lies between the
// first and the last colon.
func parseDocument(v string) (*liaisonv1.IdentityDocument, error) {
	bad := func(why string) error {
		return usageErrorf("--document %q: %s; want TYPE:NUMBER:CC, like PASSPORT:E1234567:CHN", v, why)
	}
	first, last := strings.Index(v, ":"), strings.LastIndex(v, ":")
	if first < 0 || first == last {
		return nil, bad("not three parts")
	}
	typ, number, cc := v[:first], strings.TrimSpace(v[first+1:last]), strings.ToUpper(strings.TrimSpace(v[last+1:]))
	t, err := parseEnum[liaisonv1.DocumentType](typ, nil)
	if err != nil {
		return nil, bad(fmt.Sprintf("type %v", err))
	}
	if number == "" {
		return nil, bad("no number")
	}
	if len(cc) != 3 || strings.Trim(cc, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		return nil, bad(fmt.Sprintf("issuing country %q is not an ISO 3166-1 alpha-3 code like CHN", cc))
	}
	return &liaisonv1.IdentityDocument{Type: t, Number: number, IssuingCountry: cc}, nil
}

// readPersons reads JSON lines of liaison.v1.Person from data, strictly:
// a line that is not a Person is an error naming the line.
func readPersons(name string, data []byte) ([]*liaisonv1.Person, error) {
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '[' {
		return nil, fmt.Errorf("%s: a JSON array; the file is JSON lines, one liaison.v1.Person per line", name)
	}
	var out []*liaisonv1.Person
	for i, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		p := &liaisonv1.Person{}
		if err := protojson.Unmarshal(line, p); err != nil {
			return nil, fmt.Errorf("%s line %d: not a liaison.v1.Person: %w", name, i+1, err)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no persons (JSON lines, one liaison.v1.Person per line)", name)
	}
	return out, nil
}

// askRequest builds the MatchPersonsRequest of 'match ask'.
func askRequest(c *cli, partner, file string, leads []string, tp *typedPerson, words []string) (*liaisonv1.MatchPersonsRequest, error) {
	p, err := needPartner("ask", partner)
	if err != nil {
		return nil, err
	}
	req := &liaisonv1.MatchPersonsRequest{Partner: p, LeadIds: leads}
	typed, err := tp.person(words)
	if err != nil {
		return nil, err
	}
	if typed != nil {
		req.Persons = append(req.Persons, typed)
	}
	if file != "" {
		data, err := c.readInput(file)
		if err != nil {
			return nil, err
		}
		name := file
		if file == "-" {
			name = "stdin"
		}
		ps, err := readPersons(name, data)
		if err != nil {
			return nil, err
		}
		req.Persons = append(req.Persons, ps...)
	}
	switch {
	case len(req.Persons) == 0 && len(req.LeadIds) == 0:
		return nil, usageErrorf("match ask needs a person (NAME --dob, --document or --phone), -f FILE or --lead ID")
	case len(req.Persons) > maxMatchPersons:
		return nil, fmt.Errorf("%d persons: at most %d are asked about in one call; split the file", len(req.Persons), maxMatchPersons)
	case len(req.LeadIds) > maxMatchPersons:
		return nil, usageErrorf("%d leads: at most %d are asked about in one call", len(req.LeadIds), maxMatchPersons)
	}
	return req, nil
}

func matchAsk(fs *flag.FlagSet) handler {
	partner := partnerFlag(fs, "to ask")
	var file string
	fs.StringVar(&file, "f", "", "read persons from `FILE`: JSON lines, one liaison.v1.Person in protojson per line (- for stdin)")
	fs.StringVar(&file, "file", "", "the same as -f (`FILE`)")
	var leads listFlag
	fs.Var(&leads, "lead", "ask about each subject of the local lead `ID`; repeatable, or IDs separated by commas")
	tp := &typedPerson{}
	tp.define(fs)
	return func(ctx context.Context, c *cli, args []string) error {
		req, err := askRequest(c, *partner, file, leads, tp, args)
		if err != nil {
			return err
		}
		svc, err := c.matchService()
		if err != nil {
			return err
		}
		resp, err := svc.MatchPersons(ctx, req)
		if err != nil {
			return err
		}
		return c.print(resp, func(w io.Writer) { matchResultTable(w, resp) })
	}
}

var matchResultColumns = []string{"PERSON", "KEY KIND", "KEYS", "RESULT", "HIT TOKEN"}

// matchResultTable prints per person, per kind of key, hit or no hit;
// then the epoch, the budget, and what a hit means.
func matchResultTable(w io.Writer, resp *liaisonv1.MatchPersonsResponse) {
	row(w, matchResultColumns...)
	hits := 0
	for _, r := range resp.GetResults() {
		who := matchLabel(r)
		if len(r.GetKeys()) == 0 {
			row(w, who, "-", "0", "not asked: no key (a name needs a date of birth, a document its type and country)", "-")
			continue
		}
		for i, k := range r.GetKeys() {
			result, token := "no hit", "-"
			if k.GetHit() {
				result, token = "hit", k.GetHitToken()
				hits++
			}
			if i > 0 {
				who = ""
			}
			row(w, who, matchKindName(k.GetKind()), fmt.Sprint(k.GetKeys()), result, token)
		}
	}
	if resp.GetEvaluations() == 0 {
		// Nothing was sent to the partner, so the node does not know the
		// budget left (and reports 0).
		fmt.Fprintf(w, "\n%s, key epoch %d: no keys to ask about, nothing evaluated\n", resp.GetPartner(), resp.GetEpoch())
	} else {
		fmt.Fprintf(w, "\n%s, key epoch %d: %s, %d left of today's budget\n",
			resp.GetPartner(), resp.GetEpoch(), counted(int(resp.GetEvaluations()), "evaluation"), resp.GetBudgetRemaining())
	}
	fmt.Fprintf(w, "a hit says only that %s holds an entry with the same key, nothing more: not who it is, nor in which record.\n", resp.GetPartner())
	if hits > 0 {
		fmt.Fprintf(w, "to ask for more: liaisonctl match follow-up --partner %s --token TOKEN --kind KIND --justification TEXT\n", resp.GetPartner())
	}
}

// matchLabel names a person of a result: "[1] Chen Wei" for the first
// person typed or read, "lead ID [2] Chen Wei" for a lead's second
// subject.
func matchLabel(r *liaisonv1.MatchResult) string {
	if r.GetLeadId() != "" {
		return fmt.Sprintf("lead %s [%d] %s", r.GetLeadId(), r.GetSubjectIndex()+1, r.GetLabel())
	}
	return fmt.Sprintf("[%d] %s", r.GetPersonIndex()+1, r.GetLabel())
}

func matchFollowUp(fs *flag.FlagSet) handler {
	partner := partnerFlag(fs, "that holds the hit")
	token := fs.String("token", "", "the hit `TOKEN` 'match ask' printed")
	kind := fs.String("kind", "", "the `KIND` of key that hit: document, phone, name-dob or name-year")
	justification := fs.String("justification", "", "why you ask (`TEXT`, shown to the partner's supervisors)")
	lead := fs.String("lead", "", "the local lead `ID` the hit was about (kept on this node only)")
	hours := fs.Int("deadline-hours", 0, "hours `N` the partner has to decide (1 to 720; default 48)")
	return func(ctx context.Context, c *cli, _ []string) error {
		req, err := followUpRequest(*partner, *token, *kind, *justification, *lead, *hours)
		if err != nil {
			return err
		}
		svc, err := c.matchService()
		if err != nil {
			return err
		}
		resp, err := svc.FollowUpHit(ctx, req)
		if err != nil {
			return err
		}
		return c.print(resp, func(w io.Writer) { followUpDetail(w, resp.GetFollowUp(), clock()) })
	}
}

func followUpRequest(partner, token, kind, justification, lead string, hours int) (*liaisonv1.FollowUpHitRequest, error) {
	p, err := needPartner("follow-up", partner)
	if err != nil {
		return nil, err
	}
	req := &liaisonv1.FollowUpHitRequest{Partner: p, HitToken: strings.TrimSpace(token), Justification: justification, LocalLeadId: strings.TrimSpace(lead)}
	if req.HitToken == "" {
		return nil, usageErrorf("match follow-up needs --token TOKEN (from a hit of 'match ask')")
	}
	if kind == "" {
		return nil, usageErrorf("match follow-up needs --kind KIND: document, phone, name-dob or name-year")
	}
	if req.KeyKind, err = parseEnum(kind, matchKindName); err != nil {
		return nil, usageErrorf("--kind: %v", err)
	}
	if strings.TrimSpace(justification) == "" {
		return nil, usageErrorf("match follow-up needs --justification TEXT")
	}
	if hours < 0 || hours > 720 {
		return nil, usageErrorf("--deadline-hours %d is out of range: 1 to 720 (0 for the default of 48)", hours)
	}
	req.DeadlineHours = int32(hours)
	return req, nil
}

func matchFollowUps(fs *flag.FlagSet) handler {
	incoming := fs.Bool("incoming", false, "only follow-ups partners sent this agency (it holds the hits and decides)")
	outgoing := fs.Bool("outgoing", false, "only follow-ups this agency sent")
	statusFlag := fs.String("status", "", "only follow-ups in `STATUS`: pending, released, declined or not-held")
	size := fs.Int("page-size", 0, "read `N` follow-ups per call (node default 50, at most 1000)")
	return func(ctx context.Context, c *cli, _ []string) error {
		req, err := followUpsRequest(*incoming, *outgoing, *statusFlag, *size)
		if err != nil {
			return err
		}
		svc, err := c.matchService()
		if err != nil {
			return err
		}
		out := &liaisonv1.ListMatchFollowUpsResponse{}
		for n := 1; ; n++ {
			resp, err := svc.ListMatchFollowUps(ctx, req)
			if err != nil {
				return err
			}
			out.FollowUps = append(out.FollowUps, resp.GetFollowUps()...)
			req.PageToken = resp.GetNextPageToken()
			if req.PageToken == "" {
				break
			}
			if n == maxPages {
				fmt.Fprintf(c.stderr, "warning: stopped after %d pages; more remain\n", maxPages)
				out.NextPageToken = req.PageToken
				break
			}
		}
		return c.print(out, func(w io.Writer) {
			if len(out.GetFollowUps()) == 0 {
				fmt.Fprintln(w, "no follow-ups")
				return
			}
			followUpTable(w, out.GetFollowUps(), clock())
		})
	}
}

func followUpsRequest(incoming, outgoing bool, status string, size int) (*liaisonv1.ListMatchFollowUpsRequest, error) {
	req := &liaisonv1.ListMatchFollowUpsRequest{}
	switch {
	case incoming && outgoing:
		return nil, usageErrorf("--incoming and --outgoing do not go together: give one, or neither for both")
	case incoming:
		req.Direction = liaisonv1.MatchFollowUpDirection_MATCH_FOLLOW_UP_DIRECTION_INCOMING
	case outgoing:
		req.Direction = liaisonv1.MatchFollowUpDirection_MATCH_FOLLOW_UP_DIRECTION_OUTGOING
	}
	if status != "" {
		var err error
		if req.Status, err = parseEnum[liaisonv1.MatchFollowUpStatus](status, nil); err != nil {
			return nil, usageErrorf("--status: %v", err)
		}
	}
	if size < 0 || size > 1000 {
		return nil, usageErrorf("--page-size %d is out of range: 1 to 1000 (0 for the node's default)", size)
	}
	req.PageSize = int32(size)
	return req, nil
}

var followUpColumns = []string{"ID", "FROM", "TO", "KIND", "STATUS", "DUE", "LEFT", "RECORDS", "LOCAL LEAD", "JUSTIFICATION", "DECISION"}

// followUpTable lists follow-ups as the node ordered them; LEFT, for a
// pending one, is how long is left or how overdue it is at at. RECORDS
// are the holder's (on its node only), LOCAL LEAD the asker's.
func followUpTable(w io.Writer, fs []*liaisonv1.MatchFollowUp, at time.Time) {
	row(w, followUpColumns...)
	for _, f := range fs {
		decision := "-"
		if f.GetStatus() != liaisonv1.MatchFollowUpStatus_MATCH_FOLLOW_UP_STATUS_PENDING {
			decision = truncate(f.GetDecisionReason(), 60)
		}
		row(w, f.GetId(), f.GetQuerier(), f.GetHolder(), matchKindName(f.GetKeyKind()), enumName(f.GetStatus()),
			timestamp(f.GetDueTime()), followUpLeft(f, at), orDash(matchedRecords(f.GetRecords())), orDash(f.GetLocalLeadId()),
			truncate(f.GetJustification(), 60), orDash(decision))
	}
}

// followUpLeft is, for a pending follow-up, the time left or "OVERDUE by";
// "-" once decided.
func followUpLeft(f *liaisonv1.MatchFollowUp, at time.Time) string {
	if f.GetStatus() != liaisonv1.MatchFollowUpStatus_MATCH_FOLLOW_UP_STATUS_PENDING || f.GetDueTime() == nil {
		return "-"
	}
	return timeLeft(f.GetDueTime().AsTime(), false, at)
}

func matchedRecords(rs []*liaisonv1.MatchedRecord) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.GetKind()+" "+r.GetId())
	}
	return strings.Join(out, ", ")
}

// followUpDetail is the key/value view of one follow-up.
func followUpDetail(w io.Writer, f *liaisonv1.MatchFollowUp, at time.Time) {
	row(w, "ID:", f.GetId())
	row(w, "FROM:", f.GetQuerier()+" (asked)")
	row(w, "TO:", f.GetHolder()+" (holds the hit, decides)")
	row(w, "KIND:", matchKindName(f.GetKeyKind()))
	row(w, "TOKEN:", f.GetHitToken())
	row(w, "STATUS:", enumName(f.GetStatus()))
	row(w, "JUSTIFICATION:", f.GetJustification())
	row(w, "REQUESTED BY:", orDash(f.GetRequestedBy()))
	row(w, "CREATED:", timestamp(f.GetCreateTime()))
	due := timestamp(f.GetDueTime())
	if l := followUpLeft(f, at); l != "-" {
		due += " (" + l + ")"
	}
	row(w, "DUE:", due)
	if r := matchedRecords(f.GetRecords()); r != "" {
		row(w, "RECORDS:", r)
	}
	if f.GetLocalLeadId() != "" {
		row(w, "LOCAL LEAD:", f.GetLocalLeadId())
	}
	if f.GetStatus() != liaisonv1.MatchFollowUpStatus_MATCH_FOLLOW_UP_STATUS_PENDING {
		row(w, "DECIDED BY:", orDash(f.GetDecidedBy()))
		row(w, "DECIDED:", timestamp(f.GetDecideTime()))
		row(w, "REASON:", orDash(f.GetDecisionReason()))
	}
}

func matchDecide(fs *flag.FlagSet) handler {
	release := fs.Bool("release", false, "release (some of) what matched; release the records themselves with 'leads release' or 'cases share'")
	decline := fs.Bool("decline", false, "decline to release anything")
	reason := fs.String("reason", "", "why (`TEXT`, sent to the asker)")
	return func(ctx context.Context, c *cli, args []string) error {
		req, err := decideRequest(args[0], *release, *decline, *reason)
		if err != nil {
			return err
		}
		svc, err := c.matchService()
		if err != nil {
			return err
		}
		resp, err := svc.DecideMatchFollowUp(ctx, req)
		if err != nil {
			return err
		}
		return c.print(resp, func(w io.Writer) { followUpDetail(w, resp.GetFollowUp(), clock()) })
	}
}

func decideRequest(id string, release, decline bool, reason string) (*liaisonv1.DecideMatchFollowUpRequest, error) {
	req := &liaisonv1.DecideMatchFollowUpRequest{Id: id, Reason: reason}
	switch {
	case release == decline:
		return nil, usageErrorf("match decide needs one of --release or --decline")
	case release:
		req.Status = liaisonv1.MatchFollowUpStatus_MATCH_FOLLOW_UP_STATUS_RELEASED
	default:
		req.Status = liaisonv1.MatchFollowUpStatus_MATCH_FOLLOW_UP_STATUS_DECLINED
	}
	if strings.TrimSpace(reason) == "" {
		return nil, usageErrorf("match decide needs --reason TEXT")
	}
	return req, nil
}

func matchStatus(*flag.FlagSet) handler {
	return func(ctx context.Context, c *cli, _ []string) error {
		svc, err := c.matchService()
		if err != nil {
			return err
		}
		resp, err := svc.GetMatchStatus(ctx, &liaisonv1.GetMatchStatusRequest{})
		if err != nil {
			return err
		}
		return c.print(resp, func(w io.Writer) {
			if len(resp.GetPartners()) == 0 {
				fmt.Fprintln(w, "no partners")
				return
			}
			matchStatusTable(w, resp.GetPartners())
		})
	}
}

var matchStatusColumns = []string{"PARTNER", "INDEX", "EPOCH", "ENTRIES", "STATE", "WHEN", "EVALUATIONS TODAY"}

// matchStatusTable prints two rows per partner: the index this node
// publishes to it (WHEN its epoch began), and the one it published here
// (WHEN the last update was applied).
func matchStatusTable(w io.Writer, ps []*liaisonv1.MatchPartnerStatus) {
	row(w, matchStatusColumns...)
	for _, p := range ps {
		own := "none yet"
		if p.GetOwnEpoch() > 0 {
			own = "all sent"
			if p.GetOwnPending() > 0 {
				own = fmt.Sprintf("%d changes to send", p.GetOwnPending())
			}
		}
		began := "-"
		if p.GetOwnEpochStart() != nil {
			began = "began " + timestamp(p.GetOwnEpochStart())
		}
		row(w, p.GetPartner(), "published to "+p.GetPartner(), epochOrDash(p.GetOwnEpoch()), fmt.Sprint(p.GetOwnEntries()), own, began, fmt.Sprintf("%d of %d", p.GetEvaluationsToday(), p.GetDailyBudget()))
		theirs, since := "none yet", "-"
		if p.GetPartnerEpoch() > 0 {
			theirs = "loading (not complete)"
			if p.GetPartnerComplete() {
				theirs = "complete"
			}
			theirs += fmt.Sprintf(", update %d", p.GetPartnerVersion())
			since = "updated " + timestamp(p.GetPartnerUpdateTime())
		}
		row(w, "", "held from "+p.GetPartner(), epochOrDash(p.GetPartnerEpoch()), fmt.Sprint(p.GetPartnerEntries()), theirs, since, "-")
	}
}

func epochOrDash(e uint32) string {
	if e == 0 {
		return "-"
	}
	return fmt.Sprint(e)
}

func matchRotate(fs *flag.FlagSet) handler {
	partner := partnerFlag(fs, "whose key to rotate")
	return func(ctx context.Context, c *cli, _ []string) error {
		p, err := needPartner("rotate", *partner)
		if err != nil {
			return err
		}
		svc, err := c.matchService()
		if err != nil {
			return err
		}
		resp, err := svc.RotateMatchKey(ctx, &liaisonv1.RotateMatchKeyRequest{Partner: p})
		if err != nil {
			return err
		}
		return c.print(resp, func(w io.Writer) {
			matchStatusTable(w, []*liaisonv1.MatchPartnerStatus{resp.GetStatus()})
			fmt.Fprintf(w, "\nepoch %d started; %s keeps the old index until the new one is complete\n", resp.GetStatus().GetOwnEpoch(), p)
		})
	}
}

func matchDiscoverable(fs *flag.FlagSet) handler {
	partner := partnerFlag(fs, "the index is published to")
	on := fs.Bool("on", false, "put the record's persons in the index")
	off := fs.Bool("off", false, "keep the record's persons out of the index")
	return func(ctx context.Context, c *cli, args []string) error {
		p, err := needPartner("discoverable", *partner)
		if err != nil {
			return err
		}
		if *on == *off {
			return usageErrorf("match discoverable needs one of --on or --off")
		}
		svc, err := c.matchService()
		if err != nil {
			return err
		}
		resp, err := svc.SetDiscoverability(ctx, &liaisonv1.SetDiscoverabilityRequest{RecordId: args[0], Partner: p, Discoverable: *on})
		if err != nil {
			return err
		}
		return c.print(resp, func(w io.Writer) {
			if *on {
				fmt.Fprintf(w, "%s: its persons are discoverable by %s (in the next update of the index published to it)\n", args[0], p)
			} else {
				fmt.Fprintf(w, "%s: its persons are not discoverable by %s (they leave the index with its next update)\n", args[0], p)
			}
		})
	}
}
