package e2e

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/liaison-exchange/liaison/certs"
	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/config"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/nodetest"
	"github.com/liaison-exchange/liaison/server/store"
)

// The flood: a partner's analyst (a certificate of bravo, which alpha
// trusts) calls alpha's GetLead — always refused — floodRate times a second
// for floodFor, while alpha's own analyst reads a lead.
const (
	floodRate    = 400
	floodFor     = 4 * time.Second
	floodRounds  = 4
	floodWorkers = 4
	// Partner limits of the flood test: what alpha grants all of bravo's
	// principals together (its node excepted).
	floodPartnerRate  = 10
	floodPartnerBurst = 20
	// floodRefusalsPerWrite is the fewest refusals per audit row the
	// flooding principal may cost (coalescing gives about one row a second
	// per refusal code, whatever the rate: here about 4 a second for 400
	// refusals, as each round of the flood starts afresh).
	floodRefusalsPerWrite = 50
)

// floodLimits gives a node the partner limits of the flood tests (nodetest
// sets every limit high).
func floodLimits(c *config.Config, perSecond float64, burst int) {
	c.Limits.PartnerRatePerSecond = perSecond
	c.Limits.PartnerBurst = burst
}

// TestFlood_PartnerRefusalsAreCheap: a partner analyst's flood of refused
// calls neither slows the own analyst's reads (p99 within 2× of the p99
// without the flood) nor costs an audit write each; it is refused with
// RESOURCE_EXHAUSTED once over the partner's limit, and the audit log still
// accounts for every refusal (first events plus coalesced counts).
func TestFlood_PartnerRefusalsAreCheap(t *testing.T) {
	pki := nodetest.NewPKI(t, "alpha", "bravo")
	cfg := pki.Config("alpha", t.TempDir(), "bravo")
	// The production default: every commit fsynced, so an audit write per
	// refusal costs what it would in service.
	cfg.Database.Synchronous = "full"
	floodLimits(cfg, floodPartnerRate, floodPartnerBurst)
	n := nodetest.Start(t, pki, cfg, nil)
	ctx := context.Background()

	own := liaisonv1.NewLeadServiceClient(n.Conn(t, "analyst"))
	created, err := own.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: newLead("flood target")})
	if err != nil {
		t.Fatal(err)
	}
	get := &liaisonv1.GetLeadRequest{Id: created.GetLead().GetId()}
	flooder := liaisonv1.NewLeadServiceClient(n.ConnAs(t, "bravo", "analyst"))
	floodPrincipal := certs.PrincipalID("bravo", "analyst", analystName(t))

	// reads calls the own GetLead back to back until stop closes or d has
	// passed, and returns each call's latency.
	reads := func(d time.Duration, stop <-chan struct{}) []time.Duration {
		var out []time.Duration
		end := time.Now().Add(d)
		for len(out) < 20000 && time.Now().Before(end) {
			select {
			case <-stop:
				return out
			default:
			}
			start := time.Now()
			if _, err := own.GetLead(ctx, get); err != nil {
				t.Errorf("own GetLead: %v", err)
				return out
			}
			out = append(out, time.Since(start))
		}
		return out
	}
	reads(300*time.Millisecond, nil) // warm up connections and caches

	// The flood, paced: floodWorkers callers, each at its share of the rate,
	// bounded in count and time. It comes in floodRounds rounds, each after
	// as long without it, so that whatever else the machine does weighs on
	// the reads with and without the flood alike.
	var byCode sync.Map // codes.Code → *atomic.Int64
	count := func(c codes.Code) *atomic.Int64 {
		v, _ := byCode.LoadOrStore(c, new(atomic.Int64))
		return v.(*atomic.Int64)
	}
	round := floodFor / floodRounds
	perWorker := int(floodRate*round/time.Second) / floodWorkers
	interval := time.Second * floodWorkers / floodRate
	var quiet, flooded []time.Duration
	var floodTook time.Duration
	var floodStart, floodEnd time.Time
	for range floodRounds {
		quiet = append(quiet, reads(round, nil)...)
		stop := make(chan struct{})
		start := time.Now()
		var wg sync.WaitGroup
		for w := range floodWorkers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				next := start.Add(time.Duration(w) * interval / floodWorkers)
				for i := 0; i < perWorker && time.Since(start) < round+time.Second; i++ {
					time.Sleep(time.Until(next))
					next = next.Add(interval)
					cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
					_, err := flooder.GetLead(cctx, get)
					cancel()
					count(status.Code(err)).Add(1)
				}
			}()
		}
		go func() { wg.Wait(); close(stop) }()
		flooded = append(flooded, reads(round+2*time.Second, stop)...)
		<-stop
		floodTook += time.Since(start)
		if floodStart.IsZero() {
			floodStart = start
		}
		floodEnd = time.Now()
	}
	quiet = append(quiet, reads(round, nil)...)

	got := map[codes.Code]int64{}
	byCode.Range(func(k, v any) bool { got[k.(codes.Code)] = v.(*atomic.Int64).Load(); return true })
	refused := got[codes.PermissionDenied] + got[codes.ResourceExhausted]
	t.Logf("flood: %d calls in %d rounds, %v in all (%.0f/s): %v", refused, floodRounds, floodTook.Round(time.Millisecond), float64(refused)/floodTook.Seconds(), got)
	if want := int64(perWorker * floodWorkers * floodRounds); refused != want || int64(len(got)) > 2 {
		t.Errorf("flood calls: %v, want %d calls, each PERMISSION_DENIED or RESOURCE_EXHAUSTED", got, want)
	}
	// Over the partner's limit the refusal is RESOURCE_EXHAUSTED: only
	// what the bucket holds (its burst, and what it gained since the flood
	// began) reaches the authorization check.
	if maxDenied := int64(floodPartnerBurst + floodPartnerRate*floodEnd.Sub(floodStart).Seconds() + 1); got[codes.PermissionDenied] > maxDenied {
		t.Errorf("%d PERMISSION_DENIED, want at most %d (burst %d + %d/s): the rest must be RESOURCE_EXHAUSTED",
			got[codes.PermissionDenied], maxDenied, floodPartnerBurst, floodPartnerRate)
	}

	// The own analyst's reads are not slowed by the flood.
	pq, pf := p99(quiet), p99(flooded)
	t.Logf("own GetLead p99: %v without the flood (%d calls), %v during it (%d calls)", pq, len(quiet), pf, len(flooded))
	if pf > 2*pq {
		t.Errorf("own GetLead p99 %v during the flood, more than twice %v without it", pf, pq)
	}

	// Every refusal is in the audit log: events written at once count one,
	// coalesced events the number they say; and the flood cost at most one
	// audit write per floodRefusalsPerWrite refusals.
	var rows []floodRow
	nodetest.Eventually(t, 5*time.Second, func() error {
		rows = floodAudit(t, n.Store, floodPrincipal)
		if c := floodCounted(rows); c != refused {
			return fmt.Errorf("audit log accounts for %d refusals of %s, want %d", c, floodPrincipal, refused)
		}
		return nil
	})
	t.Logf("audit: %d events for %d refusals (%.0f refusals per write)", len(rows), refused, float64(refused)/float64(max(len(rows), 1)))
	if int64(len(rows))*floodRefusalsPerWrite > refused {
		t.Errorf("audit: %d events for %d refusals, want at most one per %d", len(rows), refused, floodRefusalsPerWrite)
	}
	for _, code := range []codes.Code{codes.PermissionDenied, codes.ResourceExhausted} {
		outcome := errs.CodeName(status.Error(code, ""))
		if !slices.ContainsFunc(rows, func(r floodRow) bool { return r.outcome == outcome }) {
			t.Errorf("audit: no event with outcome %v", code)
		}
	}
	v, err := n.Store.VerifyAudit(ctx, n.AuditLog.VerifyOptions())
	if err != nil || !v.OK {
		t.Errorf("audit chain after the flood: %+v %v", v, err)
	}
}

