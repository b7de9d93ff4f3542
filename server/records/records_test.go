package records_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/federation"
	"github.com/liaison-exchange/liaison/server/ids"
	"github.com/liaison-exchange/liaison/server/records"
	"github.com/liaison-exchange/liaison/server/store"
	"github.com/liaison-exchange/liaison/server/validate"
)

// openStore opens the store of agency alpha on a real SQLite file.
func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "alpha.db"), store.Options{Synchronous: "normal", Agency: "alpha"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newLead is a version 1 lead of origin.
func newLead(origin, title string) *liaisonv1.Lead {
	now := timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	return &liaisonv1.Lead{Id: ids.New(), OriginAgency: origin, Title: title, Version: 1, CreateTime: now, UpdateTime: now,
		Status: liaisonv1.LeadStatus_LEAD_STATUS_DRAFT}
}

func insert(t *testing.T, st *store.Store, l *liaisonv1.Lead) {
	t.Helper()
	if err := st.Write(context.Background(), func(tx *store.Tx) error { return tx.InsertLead(l) }); err != nil {
		t.Fatal(err)
	}
}

func wantCode(t *testing.T, err error, code errs.Code) {
	t.Helper()
	if errs.CodeOf(err) != code {
		t.Fatalf("got %v (%v), want %v", errs.CodeOf(err), err, code)
	}
}

func TestCreateOnce(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	const method = "/test.Service/Create"
	created := 0
	create := func(tx *store.Tx, r records.Request, title string) (*liaisonv1.Lead, error) {
		var out *liaisonv1.Lead
		err := st.Write(ctx, func(tx *store.Tx) error {
			var err error
			out, err = records.CreateOnce(tx, r, tx.Lead, func() (*liaisonv1.Lead, error) {
				created++
				l := newLead("alpha", title)
				return l, tx.InsertLead(l)
			})
			return err
		})
		return out, err
	}
	req := func(id, title string) records.Request {
		r, err := records.NewRequest(method, id, &liaisonv1.Lead{Title: title})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	first, err := create(nil, req("req-1", "a"), "a")
	if err != nil {
		t.Fatal(err)
	}
	if first.GetEtag() != store.Etag(first.GetId(), 1) {
		t.Errorf("created lead has etag %q, want the etag of its version", first.GetEtag())
	}
	again, err := create(nil, req("req-1", "a"), "a")
	if err != nil {
		t.Fatal(err)
	}
	if again.GetId() != first.GetId() || created != 1 {
		t.Errorf("retry returned %s after %d creates, want %s after 1", again.GetId(), created, first.GetId())
	}
	_, err = create(nil, req("req-1", "b"), "b")
	wantCode(t, err, errs.AlreadyExists)
	if created != 1 {
		t.Errorf("a reused request id with another payload created a record")
	}
	// Without a request id every call creates.
	x, err := create(nil, req("", "c"), "c")
	if err != nil {
		t.Fatal(err)
	}
	y, err := create(nil, req("", "c"), "c")
	if err != nil {
		t.Fatal(err)
	}
	if x.GetId() == y.GetId() || created != 3 {
		t.Errorf("calls without a request id made %d records (%s, %s), want 2 new ones", created-1, x.GetId(), y.GetId())
	}
	// A create that fails remembers nothing: the same request id can be
	// used again.
	boom := errors.New("boom")
	err = st.Write(ctx, func(tx *store.Tx) error {
		_, err := records.CreateOnce(tx, req("req-2", "d"), tx.Lead, func() (*liaisonv1.Lead, error) { return nil, boom })
		return err
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the create's error", err)
	}
	if _, err := create(nil, req("req-2", "d"), "d"); err != nil || created != 4 {
		t.Errorf("after a failed create the request id made %d records (%v), want a new one", created-3, err)
	}
}

// The updatable fields of each kind are the list of its update request's
// field_mask.in rule.
func TestUpdatable(t *testing.T) {
	for _, tc := range []struct {
		req  proto.Message
		want []string
	}{
		{&liaisonv1.UpdateLeadRequest{}, []string{"title", "summary", "crime_areas", "subjects", "locations", "routes", "originator_reference", "evaluation", "handling", "review_date", "contact"}},
		{&liaisonv1.UpdateCaseRequest{}, []string{"title", "summary", "crime_areas", "status", "originator_reference", "partner_references", "subjects", "contact"}},
		{&liaisonv1.UpdateManifestRequest{}, []string{"legal_basis", "transport", "escorts"}},
		{&liaisonv1.GetLeadRequest{}, nil},
	} {
		if got := records.Updatable(tc.req.ProtoReflect().Descriptor()); !slices.Equal(got, tc.want) {
			t.Errorf("%T: updatable %q, want %q", tc.req, got, tc.want)
		}
	}
}

// The runtime enforces the rule the lists are declared in, at the paths
// that break it (server/validate), so a request naming another field
// never reaches a service.
func TestUpdateMaskRule_Enforced(t *testing.T) {
	pv, err := protovalidate.New()
	if err != nil {
		t.Fatal(err)
	}
	v, err := validate.New()
	if err != nil {
		t.Fatal(err)
	}
	mask := func(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }
	for _, req := range []proto.Message{
		&liaisonv1.UpdateLeadRequest{UpdateMask: mask("title", "status")},
		&liaisonv1.UpdateCaseRequest{UpdateMask: mask("title", "shared_with")},
		&liaisonv1.UpdateManifestRequest{UpdateMask: mask("legal_basis", "state")},
	} {
		var verr *protovalidate.ValidationError
		if err := pv.Validate(req); !errors.As(err, &verr) || len(verr.Violations) != 1 || verr.Violations[0].Proto.GetRuleId() != "field_mask.in" {
			t.Errorf("%T: protovalidate says %v, want one field_mask.in violation", req, err)
		}
		var e *errs.Error
		if err := v.Validate(req, ""); !errors.As(err, &e) || len(e.FieldViolations) != 1 || e.FieldViolations[0].Field != "update_mask.paths[1]" {
			t.Errorf("%T: validator says %v, want a violation at update_mask.paths[1]", req, err)
		}
	}
	for _, req := range []proto.Message{
		&liaisonv1.UpdateLeadRequest{UpdateMask: mask("title", "contact")},
		&liaisonv1.UpdateManifestRequest{UpdateMask: mask("legal_basis", "transport", "escorts")},
	} {
		if err := pv.Validate(req); err != nil {
			t.Errorf("%T: %v", req, err)
		}
	}
	if err := pv.Validate(&liaisonv1.UpdateManifestRequest{}); err == nil {
		t.Errorf("a manifest update without a mask passed")
	}
}

func TestCheckMask(t *testing.T) {
	req := &liaisonv1.UpdateLeadRequest{}
	for _, tc := range []struct {
		paths []string
		want  []string
	}{
		{nil, []string{"update_mask"}},
		{[]string{"title", "contact"}, nil},
		{[]string{"title", "status", "evaluation.source_reliability"}, []string{"update_mask.paths[1]", "update_mask.paths[2]"}},
		{[]string{"Title"}, []string{"update_mask.paths[0]"}},
	} {
		var got []string
		for _, v := range records.CheckMask(req, tc.paths) {
			got = append(got, v.Field)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("CheckMask(%q) = %q, want %q", tc.paths, got, tc.want)
		}
	}
}

func TestMerge(t *testing.T) {
	ev := &liaisonv1.Evaluation{SourceReliability: liaisonv1.SourceReliability_SOURCE_RELIABILITY_B}
	cur := &liaisonv1.Lead{Id: "x", Title: "old", Summary: "kept", Subjects: []*liaisonv1.Person{{Id: "a"}}, Evaluation: ev}
	patch := &liaisonv1.Lead{Title: "new", Summary: "ignored", Subjects: []*liaisonv1.Person{{Id: "b"}, {Id: "c"}}}
	got := records.Merge(cur, patch, []string{"title", "subjects", "evaluation"})
	want := &liaisonv1.Lead{Id: "x", Title: "new", Summary: "kept", Subjects: []*liaisonv1.Person{{Id: "b"}, {Id: "c"}}}
	if !proto.Equal(got, want) {
		t.Errorf("merged %v, want %v", got, want)
	}
	if cur.GetTitle() != "old" || cur.GetEvaluation() == nil || cur.GetSubjects()[0].GetId() != "a" {
		t.Errorf("the merge changed the stored version: %v", cur)
	}
	patch.Subjects[0].Id = "z"
	if got.GetSubjects()[0].GetId() != "b" {
		t.Errorf("the merged record shares the patch's subjects")
	}
}

func TestCheckEtag(t *testing.T) {
	l := &liaisonv1.Lead{Id: "x", Version: 3, Etag: store.Etag("x", 3)}
	if err := records.CheckEtag("lead", l, store.Etag("x", 3)); err != nil {
		t.Error(err)
	}
	wantCode(t, records.CheckEtag("lead", l, store.Etag("x", 2)), errs.Aborted)
}

// leadKind is a lead kind for alpha sending every version to bravo.
func leadKind(st *store.Store) *records.Kind[*liaisonv1.Lead] {
	return &records.Kind[*liaisonv1.Lead]{
		Store: st,
		Read:  (*store.Tx).Lead,
		NotHome: func(l *liaisonv1.Lead, action string) error {
			return records.HomeOnly(l, "alpha", "leads/"+l.GetId(), "lead %s is %s's; alpha cannot %s it", l.GetId(), l.GetOriginAgency(), action)
		},
		Save: (*store.Tx).ReplaceLead,
		Share: func(tx *store.Tx, next, _ *liaisonv1.Lead) error {
			_, err := tx.AppendOutbox(records.Upsert(liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD, "bravo", next, next))
			return err
		},
	}
}

func TestKind_Change(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	k := leadKind(st)
	own := newLead("alpha", "own")
	insert(t, st, own)

	retitle := func(title string) func(*store.Tx, *liaisonv1.Lead) (*liaisonv1.Lead, error) {
		return func(_ *store.Tx, cur *liaisonv1.Lead) (*liaisonv1.Lead, error) {
			next := proto.Clone(cur).(*liaisonv1.Lead)
			next.Title = title
			return next, nil
		}
	}
	out, err := k.Change(ctx, records.Change[*liaisonv1.Lead]{ID: own.GetId(), Action: "update", Apply: retitle("changed")})
	if err != nil {
		t.Fatal(err)
	}
	if out.GetVersion() != 2 || out.GetTitle() != "changed" || out.GetEtag() != store.Etag(own.GetId(), 2) {
		t.Errorf("changed lead: version %d, title %q, etag %q; want version 2 with its etag", out.GetVersion(), out.GetTitle(), out.GetEtag())
	}
	if !out.GetUpdateTime().AsTime().After(own.GetUpdateTime().AsTime()) {
		t.Errorf("update time %v not stamped", out.GetUpdateTime().AsTime())
	}
	stored, err := st.Lead(ctx, own.GetId())
	if err != nil || !proto.Equal(stored, out) {
		t.Errorf("stored %v (%v), want what Change returned %v", stored, err, out)
	}
	sent, err := st.OutboxForRecord(ctx, own.GetId())
	if err != nil || len(sent) != 1 || sent[0].Partner != "bravo" || sent[0].RecordVersion != 2 {
		t.Errorf("shared %+v (%v), want version 2 to bravo", sent, err)
	}

	// Nothing to change: nothing written, nothing sent.
	same, err := k.Change(ctx, records.Change[*liaisonv1.Lead]{ID: own.GetId(), Action: "update",
		Apply: func(*store.Tx, *liaisonv1.Lead) (*liaisonv1.Lead, error) { return nil, nil }})
	if err != nil || same.GetVersion() != 2 || same.GetEtag() != out.GetEtag() {
		t.Errorf("an empty change returned %v (%v), want version 2 as stored", same, err)
	}
	if sent, _ := st.OutboxForRecord(ctx, own.GetId()); len(sent) != 1 {
		t.Errorf("an empty change sent %d envelopes", len(sent)-1)
	}

	// A change's Share replaces the kind's.
	shared := false
	if _, err := k.Change(ctx, records.Change[*liaisonv1.Lead]{ID: own.GetId(), Action: "update", Apply: retitle("again"),
		Share: func(*store.Tx, *liaisonv1.Lead, *liaisonv1.Lead) error { shared = true; return nil }}); err != nil || !shared {
		t.Errorf("change with its own share: %v, shared %v", err, shared)
	}
	if sent, _ := st.OutboxForRecord(ctx, own.GetId()); len(sent) != 1 {
		t.Errorf("the kind's share ran as well as the change's")
	}

	// A partner's lead: refused with the home-node rule, after Before.
	theirs := newLead("bravo", "theirs")
	insert(t, st, theirs)
	var order []string
	_, err = k.Change(ctx, records.Change[*liaisonv1.Lead]{ID: theirs.GetId(), Action: "update",
		Before: func(*store.Tx, *liaisonv1.Lead) error { order = append(order, "before"); return nil },
		Apply: func(tx *store.Tx, cur *liaisonv1.Lead) (*liaisonv1.Lead, error) {
			order = append(order, "apply")
			return retitle("no")(tx, cur)
		}})
	wantCode(t, err, errs.FailedPrecondition)
	var e *errs.Error
	if !errors.As(err, &e) || len(e.Violations) != 1 || e.Violations[0].Type != "record.home_node_only" || e.Violations[0].Subject != "leads/"+theirs.GetId() {
		t.Errorf("refusal %+v, want record.home_node_only about the lead", err)
	}
	// (A failed write may run again: only Before ran, each time.)
	if !slices.Contains(order, "before") || slices.Contains(order, "apply") {
		t.Errorf("ran %q, want only before", order)
	}
	if got, _ := st.Lead(ctx, theirs.GetId()); got.GetVersion() != 1 || got.GetTitle() != "theirs" {
		t.Errorf("a refused change was written: %v", got)
	}

	// An error of Apply writes nothing; a missing record is NOT_FOUND.
	_, err = k.Change(ctx, records.Change[*liaisonv1.Lead]{ID: own.GetId(), Action: "update",
		Apply: func(*store.Tx, *liaisonv1.Lead) (*liaisonv1.Lead, error) { return nil, errs.New(errs.Aborted, "stale") }})
	wantCode(t, err, errs.Aborted)
	_, err = k.Change(ctx, records.Change[*liaisonv1.Lead]{ID: ids.New(), Action: "update", Apply: retitle("x")})
	wantCode(t, err, errs.NotFound)
}

// Commit is the end of a change made outside Change (a partner's
// proposal): next version, stored, shared.
func TestKind_Commit(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	k := leadKind(st)
	l := newLead("alpha", "own")
	insert(t, st, l)
	err := st.Write(ctx, func(tx *store.Tx) error {
		cur, err := tx.Lead(l.GetId())
		if err != nil {
			return err
		}
		next := proto.Clone(cur).(*liaisonv1.Lead)
		next.Title = "proposed"
		return k.Commit(tx, next, cur)
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := st.Lead(ctx, l.GetId())
	sent, _ := st.OutboxForRecord(ctx, l.GetId())
	if got.GetVersion() != 2 || got.GetTitle() != "proposed" || len(sent) != 1 {
		t.Errorf("committed %v with %d envelopes, want version 2 sent once", got, len(sent))
	}
}

func TestShareTombstone(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	l := newLead("alpha", "gone")
	insert(t, st, l)
	at := timestamppb.New(time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC))
	err := st.Write(ctx, func(tx *store.Tx) error {
		return records.ShareTombstone(tx, liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD_TOMBSTONE, l, at, []string{"bravo", "charlie"})
	})
	if err != nil {
		t.Fatal(err)
	}
	sent, err := st.OutboxForRecord(ctx, l.GetId())
	if err != nil {
		t.Fatal(err)
	}
	var to []string
	for _, e := range sent {
		if e.Kind != liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD_TOMBSTONE || e.RecordVersion != 1 {
			t.Errorf("sent %+v, want a tombstone of version 1", e)
		}
		to = append(to, e.Partner)
	}
	slices.Sort(to)
	if !slices.Equal(to, []string{"bravo", "charlie"}) {
		t.Errorf("tombstones to %q, want bravo and charlie", to)
	}
	want := &liaisonv1.Tombstone{RecordId: l.GetId(), OriginAgency: "alpha", Version: 1, DeleteTime: at}
	if got := records.TombstoneTo(liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD_TOMBSTONE, "bravo", l.GetId(), "alpha", 1, at); !proto.Equal(got.Payload, want) {
		t.Errorf("tombstone %v, want %v", got.Payload, want)
	}
}

// leadReplication stores bravo's leads on alpha, a withdrawn one for good.
func leadReplication() records.Replication[*liaisonv1.Lead] {
	return records.Replication[*liaisonv1.Lead]{
		Kind: federation.KindLead,
		Read: (*store.Tx).Lead, Insert: (*store.Tx).InsertLead, Overwrite: (*store.Tx).OverwriteLead, Replace: (*store.Tx).ReplaceLead,
		Ignore: func(cur, _ *liaisonv1.Lead) *federation.Outcome {
			if cur.GetStatus() == liaisonv1.LeadStatus_LEAD_STATUS_WITHDRAWN {
				return &federation.Outcome{Status: liaisonv1.ReceiptStatus_RECEIPT_STATUS_IGNORED, Code: "lead.withdrawn"}
			}
			return nil
		},
	}
}

func TestReplication_Apply(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	k := leadReplication()
	l := newLead("bravo", "v1")
	apply := func(l *liaisonv1.Lead, repair bool) federation.Outcome {
		t.Helper()
		var out federation.Outcome
		err := st.Write(ctx, func(tx *store.Tx) error {
			var err error
			out, err = k.Apply(tx, &liaisonv1.Envelope{Sender: "bravo", RecordId: l.GetId(), RecordVersion: l.GetVersion(), Repair: repair}, proto.Clone(l).(*liaisonv1.Lead))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	held := func() *liaisonv1.Lead {
		got, err := st.Lead(ctx, l.GetId())
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	version := func(v int64, title string, status liaisonv1.LeadStatus) *liaisonv1.Lead {
		c := proto.Clone(l).(*liaisonv1.Lead)
		c.Version, c.Title, c.Status = v, title, status
		return c
	}
	draft := liaisonv1.LeadStatus_LEAD_STATUS_DRAFT
	if o := apply(l, false); o != federation.Applied || held().GetTitle() != "v1" {
		t.Fatalf("new replica: %+v, held %v", o, held())
	}
	if o := apply(version(3, "v3", draft), false); o != federation.Applied || held().GetVersion() != 3 {
		t.Errorf("newer version: %+v, held v%d", o, held().GetVersion())
	}
	if o := apply(version(2, "v2", draft), false); o.Code != "lead.stale_version" || o.Status != liaisonv1.ReceiptStatus_RECEIPT_STATUS_IGNORED || held().GetVersion() != 3 {
		t.Errorf("older version: %+v, held v%d", o, held().GetVersion())
	}
	if o := apply(version(3, "v3 again", draft), false); o.Code != "lead.stale_version" || held().GetTitle() != "v3" {
		t.Errorf("same version: %+v, held %q", o, held().GetTitle())
	}
	if o := apply(version(2, "repaired", draft), true); o != federation.Applied || held().GetVersion() != 2 || held().GetTitle() != "repaired" {
		t.Errorf("repair: %+v, held v%d %q", o, held().GetVersion(), held().GetTitle())
	}
	if o := apply(version(4, "withdrawn", liaisonv1.LeadStatus_LEAD_STATUS_WITHDRAWN), false); o != federation.Applied {
		t.Errorf("withdrawal: %+v", o)
	}
	if o := apply(version(5, "back", draft), false); o.Code != "lead.withdrawn" || held().GetVersion() != 4 {
		t.Errorf("after withdrawal: %+v, held v%d", o, held().GetVersion())
	}
}

func TestPage(t *testing.T) {
	fp := "filters"
	p, err := records.NewPage("", 2, fp)
	if err != nil || p.After != "" || p.Size != 2 {
		t.Fatalf("first page %+v (%v)", p, err)
	}
	ls := []*liaisonv1.Lead{{Id: ids.New()}, {Id: ids.New()}, {Id: ids.New()}}
	page, next := records.Cut(p, ls)
	if len(page) != 2 || next == "" {
		t.Fatalf("cut %d with token %q, want 2 and a token", len(page), next)
	}
	p2, err := records.NewPage(next, 2, fp)
	if err != nil || p2.After != ls[1].GetId() {
		t.Errorf("next page after %q (%v), want %q", p2.After, err, ls[1].GetId())
	}
	if last, tok := records.Cut(p2, ls[2:]); len(last) != 1 || tok != "" {
		t.Errorf("last page %d with token %q, want 1 and none", len(last), tok)
	}
	_, err = records.NewPage(next, 2, "other filters")
	wantCode(t, err, errs.InvalidArgument)
	_, err = records.NewPage("garbage", 2, fp)
	wantCode(t, err, errs.InvalidArgument)
}

// Create is CreateOnce in a write of its own.
func TestCreate(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	r, err := records.NewRequest("/test.Service/Create", "req-1", &liaisonv1.Lead{Title: "a"})
	if err != nil {
		t.Fatal(err)
	}
	create := func() (*liaisonv1.Lead, error) {
		return records.Create(ctx, st, r, (*store.Tx).Lead, func(tx *store.Tx) (*liaisonv1.Lead, error) {
			l := newLead("alpha", "a")
			return l, tx.InsertLead(l)
		})
	}
	first, err := create()
	if err != nil {
		t.Fatal(err)
	}
	again, err := create()
	if err != nil || again.GetId() != first.GetId() || !proto.Equal(again, first) {
		t.Errorf("retry returned %v (%v), want %v", again, err, first)
	}
	_, err = records.Create(ctx, st, r, (*store.Tx).Lead, func(*store.Tx) (*liaisonv1.Lead, error) { return nil, errs.New(errs.Aborted, "no") })
	if err != nil {
		t.Errorf("a retry ran create: %v", err)
	}
}

func TestCheckPartners(t *testing.T) {
	partners := map[string]bool{"bravo": true, "charlie": true}
	if err := records.CheckPartners(partners, []string{"bravo", "charlie"}); err != nil {
		t.Error(err)
	}
	err := records.CheckPartners(partners, []string{"bravo", "delta", "alpha"})
	var e *errs.Error
	if !errors.As(err, &e) || e.Code != errs.InvalidArgument || len(e.FieldViolations) != 2 ||
		e.FieldViolations[0].Field != "partners[1]" || e.FieldViolations[1].Field != "partners[2]" {
		t.Errorf("got %+v, want INVALID_ARGUMENT at partners[1] and partners[2]", err)
	}
}

func TestCheckUpdate(t *testing.T) {
	req := &liaisonv1.UpdateCaseRequest{}
	for _, tc := range []struct {
		patch *liaisonv1.Case
		paths []string
		want  []string
	}{
		{&liaisonv1.Case{Id: ids.New(), Etag: "e"}, []string{"title"}, nil},
		{nil, []string{"title"}, []string{"case"}},
		{&liaisonv1.Case{Id: "case-1"}, nil, []string{"case.id", "case.etag", "update_mask"}},
		{&liaisonv1.Case{Id: ids.New(), Etag: "e"}, []string{"shared_with"}, []string{"update_mask.paths[0]"}},
	} {
		var got []string
		for _, v := range records.CheckUpdate("case", tc.patch, req, tc.paths) {
			got = append(got, v.Field)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("CheckUpdate(%v, %q) = %q, want %q", tc.patch, tc.paths, got, tc.want)
		}
	}
}

func TestBorn(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	m := &liaisonv1.Manifest{Id: "sent by the caller", OriginAgency: "bravo", Version: 7, LegalBasis: "kept"}
	records.Born(m, "alpha", at)
	if !ids.Valid(m.GetId()) || m.GetOriginAgency() != "alpha" || m.GetVersion() != 1 || m.GetLegalBasis() != "kept" ||
		!m.GetCreateTime().AsTime().Equal(at) || !m.GetUpdateTime().AsTime().Equal(at) {
		t.Errorf("born %v", m)
	}
}

// Every updatable field a rule declares is a field of the record the
// request carries: Merge sets fields by those names, so a misspelt rule
// must fail here, not in a caller's update.
func TestUpdatable_NamesFieldsOfTheRecord(t *testing.T) {
	for _, req := range []proto.Message{&liaisonv1.UpdateLeadRequest{}, &liaisonv1.UpdateCaseRequest{}, &liaisonv1.UpdateManifestRequest{}} {
		d := req.ProtoReflect().Descriptor()
		var record protoreflect.MessageDescriptor
		for i := range d.Fields().Len() {
			if f := d.Fields().Get(i); f.Message() != nil && f.Name() != "update_mask" {
				record = f.Message()
			}
		}
		if record == nil {
			t.Fatalf("%s carries no record", d.FullName())
		}
		for _, p := range records.Updatable(d) {
			if record.Fields().ByName(protoreflect.Name(p)) == nil {
				t.Errorf("%s: updatable %q is not a field of %s", d.FullName(), p, record.FullName())
			}
		}
	}
}
