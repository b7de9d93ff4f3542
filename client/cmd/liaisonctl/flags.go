package main

import (
	"flag"
	"fmt"
	"math"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// maxPages bounds --all, so that a list that keeps growing (or a node
// that keeps answering with a next page) cannot keep the command running.
const maxPages = 100

// pageFlags are the paging flags of every list command.
type pageFlags struct {
	size  int
	token string
	all   bool
}

func (p *pageFlags) define(fs *flag.FlagSet) {
	fs.IntVar(&p.size, "page-size", 0, "at most `N` items per page (node default 50, at most 1000)")
	fs.StringVar(&p.token, "page-token", "", "start at the page of `TOKEN`, from a previous list")
	fs.BoolVar(&p.all, "all", false, fmt.Sprintf("follow the pages to the end (at most %d pages)", maxPages))
}

func (p *pageFlags) pageSize() (int32, error) {
	if p.size < 0 || p.size > math.MaxInt32 {
		return 0, usageErrorf("--page-size %d is out of range", p.size)
	}
	return int32(p.size), nil
}

// fetch reads the page at --page-token through page, which returns the
// next page's token, and with --all the pages after it. It returns the
// token of the page after the last one read ("" at the end).
func (p *pageFlags) fetch(c *cli, page func(token string) (next string, err error)) (string, error) {
	token := p.token
	for n := 1; ; n++ {
		next, err := page(token)
		if err != nil || next == "" || !p.all {
			return next, err
		}
		if n == maxPages {
			fmt.Fprintf(c.stderr, "warning: stopped after %d pages; more remain\n", maxPages)
			return next, nil
		}
		token = next
	}
}

// listFlag is a repeatable flag whose values may also be comma-separated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for s := range strings.SplitSeq(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// parseTime reads an RFC 3339 time flag; nil if it is empty.
func parseTime(flagName, v string) (*timestamppb.Timestamp, error) {
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return nil, usageErrorf("%s: %q is not an RFC 3339 time (like 2025-03-01T00:00:00Z)", flagName, v)
	}
	return timestamppb.New(t), nil
}

// recordFilters are the list filters leads and cases share: status (of
// the record's own status enum S), crime area and last change.
type recordFilters[S protoEnum] struct{ status, area, updatedAfter string }

// define adds --status, --crime-area and --updated-after, worded for noun
// ("leads") whose statuses are listed in statuses.
func (r *recordFilters[S]) define(fs *flag.FlagSet, noun, statuses string) {
	fs.StringVar(&r.status, "status", "", "only "+noun+" in `STATUS`: "+statuses)
	fs.StringVar(&r.area, "crime-area", "", "only "+noun+" of crime `AREA`: migrant-smuggling, trafficking, document-fraud, telecom-fraud, money-laundering or other")
	fs.StringVar(&r.updatedAfter, "updated-after", "", "only "+noun+" changed after `TIME` (RFC 3339)")
}

// parse reads the filters; an empty one is the zero value (no filter).
func (r *recordFilters[S]) parse() (status S, area liaisonv1.CrimeArea, updatedAfter *timestamppb.Timestamp, err error) {
	if r.status != "" {
		if status, err = parseEnum[S](r.status, nil); err != nil {
			return status, area, nil, usageErrorf("--status: %v", err)
		}
	}
	if r.area != "" {
		if area, err = parseEnum(r.area, crimeAreaName); err != nil {
			return status, area, nil, usageErrorf("--crime-area: %v", err)
		}
	}
	updatedAfter, err = parseTime("--updated-after", r.updatedAfter)
	return status, area, updatedAfter, err
}
