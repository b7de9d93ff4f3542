package search

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
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
		names, phones, err = generate(n, seed, func(int, *liaisonv1.Person) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
	} else {
		start := time.Now()
		names, phones, err = Populate(ctx, s, n, seed)
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
