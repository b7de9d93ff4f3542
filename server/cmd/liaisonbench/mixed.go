package main

// The mixed workload (scenario Mixed, -mixed-rate, default 2,000 calls/s):
// a working day at scale. Over the persons populated for the search
// scenarios (-persons), at a fixed offered rate (open loop, open.go),
// 70% of the calls read a lead (GetLead, analyst), 15% search for a person
// (SearchPersons, half by a populated name, half by a populated phone
// number), 10% create a lead (CreateLead, analyst) and 5% release a lead
// created in the run to the partner (ReleaseLead, supervisor). The partner
// is a real node (bravo, startPartner in federation.go) in this process,
// and the run waits until it has applied every release. Latency runs from
// each call's scheduled send time; the target is a p99 under 20 ms for
// every call kind, with no error.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/node"
)

// mixedP99Target is the p99 every call kind of the mixed workload must
// stay under.
const mixedP99Target = 20 * time.Millisecond

// The call kinds of the mixed workload and their weights (of 40).
const (
	mixGet = iota
	mixSearchName
	mixSearchPhone
	mixCreate
	mixRelease
)

var mixedKinds = []struct {
	name   string
	weight int
}{
	mixGet:         {"GetLead", 28},
	mixSearchName:  {"SearchPersons name", 3},
	mixSearchPhone: {"SearchPersons phone", 3},
	mixCreate:      {"CreateLead", 4},
	mixRelease:     {"ReleaseLead to partner", 2},
}

// mixed is the mixed workload set up against a node and its partner.
type mixed struct {
	pattern []int
	call    func(ctx context.Context, kind, i int) error
	// released counts the releases answered, warm-up included.
	released atomic.Int64
	// last is the latest run.
	last OpenResult
}

// mixedResult is what the mixed workload measured.
type mixedResult struct {
	rate float64
	run  OpenResult
	// released is the releases answered (warm-up included), applied how
	// many of them the partner had applied at the end, and applyLag how
	// long after the measured run it applied the last one.
	released, applied int64
	applyLag          time.Duration
	applyErr          error
}

