package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// Scenario is one measured workload. Setup runs untimed before the warm-up
// (it may create data) and returns the call that is measured.
type Scenario struct {
	// Name is what -only selects (case-insensitive); several runs may
	// share a name (the two echo runs).
	Name string
	// Label names the run in the output; default Name.
	Label string
	// Echo marks a run against the bare grpc-go server: the ceiling.
	Echo bool
	// Target, if > 0, is the share of the in-process echo ceiling the
	// scenario is expected to reach, and GhzTarget the share of the ghz
	// echo ceiling with ghz as the load generator (PASS/MISS in the
	// output; issue 17's targets).
	Target, GhzTarget float64
	// Concurrency, if > 0, replaces -concurrency for this scenario.
	Concurrency int
	// P99Target, if > 0, is the p99 latency the scenario must stay under.
	P99Target time.Duration
	// Persons marks a scenario that needs the populated persons (-persons).
	Persons bool
	// Mixed marks the mixed workload (mixed.go): several call kinds at a
	// fixed offered rate (-mixed-rate), not Setup's one call flat out.
	Mixed bool
	Setup func(ctx context.Context, e *Env) (Call, error)
}

// concurrency is the scenario's concurrency given -concurrency.
func (s Scenario) concurrency(f flags) int {
	if s.Concurrency > 0 {
		return s.Concurrency
	}
	return f.concurrency
}

func (s Scenario) label() string {
	if s.Label != "" {
		return s.Label
	}
	return s.Name
}

// scenarios are run in this order. To add one, append it here (a flat-out
// one before the closing echo run, so that the ceiling is measured around
// it).
func scenarios() []Scenario {
	return []Scenario{
		{Name: "Echo", Label: "Echo (start)", Echo: true, Setup: setupEcho},
		{Name: "GetLead", Target: 0.30, GhzTarget: 0.40, Setup: setupGetLead},
		{Name: "CreateLead", Target: 0.15, GhzTarget: 0.20, Setup: setupCreateLead},
		{Name: "ListLeads", Setup: setupListLeads},
		{Name: "GetLead8", Label: "GetLead (c=8)", Concurrency: searchConcurrency, Setup: setupGetLead},
		{Name: "SearchName", Label: "SearchPersons name (c=8)", Concurrency: searchConcurrency, P99Target: 25 * time.Millisecond, Persons: true, Setup: setupSearchName},
		{Name: "SearchPhone", Label: "SearchPersons phone (c=8)", Concurrency: searchConcurrency, P99Target: 5 * time.Millisecond, Persons: true, Setup: setupSearchPhone},
		{Name: "Echo", Label: "Echo (end)", Echo: true, Setup: setupEcho},
		// At a fixed offered rate, not against the ceiling: after it, so
		// that the echo runs bracket the flat-out scenarios as before.
		{Name: "Mixed", Label: "Mixed workload", Persons: true, Mixed: true},
	}
}

// Env is what scenarios run against: the node, the bare echo server, and
// client connections to both (the same number for every scenario; worker w
// uses connection w mod len).
type Env struct {
	EchoConns   []*grpc.ClientConn
	Concurrency int
	// SeedLeads is how many leads LeadIDs creates before the first
	// scenario that needs them.
	SeedLeads int
	// SearchNames and SearchPhones are of persons populated before the
	// node started (-persons).
	SearchNames, SearchPhones []string

	// dial connects to the node as a role of the own agency.
	dial func(role string) ([]*grpc.ClientConn, error)

	mu    sync.Mutex
	conns map[string][]*grpc.ClientConn
	seed  struct {
		once sync.Once
		ids  []string
		err  error
	}
}

// Conns are the connections to the node as role ("analyst", "supervisor",
// …), dialled on first use.
func (e *Env) Conns(role string) ([]*grpc.ClientConn, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c, ok := e.conns[role]; ok {
		return c, nil
	}
	c, err := e.dial(role)
	if err != nil {
		return nil, err
	}
	e.conns[role] = c
	return c, nil
}

// Close closes every connection Env dialled.
func (e *Env) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, cs := range e.conns {
		for _, c := range cs {
			c.Close()
		}
	}
	e.conns = map[string][]*grpc.ClientConn{}
}

// leadClients is one LeadService client per analyst connection.
func (e *Env) leadClients() ([]liaisonv1.LeadServiceClient, error) {
	conns, err := e.Conns("analyst")
	if err != nil {
		return nil, err
	}
	out := make([]liaisonv1.LeadServiceClient, len(conns))
	for i, c := range conns {
		out[i] = liaisonv1.NewLeadServiceClient(c)
	}
	return out, nil
}

// LeadIDs are the ids of SeedLeads leads created (concurrently, untimed)
// the first time a scenario asks for them.
func (e *Env) LeadIDs(ctx context.Context) ([]string, error) {
	e.seed.once.Do(func() {
		clients, err := e.leadClients()
		if err != nil {
			e.seed.err = err
			return
		}
		ids := make([]string, e.SeedLeads)
		e.seed.err = Do(ctx, e.SeedLeads, e.Concurrency, func(ctx context.Context, i int) error {
			resp, err := clients[i%len(clients)].CreateLead(ctx, &liaisonv1.CreateLeadRequest{
				Lead: benchLead(fmt.Sprintf("seed %d", i)), RequestId: uuid.Must(uuid.NewV7()).String(),
			})
			if err != nil {
				return err
			}
			ids[i] = resp.GetLead().GetId()
			return nil
		})
		if e.seed.err != nil {
			e.seed.err = fmt.Errorf("create %d leads: %w", e.SeedLeads, e.seed.err)
		}
		e.seed.ids = ids
	})
	return e.seed.ids, e.seed.err
}

