package identity_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/liaison-exchange/liaison/server/identity"
)

func TestParse(t *testing.T) {
	t.Parallel()
	const td = "alpha.liaison.test"
	name64 := "a" + strings.Repeat("b", 63)
	tests := []struct {
		name     string
		id       string
		wantRole identity.Role
		wantName string
		wantErr  string // substring; "" means the ID is accepted
	}{
		{"Analyst", "spiffe://alpha.liaison.test/analyst/alice", identity.Analyst, "alice", ""},
		{"Supervisor", "spiffe://alpha.liaison.test/supervisor/sam", identity.Supervisor, "sam", ""},
		{"Auditor", "spiffe://alpha.liaison.test/auditor/aud", identity.Auditor, "aud", ""},
		{"Service", "spiffe://alpha.liaison.test/service/cms", identity.Service, "cms", ""},
		{"Node", "spiffe://alpha.liaison.test/node", identity.Node, "", ""},
		{"NameWithDotsDashesUnderscores", "spiffe://alpha.liaison.test/analyst/j.doe-2_x", identity.Analyst, "j.doe-2_x", ""},
		{"NameOf64Chars", "spiffe://alpha.liaison.test/analyst/" + name64, identity.Analyst, name64, ""},

		{"NotSPIFFE", "https://alpha.liaison.test/analyst/alice", "", "", "not a SPIFFE ID"},
		{"OtherTrustDomain", "spiffe://bravo.liaison.test/analyst/alice", "", "", "trust domain"},
		{"TrustDomainSuffix", "spiffe://evil.alpha.liaison.test/analyst/alice", "", "", "trust domain"},
		{"TrustDomainUpperCase", "spiffe://ALPHA.liaison.test/analyst/alice", "", "", "trust domain"},
		{"EmptyTrustDomain", "spiffe:///analyst/alice", "", "", "trust domain"},
		{"Opaque", "spiffe:alpha.liaison.test/analyst/alice", "", "", "trust domain"},
		{"Port", "spiffe://alpha.liaison.test:443/analyst/alice", "", "", "trust domain"},
		{"UserInfo", "spiffe://bob@alpha.liaison.test/analyst/alice", "", "", "not a plain SPIFFE ID"},
		{"Query", "spiffe://alpha.liaison.test/analyst/alice?role=supervisor", "", "", "not a plain SPIFFE ID"},
		{"Fragment", "spiffe://alpha.liaison.test/analyst/alice#x", "", "", "not a plain SPIFFE ID"},
		{"NoPath", "spiffe://alpha.liaison.test", "", "", "path must be"},
		{"RootPath", "spiffe://alpha.liaison.test/", "", "", "path must be"},
		{"RoleWithoutName", "spiffe://alpha.liaison.test/analyst", "", "", "path must be"},
		{"RoleWithEmptyName", "spiffe://alpha.liaison.test/analyst/", "", "", "invalid principal name"},
		{"TrailingSlash", "spiffe://alpha.liaison.test/analyst/alice/", "", "", "path must be"},
		{"ThreeSegments", "spiffe://alpha.liaison.test/analyst/alice/x", "", "", "path must be"},
		{"DoubleSlash", "spiffe://alpha.liaison.test//node", "", "", "unknown role"},
		{"NodeWithName", "spiffe://alpha.liaison.test/node/n1", "", "", "unknown role"},
		{"NodeTrailingSlash", "spiffe://alpha.liaison.test/node/", "", "", "unknown role"},
		{"UnknownRole", "spiffe://alpha.liaison.test/admin/root", "", "", "unknown role"},
		{"RoleUpperCase", "spiffe://alpha.liaison.test/Analyst/alice", "", "", "unknown role"},
		{"NodeUpperCase", "spiffe://alpha.liaison.test/NODE", "", "", "path must be"},
		{"NameStartsWithDot", "spiffe://alpha.liaison.test/analyst/.alice", "", "", "invalid principal name"},
		{"NameDotDot", "spiffe://alpha.liaison.test/analyst/..", "", "", "invalid principal name"},
		{"NameStartsWithDash", "spiffe://alpha.liaison.test/analyst/-alice", "", "", "invalid principal name"},
		{"NameOf65Chars", "spiffe://alpha.liaison.test/analyst/" + name64 + "c", "", "", "invalid principal name"},
		{"NameWithSpace", "spiffe://alpha.liaison.test/analyst/al%20ice", "", "", "invalid principal name"},
		{"NameNotASCII", "spiffe://alpha.liaison.test/analyst/al%C3%AFce", "", "", "invalid principal name"},

		// The SPIFFE ID spec forbids percent-encoding in the path. Parse
		// decodes it, so the principal recorded as the caller (the ID as
		// written) is not the one its role and name were read from, and
		// one principal can appear under several IDs (audit filters and
		// per-principal rate limits miss it).
		{"PercentEncodedSlash", "spiffe://alpha.liaison.test/analyst%2Falice", "", "", "SPIFFE ID"},
		{"PercentEncodedLetter", "spiffe://alpha.liaison.test/analyst/al%69ce", "", "", "SPIFFE ID"},
		{"PercentEncodedNode", "spiffe://alpha.liaison.test/%6Eode", "", "", "SPIFFE ID"},
		// An empty query ("?") is kept in the ID as written.
		{"EmptyQuery", "spiffe://alpha.liaison.test/analyst/alice?", "", "", "SPIFFE ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u, err := url.Parse(tt.id)
			if err != nil {
				t.Fatalf("url.Parse(%q): %v", tt.id, err)
			}
			role, name, err := identity.Parse(u, td)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("Parse(%q) = %q, %q; want an error containing %q", tt.id, role, name, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Parse(%q) error %q, want it to contain %q", tt.id, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.id, err)
			}
			if role != tt.wantRole || name != tt.wantName {
				t.Errorf("Parse(%q) = %q, %q; want %q, %q", tt.id, role, name, tt.wantRole, tt.wantName)
			}
		})
	}
}

