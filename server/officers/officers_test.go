package officers_test

import (
	"bytes"
	"regexp"
	"testing"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/officers"
)

func TestPseudonyms_Of(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{7}, 32)
	p := officers.New(key, "alpha", "alpha.liaison.test")
	alice := "spiffe://alpha.liaison.test/analyst/alice"
	form := regexp.MustCompile(`^alpha/analyst/[0-9a-f]{16}$`)
	a1, a2 := p.Of("bravo", alice), p.Of("bravo", alice)
	if !form.MatchString(a1) || a1 != a2 {
		t.Errorf("alice for bravo: %q, %q", a1, a2)
	}
	if p.Of("charlie", alice) == a1 {
		t.Error("two partners get the same pseudonym of alice: they could match them")
	}
	if p.Of("bravo", "spiffe://alpha.liaison.test/analyst/bob") == a1 {
		t.Error("alice and bob share a pseudonym")
	}
	if officers.New(bytes.Repeat([]byte{8}, 32), "alpha", "alpha.liaison.test").Of("bravo", alice) == a1 {
		t.Error("another key gives the same pseudonym")
	}
	for in, want := range map[string]string{
		"spiffe://alpha.liaison.test/node":          "alpha/node",
		"bravo/analyst/0123456789abcdef":            "bravo/analyst/0123456789abcdef", // a partner's, already a pseudonym
		"spiffe://bravo.liaison.test/analyst/alice": "spiffe://bravo.liaison.test/analyst/alice",
		"": "",
	} {
		if got := p.Of("bravo", in); got != want {
			t.Errorf("Of(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPseudonyms_OutgoingCopies(t *testing.T) {
	t.Parallel()
	p := officers.New(bytes.Repeat([]byte{7}, 32), "alpha", "alpha.liaison.test")
	e := &liaisonv1.CaseEntry{Author: "spiffe://alpha.liaison.test/analyst/alice", Text: "x"}
	out := p.Outgoing("bravo", e).(*liaisonv1.CaseEntry)
	if e.GetAuthor() != "spiffe://alpha.liaison.test/analyst/alice" {
		t.Errorf("the local entry was changed: %q", e.GetAuthor())
	}
	if out.GetAuthor() != p.Of("bravo", e.GetAuthor()) || out.GetText() != "x" {
		t.Errorf("sent: %v", out)
	}
	r := p.Outgoing("bravo", &liaisonv1.PermissionRequest{RequestedBy: "spiffe://alpha.liaison.test/analyst/alice", DecidedBy: "spiffe://alpha.liaison.test/supervisor/sam"}).(*liaisonv1.PermissionRequest)
	if r.GetRequestedBy() == "" || r.GetDecidedBy() == "" || bytes.Contains([]byte(r.String()), []byte("alice")) || bytes.Contains([]byte(r.String()), []byte("sam")) {
		t.Errorf("permission request sent: %v", r)
	}
	a := p.Outgoing("bravo", &liaisonv1.ManifestAction{Principal: "spiffe://alpha.liaison.test/supervisor/sam"}).(*liaisonv1.ManifestAction)
	if a.GetPrincipal() != p.Of("bravo", "spiffe://alpha.liaison.test/supervisor/sam") || bytes.Contains([]byte(a.String()), []byte("sam")) {
		t.Errorf("manifest action sent: %v", a)
	}
	f := &liaisonv1.MatchFollowUp{RequestedBy: "spiffe://alpha.liaison.test/analyst/alice", LocalLeadId: "0190c7e2-0000-7000-8000-000000000001",
		Records: []*liaisonv1.MatchedRecord{{Kind: "lead", Id: "x"}}}
	fo := p.Outgoing("bravo", f).(*liaisonv1.MatchFollowUp)
	if fo.GetRequestedBy() != p.Of("bravo", f.GetRequestedBy()) || fo.GetLocalLeadId() != "" || len(fo.GetRecords()) != 0 || f.GetLocalLeadId() == "" {
		t.Errorf("match follow-up sent: %v (local copy %v)", fo, f)
	}
}