// ---- the scenarios ---------------------------------------------------------

// setupEcho calls the standard health Check on the bare server: TLS, HTTP/2,
// protobuf and grpc-go's own dispatch, nothing else.
func setupEcho(_ context.Context, e *Env) (Call, error) {
	clients := make([]healthpb.HealthClient, len(e.EchoConns))
	for i, c := range e.EchoConns {
		clients[i] = healthpb.NewHealthClient(c)
	}
	req := &healthpb.HealthCheckRequest{}
	return func(ctx context.Context, w int) error {
		resp, err := clients[w%len(clients)].Check(ctx, req)
		if err == nil && resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			err = fmt.Errorf("echo: status %v", resp.GetStatus())
		}
		return err
	}, nil
}

// setupGetLead reads random leads among the seeded ones.
func setupGetLead(ctx context.Context, e *Env) (Call, error) {
	ids, err := e.LeadIDs(ctx)
	if err != nil {
		return nil, err
	}
	clients, err := e.leadClients()
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, w int) error {
		id := ids[rand.IntN(len(ids))]
		resp, err := clients[w%len(clients)].GetLead(ctx, &liaisonv1.GetLeadRequest{Id: id})
		if err == nil && resp.GetLead().GetId() != id {
			err = fmt.Errorf("GetLead %s returned lead %q", id, resp.GetLead().GetId())
		}
		return err
	}, nil
}

// setupCreateLead creates a new lead per call, each with a fresh request_id.
func setupCreateLead(_ context.Context, e *Env) (Call, error) {
	clients, err := e.leadClients()
	if err != nil {
		return nil, err
	}
	var n atomic.Int64
	return func(ctx context.Context, w int) error {
		req := &liaisonv1.CreateLeadRequest{
			Lead:      benchLead(fmt.Sprintf("bench %d", n.Add(1))),
			RequestId: uuid.Must(uuid.NewV7()).String(),
		}
		resp, err := clients[w%len(clients)].CreateLead(ctx, req)
		if err == nil && resp.GetLead().GetId() == "" {
			err = fmt.Errorf("CreateLead returned a lead without id")
		}
		return err
	}, nil
}

// setupListLeads lists the newest page of 50 leads, no filters.
func setupListLeads(ctx context.Context, e *Env) (Call, error) {
	if _, err := e.LeadIDs(ctx); err != nil { // make sure there is a full page
		return nil, err
	}
	clients, err := e.leadClients()
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, w int) error {
		resp, err := clients[w%len(clients)].ListLeads(ctx, &liaisonv1.ListLeadsRequest{PageSize: 50})
		if err == nil && len(resp.GetLeads()) != 50 {
			err = fmt.Errorf("ListLeads returned %d leads, want 50", len(resp.GetLeads()))
		}
		return err
	}, nil
}

// benchSummary is a realistic narrative of about 300 bytes.
var benchSummary = strings.TrimSpace(`
Recruiter operating from Kupang advertises boat crossings on messaging apps,
charging 4,500 USD per person, paid in cash to a courier in Jakarta. Departures
are announced at short notice; passengers are collected at night from two
guesthouses near the harbour. Informant reports a forged-passport supplier.`)

// benchLead is a lead of realistic size: title, ~300-byte summary, one
// subject with a name, a phone number and a passport.
func benchLead(title string) *liaisonv1.Lead {
	return &liaisonv1.Lead{
		Title:      "Kupang crossings — " + title,
		Summary:    benchSummary,
		CrimeAreas: []liaisonv1.CrimeArea{liaisonv1.CrimeArea_CRIME_AREA_MIGRANT_SMUGGLING},
		Subjects: []*liaisonv1.Person{{
			Names:         []*liaisonv1.PersonName{{FamilyName: "Wongsakul", GivenNames: "Somchai"}},
			Nationalities: []string{"THA"},
			Role:          liaisonv1.NetworkRole_NETWORK_ROLE_RECRUITER,
			PhoneNumbers:  []*liaisonv1.PhoneNumber{{Number: "+66812345678"}},
			Documents: []*liaisonv1.IdentityDocument{{
				Type: liaisonv1.DocumentType_DOCUMENT_TYPE_PASSPORT, Number: "AA1234567", IssuingCountry: "THA",
				Expiry: &liaisonv1.Date{Year: 2031, Month: 5, Day: 17},
			}},
		}},
		Evaluation: &liaisonv1.Evaluation{
			SourceReliability:   liaisonv1.SourceReliability_SOURCE_RELIABILITY_B,
			InformationAccuracy: liaisonv1.InformationAccuracy_INFORMATION_ACCURACY_2,
		},
		Handling: &liaisonv1.Handling{Code: liaisonv1.HandlingCode_HANDLING_CODE_H0},
	}
}