// TestFlood_PartnerPrincipalsShareOneBucket: every principal of a partner
// agency draws from one bucket, so a partner cannot multiply its rate by
// issuing more certificates; its node (the federation channel) does not
// draw from it, nor do the own agency's principals. The limit is checked
// before authorization: over it, even a call the principal may not make is
// RESOURCE_EXHAUSTED.
func TestFlood_PartnerPrincipalsShareOneBucket(t *testing.T) {
	t.Parallel()
	const burst = 5
	pki := nodetest.NewPKI(t, "alpha", "bravo")
	cfg := pki.Config("alpha", t.TempDir(), "bravo")
	floodLimits(cfg, 0.1, burst) // one token every 10 s: none comes back during the test
	n := nodetest.Start(t, pki, cfg, nil)
	ctx := context.Background()
	// Health is the own agency's only: a partner's call is admitted (or
	// not) by the limiter first, then refused by authorization.
	conns := map[string]healthpb.HealthClient{}
	health := func(agency, role string) error {
		c, ok := conns[agency+"/"+role]
		if !ok {
			c = healthpb.NewHealthClient(n.ConnAs(t, agency, role))
			conns[agency+"/"+role] = c
		}
		_, err := c.Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
	for i := range burst {
		if err := health("bravo", "analyst"); status.Code(err) != codes.PermissionDenied {
			t.Fatalf("bravo analyst's health check %d of a burst of %d: %v, want PERMISSION_DENIED (admitted, then not authorized)", i+1, burst, err)
		}
	}
	if err := health("bravo", "analyst"); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("bravo analyst over the burst: %v, want RESOURCE_EXHAUSTED", err)
	}
	for _, role := range []string{"supervisor", "auditor", "service"} {
		if err := health("bravo", role); status.Code(err) != codes.ResourceExhausted {
			t.Errorf("bravo %s after bravo's analyst used the agency's bucket: %v, want RESOURCE_EXHAUSTED", role, err)
		}
	}
	_, err := liaisonv1.NewLeadServiceClient(n.ConnAs(t, "bravo", "supervisor")).ListLeads(ctx, &liaisonv1.ListLeadsRequest{})
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("bravo supervisor's ListLeads over the limit: %v, want RESOURCE_EXHAUSTED (the limit comes before authorization)", err)
	}
	for i := range 3 * burst {
		if err := health("bravo", "node"); status.Code(err) != codes.PermissionDenied {
			t.Fatalf("bravo's node, call %d: %v, want PERMISSION_DENIED (the federation channel has no partner bucket; health is not for partners)", i+1, err)
		}
		if err := health("alpha", "analyst"); err != nil {
			t.Fatalf("alpha's analyst, call %d: %v", i+1, err)
		}
	}
}