func (b *bench) setupMixed(ctx context.Context) (*mixed, error) {
	e := b.env
	if b.partner == nil {
		return nil, errors.New("no partner node started")
	}
	if len(e.SearchNames) == 0 || len(e.SearchPhones) == 0 {
		return nil, errors.New("no persons populated (-persons 0)")
	}
	ids, err := e.LeadIDs(ctx)
	if err != nil {
		return nil, err
	}
	analysts, err := e.Conns("analyst")
	if err != nil {
		return nil, err
	}
	supervisors, err := e.Conns("supervisor")
	if err != nil {
		return nil, err
	}
	leads := make([]liaisonv1.LeadServiceClient, len(analysts))
	searches := make([]liaisonv1.SearchServiceClient, len(analysts))
	for i, c := range analysts {
		leads[i], searches[i] = liaisonv1.NewLeadServiceClient(c), liaisonv1.NewSearchServiceClient(c)
	}
	releases := make([]liaisonv1.LeadServiceClient, len(supervisors))
	for i, c := range supervisors {
		releases[i] = liaisonv1.NewLeadServiceClient(c)
	}

	// The leads the CreateLead calls made, oldest first, for the releases.
	fresh := make(chan string, 1<<16)
	create := func(ctx context.Context, i int, title string) error {
		resp, err := leads[i%len(leads)].CreateLead(ctx, &liaisonv1.CreateLeadRequest{
			Lead: benchLead(title), RequestId: uuid.Must(uuid.NewV7()).String(),
		})
		if err != nil {
			return err
		}
		if resp.GetLead().GetId() == "" {
			return fmt.Errorf("CreateLead returned a lead without id")
		}
		select {
		case fresh <- resp.GetLead().GetId():
		default:
		}
		return nil
	}
	// A few leads created beforehand (untimed), so that the first releases,
	// scheduled before any CreateLead of the run has been answered, find
	// one; later ones take the oldest lead the run created (there are twice
	// as many creates as releases), waiting for one if need be.
	if err := Do(ctx, 16, 4, func(ctx context.Context, i int) error { return create(ctx, i, fmt.Sprintf("mixed reserve %d", i)) }); err != nil {
		return nil, fmt.Errorf("create the release reserve: %w", err)
	}

	var weights []int
	for _, k := range mixedKinds {
		weights = append(weights, k.weight)
	}
	m := &mixed{pattern: mixPattern(weights)}
	var nName, nPhone atomic.Int64
	search := func(ctx context.Context, i int, req *liaisonv1.SearchPersonsRequest) error {
		resp, err := searches[i%len(searches)].SearchPersons(ctx, req)
		if err == nil && len(resp.GetHits()) == 0 {
			err = fmt.Errorf("search %v found nobody, but that person was populated", req)
		}
		return err
	}
	m.call = func(ctx context.Context, kind, i int) error {
		switch kind {
		case mixGet:
			id := ids[rand.IntN(len(ids))]
			resp, err := leads[i%len(leads)].GetLead(ctx, &liaisonv1.GetLeadRequest{Id: id})
			if err == nil && resp.GetLead().GetId() != id {
				err = fmt.Errorf("GetLead %s returned lead %q", id, resp.GetLead().GetId())
			}
			return err
		case mixSearchName:
			n := e.SearchNames[int(nName.Add(1))%len(e.SearchNames)]
			return search(ctx, i, &liaisonv1.SearchPersonsRequest{Name: n})
		case mixSearchPhone:
			p := e.SearchPhones[int(nPhone.Add(1))%len(e.SearchPhones)]
			return search(ctx, i, &liaisonv1.SearchPersonsRequest{Phone: p})
		case mixCreate:
			return create(ctx, i, fmt.Sprintf("mixed %d", i))
		case mixRelease:
			// Waiting for a lead to be created is part of the call's
			// latency; if none comes before the deadline, it fails.
			var id string
			select {
			case id = <-fresh:
			case <-ctx.Done():
				return fmt.Errorf("no freshly created lead to release: %w", ctx.Err())
			}
			_, err := releases[i%len(releases)].ReleaseLead(ctx, &liaisonv1.ReleaseLeadRequest{Id: id, Partners: []string{partnerAgency}})
			if err == nil {
				m.released.Add(1)
			}
			return err
		}
		return fmt.Errorf("no call kind %d", kind)
	}
	return m, nil
}

// run offers the workload at rate for d and keeps the result as m.last;
// it returns all kinds together, the errors labelled by kind.
func (m *mixed) run(ctx context.Context, rate float64, d time.Duration) Result {
	m.last = RunOpen(ctx, OpenLoad{Rate: rate, Duration: d}, len(mixedKinds), m.pattern, m.call)
	total := m.last.Total
	for k, r := range m.last.Kinds {
		for _, e := range r.FirstErrors {
			total.FirstErrors = append(total.FirstErrors, mixedKinds[k].name+": "+e)
		}
	}
	return total
}

