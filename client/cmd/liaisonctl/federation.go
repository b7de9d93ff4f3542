package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

func init() {
	register(&group{name: "federation", summary: "the channels to partner nodes (FederationAdminService)", commands: []*command{
		{name: "status", detail: "Per partner, both channels: connection, envelopes waiting, sequences, last error, the fork alarm and the cross-witnessing of the audit logs, and the last drift check.",
			setup:   federationStatus,
			summary: "show, per partner, the state of the channels both ways and the last drift check"},
		{name: "check", setup: federationCheck,
			summary: "compare now what partners hold of this node's records, queuing repairs; " +
				"drift is reported, not a failure: exit status 1 only if a partner could not be checked"},
		{name: "witnessed", synopsis: "--partner AGENCY [--out FILE]", detail: "Verify this node's log against the checkpoint fetched with: liaison audit verify --config FILE --checkpoint FILE.",
			setup: federationWitnessed,
			summary: "fetch from a partner the latest checkpoint of this node's audit log it cosigned (--partner AGENCY --out FILE), " +
				"for: liaison audit verify --config FILE --checkpoint FILE"},
	}})
}

func (c *cli) federationAdmin() (liaisonv1.FederationAdminServiceClient, error) {
	conn, err := c.dial()
	if err != nil {
		return nil, err
	}
	return liaisonv1.NewFederationAdminServiceClient(conn), nil
}

// clock is what ages ("3s ago") are measured against.
var clock = time.Now

func federationStatus(*flag.FlagSet) handler {
	return func(ctx context.Context, c *cli, _ []string) error {
		svc, err := c.federationAdmin()
		if err != nil {
			return err
		}
		resp, err := svc.GetFederationStatus(ctx, &liaisonv1.GetFederationStatusRequest{})
		if err != nil {
			return err
		}
		return c.print(resp, func(w io.Writer) { statusTable(w, resp, clock()) })
	}
}

// statusTable writes a block of key/value lines per partner.
func statusTable(w io.Writer, resp *liaisonv1.GetFederationStatusResponse, at time.Time) {
	row(w, "AGENCY:", resp.GetAgency())
	if len(resp.GetPartners()) == 0 {
		row(w, "PARTNERS:", "none configured")
	}
	for _, p := range resp.GetPartners() {
		fmt.Fprintln(w)
		row(w, "PARTNER:", p.GetAgency())
		row(w, "CONNECTED:", yesNo(p.GetConnected()))
		row(w, "ADDRESS:", orDash(p.GetAddress()))
		row(w, "LAST CONTACT:", when(p.GetLastContact(), at))
		row(w, "WAITING:", fmt.Sprintf("%d envelopes not yet receipted", p.GetEnvelopesWaiting()))
		oldest := "-"
		if t := p.GetOldestWaitingTime(); t != nil {
			oldest = fmt.Sprintf("%s (since %s)", age(at.Sub(t.AsTime())), timestamp(t))
		}
		row(w, "OLDEST WAITING:", oldest)
		row(w, "SEQUENCES:", fmt.Sprintf("assigned %d, sent %d, acknowledged %d, applied by %s %d",
			p.GetLastSequenceAssigned(), p.GetLastSequenceSent(), p.GetLastSequenceAcknowledged(), p.GetAgency(), p.GetLastSequenceApplied()))
		row(w, "INBOUND:", fmt.Sprintf("last applied %d, last contact %s", p.GetInboundLastApplied(), when(p.GetInboundLastContact(), at)))
		lastErr := "-"
		if p.GetLastError() != "" {
			lastErr = p.GetLastError()
			if t := p.GetLastErrorTime(); t != nil {
				lastErr += " (at " + when(t, at) + ")"
			}
		}
		row(w, "LAST ERROR:", lastErr)
		witnessRows(w, p, at)
		dc := p.GetLastDriftCheck()
		if dc == nil {
			row(w, "LAST DRIFT CHECK:", "never")
			continue
		}
		row(w, "LAST DRIFT CHECK:", when(dc.GetTime(), at)+": "+driftOutcome(dc))
		if dc.GetError() == "" && dc.GetSummary() != "" {
			row(w, "", dc.GetSummary())
		}
	}
}

