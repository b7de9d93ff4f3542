package search

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/internal/benchdata"
	"github.com/liaison-exchange/liaison/server/store"
)

// TestSearch_Measure populates a store with LIAISON_SEARCH_MEASURE persons
// (e.g. 1000000) and reports search latency at concurrency 8 (or
// LIAISON_SEARCH_CONCURRENCY) for LIAISON_SEARCH_DURATION (10s) per kind
// of query: a measurement, not a test, skipped unless asked for.
// LIAISON_SEARCH_DB keeps the database at that path (and reuses it when it
// exists, with LIAISON_SEARCH_SEED the seed it was made with).
func TestSearch_Measure(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("LIAISON_SEARCH_MEASURE"))
	if n <= 0 {
		t.Skip("set LIAISON_SEARCH_MEASURE=<persons> to measure search latency")
	}
	ctx := context.Background()
	path := os.Getenv("LIAISON_SEARCH_DB")
	if path == "" {
		path = filepath.Join(t.TempDir(), "search.db")
	}
	seed, _ := strconv.ParseInt(os.Getenv("LIAISON_SEARCH_SEED"), 10, 64)
	_, statErr := os.Stat(path)
	s, err := store.Open(ctx, path, store.Options{Synchronous: "normal", ReadConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var names, phones []string
	if statErr == nil {
		// Reuse: the same seed gives the same sample.
		names, phones, err = benchdata.Persons(n, seed, func(int, *liaisonv1.Person) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
	} else {
		start := time.Now()
		names, phones, err = benchdata.Populate(ctx, s, n, seed)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("populated %d persons in %v", n, time.Since(start).Round(time.Second))
	}
	var size int64
	for _, suffix := range []string{"", "-wal"} {
		if fi, err := os.Stat(path + suffix); err == nil {
			size += fi.Size()
		}
	}
	t.Logf("database %s: %.0f MB", path, float64(size)/1e6)

	conc := 8
	if v, err := strconv.Atoi(os.Getenv("LIAISON_SEARCH_CONCURRENCY")); err == nil && v > 0 {
		conc = v
	}
	d := 10 * time.Second
	if v, err := time.ParseDuration(os.Getenv("LIAISON_SEARCH_DURATION")); err == nil {
		d = v
	}
	var byName, byPhone, byFamily []*liaisonv1.SearchPersonsRequest
	for _, nm := range names {
		byName = append(byName, &liaisonv1.SearchPersonsRequest{Name: nm})
		// The family name alone: one common word, many partial matches.
		byFamily = append(byFamily, &liaisonv1.SearchPersonsRequest{Name: strings.Fields(nm)[0]})
	}
	for _, ph := range phones {
		byPhone = append(byPhone, &liaisonv1.SearchPersonsRequest{Phone: ph})
	}
	for _, m := range []struct {
		what string
		reqs []*liaisonv1.SearchPersonsRequest
	}{{"name", byName}, {"phone", byPhone}, {"family name only", byFamily}} {
		// Warm up first: each reader connection has its own page cache.
		if _, err := Measure(ctx, s, m.reqs, conc, d/5); err != nil {
			t.Fatal(err)
		}
		l, err := Measure(ctx, s, m.reqs, conc, d)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s queries, concurrency %d: %v", m.what, conc, l)
	}
}

// Latency is what Measure found for one kind of query.
type Latency struct {
	Queries  int
	Duration time.Duration
	P50, P99 time.Duration
	Max      time.Duration
	// Hits is the mean number of hits per query.
	Hits float64
}

func (l Latency) String() string {
	return fmt.Sprintf("%d queries in %v (%.0f/s): p50 %v, p99 %v, max %v, %.1f hits/query",
		l.Queries, l.Duration.Round(time.Millisecond), float64(l.Queries)/l.Duration.Seconds(),
		l.P50.Round(time.Microsecond), l.P99.Round(time.Microsecond), l.Max.Round(time.Microsecond), l.Hits)
}

// Measure runs the requests round robin from concurrency goroutines for
// about d against s directly — the search service's work without gRPC or
// the audit write — and reports the latency of each search.
func Measure(ctx context.Context, s *store.Store, reqs []*liaisonv1.SearchPersonsRequest, concurrency int, d time.Duration) (Latency, error) {
	qs := make([]query, 0, len(reqs))
	for _, req := range reqs {
		q, err := parse(req)
		if err != nil {
			return Latency{}, fmt.Errorf("measure: %v: %w", req, err)
		}
		qs = append(qs, q)
	}
	if len(qs) == 0 {
		return Latency{}, fmt.Errorf("measure: no requests")
	}
	var (
		mu       sync.Mutex
		all      []time.Duration
		hits     int
		firstErr error
		wg       sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var mine []time.Duration
			found := 0
			for i := w; time.Now().Before(deadline); i += concurrency {
				t := time.Now()
				win, err := run(ctx, s, qs[i%len(qs)])
				h := win.hits
				mine = append(mine, time.Since(t))
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				found += len(h)
			}
			mu.Lock()
			all = append(all, mine...)
			hits += found
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	if firstErr != nil {
		return Latency{}, firstErr
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	l := Latency{Queries: len(all), Duration: time.Since(start)}
	if len(all) > 0 {
		l.P50, l.P99, l.Max = all[len(all)/2], all[len(all)*99/100], all[len(all)-1]
		l.Hits = float64(hits) / float64(len(all))
	}
	return l, nil
}

// title capitalises a word (as the synthetic names of benchdata are).
func title(w string) string { return strings.ToUpper(w[:1]) + w[1:] }
