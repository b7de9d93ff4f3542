package interceptors

import (
	"strings"
	"testing"

	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/identity"
)

func TestRateLimiter_Allow(t *testing.T) {
	t.Parallel()
	// Almost no refill: only the bursts count. Own principals and partner
	// nodes 2 each, a partner agency's people 3 together.
	l := newLimiter(newLimit(0.001, 2), newLimit(0.001, 3))
	id := func(agency string, role identity.Role, name string) identity.Identity {
		i := identity.Identity{Agency: agency, Role: role, Name: name, Partner: agency != "alpha", ID: "spiffe://" + agency + ".liaison.test/" + string(role)}
		if name != "" {
			i.ID += "/" + name
		}
		return i
	}
	// In order: each case sees the buckets the cases before it left.
	tests := []struct {
		name      string
		id        identity.Identity
		ask, want int
	}{
		{"PartnerAnalyst", id("bravo", identity.Analyst, "bob"), 2, 2},
		{"PartnerSupervisorSharesTheBucket", id("bravo", identity.Supervisor, "sue"), 2, 1},
		{"PartnerServiceFindsItEmpty", id("bravo", identity.Service, "etl"), 1, 0},
		{"PartnerNodeHasItsOwn", id("bravo", identity.Node, ""), 3, 2},
		{"OtherPartnerHasItsOwn", id("charlie", identity.Analyst, "carl"), 4, 3},
		{"OwnAnalyst", id("alpha", identity.Analyst, "alice"), 3, 2},
		{"OwnSupervisor", id("alpha", identity.Supervisor, "sam"), 3, 2},
	}
	for _, tc := range tests {
		allowed := 0
		for range tc.ask {
			err := l.allow(tc.id)
			if err == nil {
				allowed++
			} else if errs.CodeName(err) != "RESOURCE_EXHAUSTED" {
				t.Fatalf("%s: refused with %v, want RESOURCE_EXHAUSTED", tc.name, err)
			}
		}
		if allowed != tc.want {
			t.Errorf("%s: %d of %d calls allowed, want %d", tc.name, allowed, tc.ask, tc.want)
		}
	}
}

func TestRateLimiter_NoRateMeansNoLimit(t *testing.T) {
	t.Parallel()
	l := newLimiter(newLimit(0, 1), newLimit(-1, 1))
	for _, id := range []identity.Identity{
		{Agency: "alpha", Role: identity.Analyst, ID: "spiffe://alpha.liaison.test/analyst/alice"},
		{Agency: "bravo", Role: identity.Analyst, Partner: true, ID: "spiffe://bravo.liaison.test/analyst/bob"},
	} {
		for i := range 100 {
			if err := l.allow(id); err != nil {
				t.Fatalf("%s call %d: %v; a limit of 0/s is no limit", id.ID, i+1, err)
			}
		}
	}
}

func TestRateLimiter_RefusalSaysWhose(t *testing.T) {
	t.Parallel()
	l := newLimiter(newLimit(0.001, 1), newLimit(0.001, 1))
	for _, tc := range []struct {
		id   identity.Identity
		want string
	}{
		{identity.Identity{Agency: "alpha", Role: identity.Analyst, ID: "spiffe://alpha.liaison.test/analyst/alice"}, "spiffe://alpha.liaison.test/analyst/alice exceeds"},
		{identity.Identity{Agency: "bravo", Role: identity.Analyst, Partner: true, ID: "spiffe://bravo.liaison.test/analyst/bob"}, "the principals of partner agency bravo together exceed"},
	} {
		if err := l.allow(tc.id); err != nil {
			t.Fatalf("%s: first call refused: %v", tc.id.ID, err)
		}
		err := l.allow(tc.id)
		if errs.CodeName(err) != "RESOURCE_EXHAUSTED" || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: second call: %v; want RESOURCE_EXHAUSTED naming %q", tc.id.ID, err, tc.want)
		}
	}
}
