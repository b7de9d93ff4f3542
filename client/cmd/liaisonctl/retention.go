package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

func init() {
	register(&group{name: "retention", summary: "the purge of leads past their review date (RetentionService)", commands: []*command{
		{name: "preview", detail: "The next purge removes own leads whose review date has passed and that no open case links.",
			setup:   retentionPreview,
			summary: "list what the next purge would remove, and the expired leads an open case keeps (supervisors)"},
		{name: "run", detail: "Purging deletes the content, keeps a tombstone and sends the tombstone to every partner holding a copy. The node also purges on its own every retention.purge_interval.",
			setup:   retentionRun,
			summary: "purge now (supervisors): delete the content of expired leads no open case links and tell the partners holding them"},
	}})
}

func (c *cli) retention() (liaisonv1.RetentionServiceClient, error) {
	conn, err := c.dial()
	if err != nil {
		return nil, err
	}
	return liaisonv1.NewRetentionServiceClient(conn), nil
}

func retentionPreview(*flag.FlagSet) handler {
	return func(ctx context.Context, c *cli, _ []string) error {
		svc, err := c.retention()
		if err != nil {
			return err
		}
		resp, err := svc.PreviewPurge(ctx, &liaisonv1.PreviewPurgeRequest{})
		if err != nil {
			return err
		}
		return c.print(resp, func(w io.Writer) {
			purgeReport(w, "AS OF", resp.GetAsOf(), "TO PURGE", resp.GetPurge(), resp.GetKeep())
		})
	}
}

func retentionRun(*flag.FlagSet) handler {
	return func(ctx context.Context, c *cli, _ []string) error {
		svc, err := c.retention()
		if err != nil {
			return err
		}
		resp, err := svc.RunPurge(ctx, &liaisonv1.RunPurgeRequest{})
		if err != nil {
			return err
		}
		return c.print(resp, func(w io.Writer) {
			purgeReport(w, "PURGED AT", resp.GetTime(), "PURGED", resp.GetPurged(), resp.GetKept())
		})
	}
}

// purgeReport writes a summary line, then a table of the leads purged (or
// to purge) and one of the leads kept, each only if it has rows.
func purgeReport(w io.Writer, when string, at *timestamppb.Timestamp, purgeTitle string, purge, keep []*liaisonv1.PurgeItem) {
	fmt.Fprintf(w, "%s %s: %s %s, %s kept (linked to open cases)\n", when, timestamp(at), leadCount(len(purge)), strings.ToLower(purgeTitle), leadCount(len(keep)))
	if len(purge) > 0 {
		fmt.Fprintf(w, "\n%s\n", purgeTitle)
		row(w, "ID", "REVIEW DATE", "PARTNERS TOLD", "TITLE")
		for _, it := range purge {
			row(w, it.GetRecordId(), it.GetReviewDate(), orDash(strings.Join(it.GetPartners(), ",")), truncate(it.GetTitle(), 60))
		}
	}
	if len(keep) > 0 {
		fmt.Fprint(w, "\nKEPT\n")
		row(w, "ID", "REVIEW DATE", "KEPT BECAUSE", "TITLE")
		for _, it := range keep {
			row(w, it.GetRecordId(), it.GetReviewDate(), it.GetKeptBecause(), truncate(it.GetTitle(), 60))
		}
	}
}