// finish waits (at most a minute) until the partner has applied every
// release answered so far, and returns the measured run's result.
func (m *mixed) finish(ctx context.Context, partner *node.Node, rate float64) mixedResult {
	r := mixedResult{rate: rate, run: m.last, released: m.released.Load()}
	start := time.Now()
	for {
		ch, err := partner.Store.InChannel(ctx, ownAgency)
		if err != nil {
			r.applyErr = fmt.Errorf("%s's channel from %s: %w", partnerAgency, ownAgency, err)
			return r
		}
		r.applied = ch.LastApplied
		if r.applied >= r.released {
			r.applyLag = time.Since(start)
			return r
		}
		if time.Since(start) > time.Minute || ctx.Err() != nil {
			r.applyErr = fmt.Errorf("%s applied %d of %d releases %v after the run", partnerAgency, r.applied, r.released, time.Since(start).Round(time.Second))
			return r
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pass reports whether the run met the target; misses are the reasons
// it did not.
func (r *mixedResult) pass() (ok bool, misses []string) {
	for k, res := range r.run.Kinds {
		if p99 := res.Percentile(0.99); p99 >= mixedP99Target {
			misses = append(misses, fmt.Sprintf("%s p99 %.2f ms", mixedKinds[k].name, ms(p99)))
		}
		if res.OK == 0 {
			misses = append(misses, mixedKinds[k].name+" never succeeded")
		}
	}
	if r.run.Total.Errors > 0 {
		misses = append(misses, fmt.Sprintf("%d errors", r.run.Total.Errors))
	}
	if sent := r.run.Total.OK + r.run.Total.Errors; sent < int64(r.run.Scheduled) {
		misses = append(misses, fmt.Sprintf("%d of %d scheduled calls made", sent, r.run.Scheduled))
	}
	if r.applyErr != nil {
		misses = append(misses, "releases not all applied on the partner")
	}
	return len(misses) == 0, misses
}

// reportMixed prints the mixed workload's table per call kind.
func reportMixed(w io.Writer, f flags, o outcome) {
	r := o.mixed
	fmt.Fprintln(w)
	total := 0
	for _, k := range mixedKinds {
		total += k.weight
	}
	var mix []string
	for _, k := range mixedKinds {
		mix = append(mix, fmt.Sprintf("%.1f%% %s", 100*float64(k.weight)/float64(total), k.name))
	}
	fmt.Fprintf(w, "Mixed workload: %.0f calls/s offered for %v over %d persons (open loop: calls sent on a fixed schedule, latency from the scheduled send time, so a stall shows as latency); %s; releases go to %s, a real partner node in this process:\n\n",
		r.rate, f.duration, f.persons, strings.Join(mix, ", "), partnerAgency)
	fmt.Fprintln(w, "| call kind | calls | errors | p50 ms | p99 ms | max ms |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
	row := func(name string, res Result) {
		errCol := fmt.Sprint(res.Errors)
		if res.Errors > 0 {
			errCol = fmt.Sprintf("**%d ERRORS**", res.Errors)
		}
		fmt.Fprintf(w, "| %s | %d | %s | %.2f | %.2f | %.2f |\n", name, res.OK+res.Errors, errCol,
			ms(res.Percentile(0.50)), ms(res.Percentile(0.99)), ms(res.Percentile(1)))
	}
	for k, res := range r.run.Kinds {
		row(mixedKinds[k].name, res)
	}
	row("all", r.run.Total)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Sent %d of %d scheduled calls, %.0f answered/s; the latest send was %.2f ms behind its schedule (%d sends more than 1 ms late).\n",
		r.run.Total.OK+r.run.Total.Errors, r.run.Scheduled, r.run.Total.Throughput(), ms(r.run.MaxLag), r.run.Late)
	if r.applyErr != nil {
		fmt.Fprintf(w, "Releases: **%v**.\n", r.applyErr)
	} else {
		fmt.Fprintf(w, "Releases: %d answered (warm-up included), all applied on %s, the last %v after the measured run ended.\n",
			r.released, partnerAgency, r.applyLag.Round(time.Millisecond))
	}
}

// mixedTarget prints the mixed workload's target line.
func mixedTarget(w io.Writer, f flags, o outcome) {
	verdict, note := "MISS", ""
	var p99s []string
	switch {
	case o.setupErr != nil:
		note = " (setup failed)"
	case o.mixed == nil:
		note = " (not measured)"
	default:
		for k, res := range o.mixed.run.Kinds {
			p99s = append(p99s, fmt.Sprintf("%s %.2f ms", mixedKinds[k].name, ms(res.Percentile(0.99))))
		}
		ok, misses := o.mixed.pass()
		if o.warmErrs > 0 {
			ok, misses = false, append(misses, fmt.Sprintf("%d errors in warm-up", o.warmErrs))
		}
		if ok {
			verdict = "PASS"
		} else {
			note = " (" + strings.Join(misses, "; ") + ")"
		}
	}
	errs := "–"
	if o.mixed != nil {
		errs = fmt.Sprint(o.mixed.run.Total.Errors)
	}
	fmt.Fprintf(w, "- Mixed workload at %.0f calls/s offered, p99 of every call kind < %v, zero errors: %s; %s errors — %s%s\n",
		f.mixedRate, mixedP99Target, strings.Join(p99s, ", "), errs, verdict, note)
}
