package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"time"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

func init() {
	register(&group{name: "requests", summary: "requests for assistance made in cases, across all cases (CaseService)", commands: []*command{
		{name: "list", detail: "Each with how overdue it is or how long is left.",
			synopsis: "[--owed-to-us] [--page-size N]", setup: requestsList,
			summary: "list open requests for assistance, overdue first: by default those this agency owes, with --owed-to-us those it awaits answers to"},
	}})
}

func requestsList(fs *flag.FlagSet) handler {
	owedToUs := fs.Bool("owed-to-us", false, "list the requests this agency made and awaits answers to, instead of those it owes")
	size := fs.Int("page-size", 0, "at most `N` requests (node default 50, at most 1000)")
	return func(ctx context.Context, c *cli, _ []string) error {
		if *size < 0 || *size > math.MaxInt32 {
			return usageErrorf("--page-size %d is out of range", *size)
		}
		req := &liaisonv1.ListOpenRequestsRequest{Direction: liaisonv1.RequestDirection_REQUEST_DIRECTION_OWED_BY_US, PageSize: int32(*size)}
		if *owedToUs {
			req.Direction = liaisonv1.RequestDirection_REQUEST_DIRECTION_OWED_TO_US
		}
		svc, err := c.caseService()
		if err != nil {
			return err
		}
		resp, err := svc.ListOpenRequests(ctx, req)
		if err != nil {
			return err
		}
		return c.print(resp, func(w io.Writer) {
			if len(resp.GetRequests()) == 0 {
				if *owedToUs {
					fmt.Fprintln(w, "no open requests: this agency awaits no answers")
				} else {
					fmt.Fprintln(w, "no open requests: this agency owes no answers")
				}
				return
			}
			requestTable(w, resp.GetRequests(), clock())
		})
	}
}

var requestColumns = []string{"DUE", "OVERDUE", "OPEN FOR", "URGENCY", "ASKED BY", "OWED BY", "CASE", "ENTRY ID", "TEXT"}

// requestTable lists open requests as the node ordered them (overdue
// first); how overdue, or how long is left, is measured at at.
func requestTable(w io.Writer, rs []*liaisonv1.OpenRequest, at time.Time) {
	row(w, requestColumns...)
	for _, r := range rs {
		e := r.GetEntry()
		due := e.GetRequest().GetDueTime()
		row(w, timestamp(due), timeLeft(due.AsTime(), r.GetOverdue(), at), age(r.GetOpenFor().AsDuration()),
			enumName(e.GetRequest().GetUrgency()), e.GetAgency(), orDash(e.GetRequest().GetRequestedOf()),
			r.GetCaseId()+" "+truncate(r.GetCaseTitle(), 40), e.GetId(), truncate(e.GetText(), 60))
	}
}

// timeLeft is "in 6d23h" for a request due after at, "OVERDUE by 2h13m"
// for one due before it, or that the node found overdue.
func timeLeft(due time.Time, overdue bool, at time.Time) string {
	left := due.Sub(at)
	if overdue || left < 0 {
		return "OVERDUE by " + age(-left)
	}
	return "in " + age(left)
}