// witnessRows are the lines of the cross-witnessing of the audit logs:
// the fork alarm first, since it is what an operator must act on.
func witnessRows(w io.Writer, p *liaisonv1.PartnerStatus, at time.Time) {
	ws := p.GetWitness()
	alarm := "-"
	if ws.GetForkAlarm() {
		alarm = fmt.Sprintf("RAISED %s: %s's audit log is inconsistent with the checkpoint this node cosigned: %s; %d checkpoint(s) refused, the last %s",
			when(ws.GetForkAlarmTime(), at), p.GetAgency(), ws.GetForkAlarmReason(), ws.GetForkAlarmRefusals(), when(ws.GetForkAlarmLastTime(), at))
	}
	row(w, "FORK ALARM:", alarm)
	witnessing := "never cosigned"
	if ws.GetWitnessedSize() > 0 {
		witnessing = fmt.Sprintf("%s's audit log cosigned at %d events, %s", p.GetAgency(), ws.GetWitnessedSize(), when(ws.GetWitnessedTime(), at))
	}
	row(w, "WITNESSING:", witnessing)
	by := "never cosigned"
	if ws.GetCosignedSize() > 0 {
		by = fmt.Sprintf("this node's audit log cosigned at %d events, %s", ws.GetCosignedSize(), when(ws.GetCosignedTime(), at))
	}
	if ws.GetCosignError() != "" {
		by += "; last request failed: " + ws.GetCosignError()
	}
	row(w, "WITNESSED BY:", by)
}

func federationWitnessed(fs *flag.FlagSet) handler {
	partner := fs.String("partner", "", "the partner `AGENCY` that witnesses this node's audit log")
	out := fs.String("out", "", "write the checkpoint to `FILE` instead of stdout")
	return func(ctx context.Context, c *cli, _ []string) error {
		if *partner == "" {
			return usageErrorf("federation witnessed needs --partner AGENCY")
		}
		svc, err := c.federationAdmin()
		if err != nil {
			return err
		}
		resp, err := svc.FetchWitnessedCheckpoint(ctx, &liaisonv1.FetchWitnessedCheckpointRequest{Partner: *partner})
		if err != nil {
			return err
		}
		if len(resp.GetCheckpoint()) == 0 {
			return &exitError{exitFailed, *partner + " has cosigned no checkpoint of this node's audit log yet"}
		}
		if *out == "" || *out == "-" {
			_, err := c.stdout.Write(resp.GetCheckpoint())
			return err
		}
		if err := os.WriteFile(*out, resp.GetCheckpoint(), 0o644); err != nil {
			return err
		}
		return c.print(resp, func(w io.Writer) {
			row(w, "PARTNER:", *partner)
			row(w, "SIZE:", fmt.Sprintf("%d events", resp.GetSize()))
			row(w, "COSIGNED:", when(resp.GetWitnessTime(), clock()))
			row(w, "WRITTEN TO:", *out)
		})
	}
}

func federationCheck(*flag.FlagSet) handler {
	return func(ctx context.Context, c *cli, _ []string) error {
		svc, err := c.federationAdmin()
		if err != nil {
			return err
		}
		resp, err := svc.CheckDrift(ctx, &liaisonv1.CheckDriftRequest{})
		if err != nil {
			return err
		}
		err = c.print(resp, func(w io.Writer) {
			if len(resp.GetResults()) == 0 {
				row(w, "RESULT:", "no partners to check")
			}
			for i, r := range resp.GetResults() {
				if i > 0 {
					fmt.Fprintln(w)
				}
				row(w, "PARTNER:", r.GetPartner())
				row(w, "RESULT:", driftOutcome(r))
				row(w, "RECORDS COMPARED:", fmt.Sprint(r.GetRecordsCompared()))
				row(w, "DIFFERENCES:", fmt.Sprint(r.GetDifferences()))
				row(w, "REPAIRS QUEUED:", fmt.Sprint(r.GetRepairsQueued()))
				row(w, "SUMMARY:", orDash(r.GetSummary()))
				row(w, "ERROR:", orDash(r.GetError()))
			}
		})
		if err != nil {
			return err
		}
		var failed []string
		for _, r := range resp.GetResults() {
			if r.GetError() != "" {
				failed = append(failed, r.GetPartner()+": "+r.GetError())
			}
		}
		if len(failed) > 0 {
			return &exitError{exitFailed, "could not check " + strings.Join(failed, "; ")}
		}
		return nil
	}
}

// driftOutcome is a drift check's result in a few words.
func driftOutcome(r *liaisonv1.DriftCheckResult) string {
	switch {
	case r.GetError() != "":
		return "FAILED: " + r.GetError()
	case r.GetInStep():
		return "in step"
	}
	return fmt.Sprintf("DRIFT: %d differences, %d repairs queued", r.GetDifferences(), r.GetRepairsQueued())
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// when is a time and how long ago it was: "2025-03-01T10:00:00Z (3s ago)";
// "never" if there is none.
func when(t *timestamppb.Timestamp, at time.Time) string {
	if t == nil {
		return "never"
	}
	d := at.Sub(t.AsTime())
	if d < 0 {
		// The node's clock is ahead of this one.
		return fmt.Sprintf("%s (%s from now)", timestamp(t), age(-d))
	}
	return fmt.Sprintf("%s (%s ago)", timestamp(t), age(d))
}

// age writes a duration in its two largest units, to the second: "45s",
// "3m12s", "2h5m", "3d4h".
func age(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd%dh", s/86400, s%86400/3600)
}