// TestParse_AcceptedIDIsCanonical: whatever Parse accepts must read back
// as exactly spiffe://<trust domain>/<role>[/<name>], so the ID the audit
// log records for a caller is the one its role and name come from.
func TestParse_AcceptedIDIsCanonical(t *testing.T) {
	t.Parallel()
	const td = "alpha.liaison.test"
	for _, id := range []string{
		"spiffe://alpha.liaison.test/analyst/alice",
		"spiffe://alpha.liaison.test/node",
		"spiffe://alpha.liaison.test/analyst%2Falice",
		"spiffe://alpha.liaison.test/analyst/al%69ce",
		"spiffe://alpha.liaison.test/analyst/alice?",
	} {
		u, err := url.Parse(id)
		if err != nil {
			t.Fatal(err)
		}
		role, name, err := identity.Parse(u, td)
		if err != nil {
			continue
		}
		want := "spiffe://" + td + "/" + string(role)
		if name != "" {
			want += "/" + name
		}
		if u.String() != want {
			t.Errorf("Parse accepted %q as %s/%s, but the ID callers are recorded under is %q, not %q", id, role, name, u.String(), want)
		}
	}
}

func TestRoles(t *testing.T) {
	t.Parallel()
	want := []identity.Role{identity.Analyst, identity.Supervisor, identity.Auditor, identity.Service, identity.Node}
	if len(identity.Roles) != len(want) {
		t.Fatalf("Roles = %v, want %v", identity.Roles, want)
	}
	for i := range want {
		if identity.Roles[i] != want[i] {
			t.Errorf("Roles[%d] = %q, want %q", i, identity.Roles[i], want[i])
		}
	}
}

func TestContext(t *testing.T) {
	t.Parallel()
	if _, ok := identity.FromContext(context.Background()); ok {
		t.Error("FromContext found an identity in an empty context")
	}
	id := identity.Identity{Agency: "alpha", Role: identity.Analyst, Name: "alice", ID: "spiffe://alpha.liaison.test/analyst/alice"}
	got, ok := identity.FromContext(identity.NewContext(context.Background(), id))
	if !ok || got != id {
		t.Errorf("FromContext = %+v, %v; want %+v", got, ok, id)
	}
	if id.String() != id.ID {
		t.Errorf("String() = %q, want the SPIFFE ID", id.String())
	}
}