// analystName is the name of the dev PKI's analyst.
func analystName(t *testing.T) string {
	t.Helper()
	for _, p := range certs.DevPrincipals {
		if p.Role == "analyst" {
			return p.Name
		}
	}
	t.Fatal("no analyst in the dev PKI")
	return ""
}

// floodRow is an audit event of the flooding principal.
type floodRow struct {
	outcome, detail string
}

// floodAudit reads the audit events of a principal.
func floodAudit(t *testing.T, s *store.Store, principal string) []floodRow {
	t.Helper()
	evs, err := s.ListAuditEvents(context.Background(), store.AuditFilter{Principal: principal}, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]floodRow, len(evs))
	for i, e := range evs {
		out[i] = floodRow{e.Outcome, e.Detail}
	}
	return out
}

var coalescedDetail = regexp.MustCompile(`^coalesced: (\d+) more refusals? `)

// floodCounted is how many refusals the events account for.
func floodCounted(rows []floodRow) int64 {
	var c int64
	for _, r := range rows {
		if m := coalescedDetail.FindStringSubmatch(r.detail); m != nil {
			k, _ := strconv.ParseInt(m[1], 10, 64)
			c += k
		} else {
			c++
		}
	}
	return c
}

// p99 is the 99th percentile of the latencies.
func p99(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*99/100)]
}
