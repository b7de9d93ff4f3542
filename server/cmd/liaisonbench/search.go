package main

// The search scenarios (-persons N, default 1,000,000): before the node
// starts, its database is filled with N synthetic persons by
// benchdata.Populate (untimed; index rows only, as if each were the subject
// of a lead). SearchName and SearchPhone then query names and phone
// numbers of persons that exist, at concurrency 8 as the issue asks, and
// GetLead (c=8) gives the figure they are compared with in the same run.
// Every search is a full call: mTLS, interceptors, validation, and the
// audit event (with the query terms) committed before the reply.

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/internal/benchdata"
	"github.com/liaison-exchange/liaison/server/store"
)

// searchConcurrency is the concurrency the search issue measures at.
const searchConcurrency = 8

// searchSeed is the seed of the persons populatePersons writes; a reused
// database's sample is made again from it.
const searchSeed = 1

// populatePersons fills the database at path with n persons and returns
// names and phone numbers of some of them to search for.
func populatePersons(ctx context.Context, path string, n int, reuse bool) (names, phones []string, err error) {
	if _, statErr := os.Stat(path); reuse && statErr == nil {
		// The same seed gives the same persons, and so the same sample.
		fmt.Fprintf(os.Stderr, "liaisonbench: %-12s reusing %s (%d persons populated before)\n", "Search", path, n)
		return benchdata.Persons(n, searchSeed, func(int, *liaisonv1.Person) error { return nil })
	}
	fmt.Fprintf(os.Stderr, "liaisonbench: %-12s populating %d persons (untimed)\n", "Search", n)
	start := time.Now()
	// synchronous normal: this is setup, not what is measured; the node
	// reopens the file with its own setting.
	s, err := store.Open(ctx, path, store.Options{Synchronous: "normal", Agency: ownAgency})
	if err != nil {
		return nil, nil, err
	}
	names, phones, err = benchdata.Populate(ctx, s, n, searchSeed)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err == nil && (len(names) == 0 || len(phones) == 0) {
		err = fmt.Errorf("populate returned no sample to search for")
	}
	fmt.Fprintf(os.Stderr, "liaisonbench: %-12s populated in %v\n", "Search", time.Since(start).Round(time.Second))
	return names, phones, err
}

// setupSearch returns a call searching round robin with reqs, each of which
// must find at least one person.
func setupSearch(e *Env, reqs []*liaisonv1.SearchPersonsRequest) (Call, error) {
	if len(reqs) == 0 {
		return nil, fmt.Errorf("no persons populated (-persons 0)")
	}
	conns, err := e.Conns("analyst")
	if err != nil {
		return nil, err
	}
	clients := make([]liaisonv1.SearchServiceClient, len(conns))
	for i, c := range conns {
		clients[i] = liaisonv1.NewSearchServiceClient(c)
	}
	var n atomic.Int64
	return func(ctx context.Context, w int) error {
		req := reqs[int(n.Add(1))%len(reqs)]
		resp, err := clients[w%len(clients)].SearchPersons(ctx, req)
		if err == nil && len(resp.GetHits()) == 0 {
			err = fmt.Errorf("search %v found nobody, but that person was populated", req)
		}
		return err
	}, nil
}

func setupSearchName(_ context.Context, e *Env) (Call, error) {
	reqs := make([]*liaisonv1.SearchPersonsRequest, len(e.SearchNames))
	for i, n := range e.SearchNames {
		reqs[i] = &liaisonv1.SearchPersonsRequest{Name: n}
	}
	return setupSearch(e, reqs)
}

func setupSearchPhone(_ context.Context, e *Env) (Call, error) {
	reqs := make([]*liaisonv1.SearchPersonsRequest, len(e.SearchPhones))
	for i, p := range e.SearchPhones {
		reqs[i] = &liaisonv1.SearchPersonsRequest{Phone: p}
	}
	return setupSearch(e, reqs)
}
