package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// Transfer manifests. The sending agency's node is a manifest's home: its
// officers' commands (create, add-person, screen, propose, schedule,
// depart, withdraw, cancel) take effect there at once. The receiving
// agency's commands (review, accept, handover, and its cancel and holds)
// are proposals its node sends the home node, which applies them with the
// same rules: they print the pending action, not a new manifest.
//
// Rendering lives in render_manifests.go.

func init() {
	register(&group{name: "manifests", summary: "transfer manifests: persons handed over to a partner agency, with protection safeguards (ManifestService)", commands: []*command{
		{name: "create", synopsis: "--to AGENCY -f FILE [--request-id UUID]", setup: manifestsCreate,
			summary: "start a draft manifest on this node (the sending agency's) from a protojson liaison.v1.Manifest (legal basis, transport, escorts)"},
		{name: "get", synopsis: "ID", args: []string{"ID"}, setup: manifestsGet,
			summary: "show a manifest: every person's statuses, on the sending node their screenings, on the receiving node its pending actions, and the history"},
		{name: "list", synopsis: "[--state S] [--to AGENCY] [--from AGENCY] [--page-size N] [--page-token T] [--all]", setup: manifestsList,
			summary: "list manifests, newest first"},
		{name: "update", synopsis: "ID -f PATCH [--etag E]", args: []string{"ID"}, setup: manifestsUpdate,
			summary: "change a draft's legal_basis, transport or escorts, the top-level keys of PATCH (a partial protojson Manifest)"},
		{name: "add-person", synopsis: "ID -f FILE", args: []string{"ID"}, setup: manifestsAddPerson,
			summary: "add a person (a protojson liaison.v1.ManifestPerson) to a draft; prints the person's id"},
		{name: "update-person", synopsis: "ID -f FILE [--person PERSON]", args: []string{"ID"}, setup: manifestsUpdatePerson,
			summary: "replace a person's identity, fitness, medical needs and vulnerabilities (the identity is fixed once proposed)"},
		{name: "remove-person", synopsis: "ID PERSON", args: []string{"ID", "PERSON"}, setup: manifestsRemovePerson,
			summary: "remove a person from a draft"},
		{name: "screen", synopsis: "ID PERSON --claim none|pending|decided --assessment cleared|concern --officer NAME [--bid [--bid-ref REF]] [--notes TEXT]",
			args: []string{"ID", "PERSON"}, setup: manifestsScreen,
			summary: "record a person's protection screening (sending node only; it never leaves it). A pending claim or a concern withdraws the person from a proposed manifest"},
		{name: "propose", synopsis: "ID", args: []string{"ID"}, setup: manifestsTransition("propose"),
			summary: "send a draft to the receiving agency (supervisors of the sending agency); refused while a safeguard is not met"},
		{name: "review", synopsis: "ID PERSON --nationality confirmed|not-confirmed [--reason TEXT]", args: []string{"ID", "PERSON"}, setup: manifestsReview,
			summary: "verify a person's nationality (supervisors of the receiving agency); a person not confirmed is excluded"},
		{name: "accept", synopsis: "ID", args: []string{"ID"}, setup: manifestsAccept,
			summary: "accept a proposed manifest once every person is reviewed (supervisors of the receiving agency)"},
		{name: "schedule", synopsis: "ID --departure TIME [--flight NUMBER] [--carrier NAME] [--mode air|sea|land|rail] [--from PLACE] [--to-place PLACE] [--arrival TIME]",
			args: []string{"ID"}, setup: manifestsSchedule,
			summary: "set the departure and transport of an accepted manifest (supervisors of the sending agency)"},
		{name: "depart", synopsis: "ID", args: []string{"ID"}, setup: manifestsTransition("depart"),
			summary: "record the departure of a scheduled manifest (supervisors of the sending agency); refused while a safeguard or a hold is not cleared"},
		{name: "handover", synopsis: "ID PERSON --status handed-over|not-handed-over [--reason TEXT]", args: []string{"ID", "PERSON"}, setup: manifestsHandover,
			summary: "record one person's handover on arrival (supervisors of the receiving agency); the manifest completes once every included person is resolved"},
		{name: "cancel", synopsis: "ID --reason TEXT", args: []string{"ID"}, setup: manifestsCancel,
			summary: "cancel a manifest before departure (supervisors of either agency)"},
		{name: "withdraw", synopsis: "ID PERSON --reason TEXT", args: []string{"ID", "PERSON"}, setup: manifestsWithdraw,
			summary: "take a person off a manifest before their handover (supervisors of the sending agency); the reason stays on this node"},
		{name: "hold", synopsis: "ID PERSON --reason TEXT", args: []string{"ID", "PERSON"}, setup: manifestsHold,
			summary: "place a protection hold on a person (either agency); prints the hold's id. The reason stays on this node"},
		{name: "lift-hold", synopsis: "ID PERSON HOLD --reason TEXT", args: []string{"ID", "PERSON", "HOLD"}, setup: manifestsLiftHold,
			summary: "lift a protection hold (supervisors of the agency that placed it)"},
		{name: "separate", synopsis: "ID PERSON OTHER_ID OTHER_PERSON --reason TEXT", args: []string{"ID", "PERSON", "OTHER_ID", "OTHER_PERSON"}, setup: manifestsSeparate,
			summary: "record that two persons the safeguards hold for a possible match (same name and birth year, no document) are different people (supervisors of the sending agency); the reason stays on this node"},
		{name: "history", synopsis: "ID", args: []string{"ID"}, setup: manifestsHistory,
			summary: "list every step of a manifest with agency, officer and time; on this node also its local notes"},
	}})
}

func (c *cli) manifestService() (liaisonv1.ManifestServiceClient, error) {
	conn, err := c.dial()
	if err != nil {
		return nil, err
	}
	return liaisonv1.NewManifestServiceClient(conn), nil
}

// manifestResponse is the response of a call returning one manifest.
type manifestResponse interface {
	proto.Message
	GetManifest() *liaisonv1.Manifest
}

// printManifest prints the response of a call returning one manifest: the
// manifest in detail, or the whole response as JSON.
func (c *cli) printManifest(resp manifestResponse) error {
	return c.print(resp, func(w io.Writer) { c.manifestDetail(w, resp.GetManifest(), nil) })
}

// printAction prints the response of a call that may have been applied on
// this node (the manifest's home: resp carries the manifest) or proposed
// to the home node (resp carries the pending action). what is printed
// above the manifest when it was applied here ("" for nothing).
func (c *cli) printAction(ctx context.Context, resp proto.Message, m *liaisonv1.Manifest, a *liaisonv1.PendingAction, manifestID, what string) error {
	if a == nil {
		return c.print(resp, func(w io.Writer) {
			if what != "" {
				fmt.Fprintf(w, "%s\n\n", what)
			}
			c.manifestDetail(w, m, nil)
		})
	}
	home := c.manifestHome(ctx, manifestID)
	return c.print(resp, func(w io.Writer) { fmt.Fprintln(w, manifestPendingLine(a, manifestID, home)) })
}

// manifestHome is the agency whose node is the manifest's home, as this
// node's copy says, or "" if it cannot be read.
func (c *cli) manifestHome(ctx context.Context, id string) string {
	svc, err := c.manifestService()
	if err != nil {
		return ""
	}
	r, err := svc.GetManifest(ctx, &liaisonv1.GetManifestRequest{Id: id})
	if err != nil {
		return ""
	}
	return r.GetManifest().GetOriginAgency()
}

func manifestsCreate(fs *flag.FlagSet) handler {
	to := fs.String("to", "", "the receiving `AGENCY` (a partner); may instead be the file's receivingAgency")
	file := fs.String("f", "", "read the manifest from `FILE`, a liaison.v1.Manifest in protojson: legalBasis, transport, escorts (- for stdin)")
	requestID := fs.String("request-id", "", "idempotency key (`UUID`); without it one is chosen and printed, to repeat for a safe retry")
	return func(ctx context.Context, c *cli, _ []string) error {
		if *file == "" {
			return usageErrorf("manifests create needs -f FILE")
		}
		id, err := idempotencyKey(*requestID)
		if err != nil {
			return err
		}
		m := &liaisonv1.Manifest{}
		if _, err := c.readProtoJSON(*file, m); err != nil {
			return err
		}
		switch {
		case *to != "" && m.GetReceivingAgency() != "" && m.GetReceivingAgency() != *to:
			return usageErrorf("--to %s, but %s names receiving agency %s", *to, *file, m.GetReceivingAgency())
		case *to != "":
			m.ReceivingAgency = *to
		case m.GetReceivingAgency() == "":
			return usageErrorf("manifests create needs --to AGENCY, the receiving agency")
		}
		svc, err := c.manifestService()
		if err != nil {
			return err
		}
		resp, err := svc.CreateManifest(ctx, &liaisonv1.CreateManifestRequest{Manifest: m, RequestId: id})
		if err != nil {
			return retryNote(err, "the manifest may or may not have been created", id)
		}
		fmt.Fprintf(c.stderr, "request id: %s\n", id)
		return c.printManifest(resp)
	}
}

func manifestsGet(*flag.FlagSet) handler {
	return func(ctx context.Context, c *cli, args []string) error {
		svc, err := c.manifestService()
		if err != nil {
			return err
		}
		resp, err := svc.GetManifest(ctx, &liaisonv1.GetManifestRequest{Id: args[0]})
		if err != nil {
			return err
		}
		return c.print(resp, func(w io.Writer) { c.manifestDetail(w, resp.GetManifest(), resp) })
	}
}

func manifestsList(fs *flag.FlagSet) handler {
	state := fs.String("state", "", "only manifests in `STATE`: draft, proposed, accepted, scheduled, in-transit, completed or cancelled")
	to := fs.String("to", "", "only manifests to receiving `AGENCY`")
	from := fs.String("from", "", "only manifests from sending `AGENCY`")
	var pages pageFlags
	pages.define(fs)
	return func(ctx context.Context, c *cli, _ []string) error {
		req := &liaisonv1.ListManifestsRequest{ReceivingAgency: *to, OriginAgency: *from}
		var err error
		if *state != "" {
			if req.State, err = parseEnum[liaisonv1.ManifestState](*state, nil); err != nil {
				return usageErrorf("--state: %v", err)
			}
		}
		if req.PageSize, err = pages.pageSize(); err != nil {
			return err
		}
		svc, err := c.manifestService()
		if err != nil {
			return err
		}
		out := &liaisonv1.ListManifestsResponse{}
		out.NextPageToken, err = pages.fetch(c, func(token string) (string, error) {
			req.PageToken = token
			resp, err := svc.ListManifests(ctx, req)
			out.Manifests = append(out.Manifests, resp.GetManifests()...)
			return resp.GetNextPageToken(), err
		})
		if err != nil {
			return err
		}
		return c.print(out, func(w io.Writer) {
			manifestTable(w, out.GetManifests())
			printNextPage(w, out.GetNextPageToken())
		})
	}
}

// manifestUpdatePaths are the fields of a draft UpdateManifest changes.
var manifestUpdatePaths = []string{"legal_basis", "transport", "escorts"}

func manifestsUpdate(fs *flag.FlagSet) handler {
	file := fs.String("f", "", "read the changes from `FILE`: a partial Manifest in protojson whose top-level keys (legalBasis, transport, escorts) name the fields to change (- for stdin)")
	etag := fs.String("etag", "", "change the manifest only if it is still at `ETAG` (default: the etag in the patch, else the manifest's current one)")
	return func(ctx context.Context, c *cli, args []string) error {
		if *file == "" {
			return usageErrorf("manifests update needs -f PATCH")
		}
		patch := &liaisonv1.Manifest{}
		mask, err := c.readPatch(*file, args[0], *etag, patch, func() (string, error) {
			svc, err := c.manifestService()
			if err != nil {
				return "", err
			}
			cur, err := svc.GetManifest(ctx, &liaisonv1.GetManifestRequest{Id: args[0]})
			return cur.GetManifest().GetEtag(), err
		})
		if err != nil {
			return err
		}
		for _, p := range mask.GetPaths() {
			if !slices.Contains(manifestUpdatePaths, p) {
				return usageErrorf("%s: %s cannot be changed by an update; a draft's %s can", *file, p, strings.Join(manifestUpdatePaths, ", "))
			}
		}
		svc, err := c.manifestService()
		if err != nil {
			return err
		}
		resp, err := svc.UpdateManifest(ctx, &liaisonv1.UpdateManifestRequest{Manifest: patch, UpdateMask: mask})
		if err != nil {
			return err
		}
		return c.printManifest(resp)
	}
}

func manifestsAddPerson(fs *flag.FlagSet) handler {
	file := fs.String("f", "", "read the person from `FILE`, a liaison.v1.ManifestPerson in protojson: identity, fitness, medicalNeeds, vulnerabilities (- for stdin)")
	return func(ctx context.Context, c *cli, args []string) error {
		if *file == "" {
			return usageErrorf("manifests add-person needs -f FILE")
		}
		p := &liaisonv1.ManifestPerson{}
		if _, err := c.readProtoJSON(*file, p); err != nil {
			return err
		}
		svc, err := c.manifestService()
		if err != nil {
			return err
		}
		resp, err := svc.AddPerson(ctx, &liaisonv1.AddPersonRequest{ManifestId: args[0], Person: p})
		if err != nil {
			return err
		}
		return c.print(resp, func(w io.Writer) {
			fmt.Fprintf(w, "added person %s\n\n", resp.GetPerson().GetId())
			c.manifestDetail(w, resp.GetManifest(), nil)
		})
	}
}

func manifestsUpdatePerson(fs *flag.FlagSet) handler {
	file := fs.String("f", "", "read the person from `FILE`, a liaison.v1.ManifestPerson in protojson with its id (- for stdin)")
	person := fs.String("person", "", "the `PERSON` to update, if the file has no id")
	return func(ctx context.Context, c *cli, args []string) error {
		if *file == "" {
			return usageErrorf("manifests update-person needs -f FILE")
		}
		p := &liaisonv1.ManifestPerson{}
		if _, err := c.readProtoJSON(*file, p); err != nil {
			return err
		}
		switch {
		case *person != "" && p.GetId() != "" && p.GetId() != *person:
			return usageErrorf("--person %s, but %s is person %s", *person, *file, p.GetId())
		case *person != "":
			p.Id = *person
		case p.GetId() == "":
			return usageErrorf("manifests update-person needs the person's id, in the file or as --person PERSON")
		}
		svc, err := c.manifestService()
		if err != nil {
			return err
		}
		// The identity's own id stays what it is: a file written without
		// it describes the same person, not a new one (the node would give
		// an identity without an id a new one, which once the manifest is
		// proposed counts as changing a verified identity).
		if p.GetIdentity() != nil && p.GetIdentity().GetId() == "" {
			cur, err := svc.GetManifest(ctx, &liaisonv1.GetManifestRequest{Id: args[0]})
			if err != nil {
				return err
			}
			for _, q := range cur.GetManifest().GetPersons() {
				if q.GetId() == p.GetId() {
					p.Identity.Id = q.GetIdentity().GetId()
				}
			}
		}
		resp, err := svc.UpdatePerson(ctx, &liaisonv1.UpdatePersonRequest{ManifestId: args[0], Person: p})
		if err != nil {
			return err
		}
		return c.printManifest(resp)
	}
}

func manifestsRemovePerson(*flag.FlagSet) handler {
	return func(ctx context.Context, c *cli, args []string) error {
		svc, err := c.manifestService()
		if err != nil {
			return err
		}
		resp, err := svc.RemovePerson(ctx, &liaisonv1.RemovePersonRequest{ManifestId: args[0], PersonId: args[1]})
		if err != nil {
			return err
		}
		return c.printManifest(resp)
	}
}

func manifestsScreen(fs *flag.FlagSet) handler {
	claim := fs.String("claim", "", "the asylum or protection `CLAIM`: none, pending or decided")
	assessment := fs.String("assessment", "", "the non-refoulement `ASSESSMENT`: cleared or concern")
	officer := fs.String("officer", "", "the `NAME` of the officer who made the assessment")
	bid := fs.Bool("bid", false, "a best-interests determination was made (required for unaccompanied minors)")
	bidRef := fs.String("bid-ref", "", "the reference (`REF`) of the best-interests determination")
	notes := fs.String("notes", "", "notes on the screening (`TEXT`), kept on this node only")
	return func(ctx context.Context, c *cli, args []string) error {
		var missing []string
		for _, f := range []struct{ v, name string }{{*claim, "--claim"}, {*assessment, "--assessment"}, {*officer, "--officer"}} {
			if strings.TrimSpace(f.v) == "" {
				missing = append(missing, f.name)
			}
		}
		if len(missing) > 0 {
			return usageErrorf("manifests screen needs %s", strings.Join(missing, ", "))
		}
		if *bidRef != "" && !*bid {
			return usageErrorf("--bid-ref names a best-interests determination: give --bid too")
		}
		sc := &liaisonv1.Screening{AssessingOfficer: *officer, BestInterestsDetermined: *bid, BestInterestsReference: *bidRef, Notes: *notes}
		var err error
		if sc.Claim, err = parseEnum[liaisonv1.ClaimStatus](*claim, nil); err != nil {
			return usageErrorf("--claim: %v", err)
		}
		if sc.Assessment, err = parseEnum[liaisonv1.Assessment](*assessment, nil); err != nil {
			return usageErrorf("--assessment: %v", err)
		}
		svc, err := c.manifestService()
		if err != nil {
			return err
		}
		resp, err := svc.RecordScreening(ctx, &liaisonv1.RecordScreeningRequest{ManifestId: args[0], PersonId: args[1], Screening: sc})
		if err != nil {
			return err
		}
		return c.print(resp, func(w io.Writer) { manifestScreeningRecorded(w, args[0], args[1], resp) })
	}
}

// manifestsTransition is a sending-side transition without arguments:
// propose or depart.
func manifestsTransition(verb string) func(*flag.FlagSet) handler {
	return func(*flag.FlagSet) handler {
		return func(ctx context.Context, c *cli, args []string) error {
			svc, err := c.manifestService()
			if err != nil {
				return err
			}
			var resp manifestResponse
			switch verb {
			case "propose":
				resp, err = svc.ProposeManifest(ctx, &liaisonv1.ProposeManifestRequest{Id: args[0]})
			case "depart":
				resp, err = svc.DepartManifest(ctx, &liaisonv1.DepartManifestRequest{Id: args[0]})
			}
			if err != nil {
				return safeguardNotes(err, args[0])
			}
			return c.printManifest(resp)
		}
	}
}

func manifestsReview(fs *flag.FlagSet) handler {
	nationality := fs.String("nationality", "", "the verification, `STATUS`: confirmed or not-confirmed (the person is then excluded)")
	reason := fs.String("reason", "", "why the nationality is not confirmed (`TEXT`, shared with the sending agency)")
	return func(ctx context.Context, c *cli, args []string) error {
		req := &liaisonv1.ReviewPersonRequest{ManifestId: args[0], PersonId: args[1], Reason: *reason}
		switch strings.ToLower(strings.ReplaceAll(strings.TrimSpace(*nationality), "_", "-")) {
		case "confirmed":
			req.Nationality = liaisonv1.NationalityStatus_NATIONALITY_STATUS_CONFIRMED
		case "not-confirmed":
			req.Nationality = liaisonv1.NationalityStatus_NATIONALITY_STATUS_NOT_CONFIRMED
			if strings.TrimSpace(*reason) == "" {
				return usageErrorf("--nationality not-confirmed needs --reason TEXT")
			}
		case "":
			return usageErrorf("manifests review needs --nationality confirmed|not-confirmed")
		default:
			return usageErrorf("--nationality: %q is not one of confirmed, not-confirmed", *nationality)
		}
		svc, err := c.manifestService()
		if err != nil {
			return err
		}
		resp, err := svc.ReviewPerson(ctx, req)
		if err != nil {
			return err
		}
		return c.printAction(ctx, resp, nil, resp.GetAction(), args[0], "")
	}
}

func manifestsAccept(*flag.FlagSet) handler {
	return func(ctx context.Context, c *cli, args []string) error {
		svc, err := c.manifestService()
		if err != nil {
			return err
		}
		resp, err := svc.AcceptManifest(ctx, &liaisonv1.AcceptManifestRequest{Id: args[0]})
		if err != nil {
			return err
		}
		return c.printAction(ctx, resp, nil, resp.GetAction(), args[0], "")
	}
}

func manifestsSchedule(fs *flag.FlagSet) handler {
	departure := fs.String("departure", "", "departure `TIME` (RFC 3339), required")
	flight := fs.String("flight", "", "flight or vehicle `NUMBER`")
	carrier := fs.String("carrier", "", "the carrier's `NAME`")
	mode := fs.String("mode", "", "how the persons travel, `MODE`: air, sea, land or rail")
	from := fs.String("from", "", "the departure `PLACE`")
	toPlace := fs.String("to-place", "", "the arrival `PLACE`")
	arrival := fs.String("arrival", "", "arrival `TIME` (RFC 3339)")
	return func(ctx context.Context, c *cli, args []string) error {
		if *departure == "" {
			return usageErrorf("manifests schedule needs --departure TIME")
		}
		t := &liaisonv1.Transport{Carrier: *carrier, VehicleNumber: *flight, DeparturePlace: *from, ArrivalPlace: *toPlace}
		var err error
		if t.DepartureTime, err = parseTime("--departure", *departure); err != nil {
			return err
		}
		if t.ArrivalTime, err = parseTime("--arrival", *arrival); err != nil {
			return err
		}
		if *mode != "" {
			if t.Mode, err = parseEnum[liaisonv1.TransportMode](*mode, nil); err != nil {
				return usageErrorf("--mode: %v", err)
			}
		}
		svc, err := c.manifestService()
		if err != nil {
			return err
		}
		resp, err := svc.ScheduleManifest(ctx, &liaisonv1.ScheduleManifestRequest{Id: args[0], Transport: t})
		if err != nil {
			return safeguardNotes(err, args[0])
		}
		return c.printManifest(resp)
	}
}

func manifestsHandover(fs *flag.FlagSet) handler {
	st := fs.String("status", "", "the outcome, `STATUS`: handed-over or not-handed-over")
	reason := fs.String("reason", "", "why the person was not handed over (`TEXT`, shared with the sending agency)")
	return func(ctx context.Context, c *cli, args []string) error {
		req := &liaisonv1.RecordHandoverRequest{ManifestId: args[0], PersonId: args[1], Reason: *reason}
		switch strings.ToLower(strings.ReplaceAll(strings.TrimSpace(*st), "_", "-")) {
		case "handed-over":
			req.Status = liaisonv1.HandoverStatus_HANDOVER_STATUS_HANDED_OVER
		case "not-handed-over":
			req.Status = liaisonv1.HandoverStatus_HANDOVER_STATUS_NOT_HANDED_OVER
			if strings.TrimSpace(*reason) == "" {
				return usageErrorf("--status not-handed-over needs --reason TEXT")
			}
		case "":
			return usageErrorf("manifests handover needs --status handed-over|not-handed-over")
		default:
			return usageErrorf("--status: %q is not one of handed-over, not-handed-over", *st)
		}
		svc, err := c.manifestService()
		if err != nil {
			return err
		}
		resp, err := svc.RecordHandover(ctx, req)
		if err != nil {
			return safeguardNotes(err, args[0])
		}
		return c.printAction(ctx, resp, nil, resp.GetAction(), args[0], "")
	}
}

// reasonFlag defines the --reason flag of a command that needs one.
func manifestReasonFlag(fs *flag.FlagSet, what string) *string {
	return fs.String("reason", "", what+" (`TEXT`, required)")
}

func manifestNeedReason(reason, command string) error {
	if strings.TrimSpace(reason) == "" {
		return usageErrorf("manifests %s needs --reason TEXT", command)
	}
	return nil
}

func manifestsCancel(fs *flag.FlagSet) handler {
	reason := manifestReasonFlag(fs, "why the manifest is cancelled, shared with the partner agency")
	return func(ctx context.Context, c *cli, args []string) error {
		if err := manifestNeedReason(*reason, "cancel"); err != nil {
			return err
		}
		svc, err := c.manifestService()
		if err != nil {
			return err
		}
		resp, err := svc.CancelManifest(ctx, &liaisonv1.CancelManifestRequest{Id: args[0], Reason: *reason})
		if err != nil {
			return err
		}
		return c.printAction(ctx, resp, resp.GetManifest(), resp.GetAction(), args[0], "")
	}
}

func manifestsWithdraw(fs *flag.FlagSet) handler {
	reason := manifestReasonFlag(fs, "why the person is withdrawn, kept on this node only (the partner learns only that they were)")
	return func(ctx context.Context, c *cli, args []string) error {
		if err := manifestNeedReason(*reason, "withdraw"); err != nil {
			return err
		}
		svc, err := c.manifestService()
		if err != nil {
			return err
		}
		resp, err := svc.WithdrawPerson(ctx, &liaisonv1.WithdrawPersonRequest{ManifestId: args[0], PersonId: args[1], Reason: *reason})
		if err != nil {
			return err
		}
		return c.printManifest(resp)
	}
}

func manifestsHold(fs *flag.FlagSet) handler {
	reason := manifestReasonFlag(fs, "why the person is held, kept on this node only")
	return func(ctx context.Context, c *cli, args []string) error {
		if err := manifestNeedReason(*reason, "hold"); err != nil {
			return err
		}
		svc, err := c.manifestService()
		if err != nil {
			return err
		}
		resp, err := svc.PlaceHold(ctx, &liaisonv1.PlaceHoldRequest{ManifestId: args[0], PersonId: args[1], Reason: *reason})
		if err != nil {
			return err
		}
		what := fmt.Sprintf("hold %s placed on person %s", resp.GetHoldId(), args[1])
		if resp.GetAction() == nil {
			return c.printAction(ctx, resp, resp.GetManifest(), nil, args[0], what)
		}
		home := c.manifestHome(ctx, args[0])
		return c.print(resp, func(w io.Writer) {
			fmt.Fprintln(w, manifestPendingLine(resp.GetAction(), args[0], home))
			fmt.Fprintf(w, "hold id: %s (to lift it: liaisonctl manifests lift-hold %s %s %s --reason TEXT)\n", resp.GetHoldId(), args[0], args[1], resp.GetHoldId())
		})
	}
}

func manifestsLiftHold(fs *flag.FlagSet) handler {
	reason := manifestReasonFlag(fs, "why the hold is lifted, kept on this node only")
	return func(ctx context.Context, c *cli, args []string) error {
		if err := manifestNeedReason(*reason, "lift-hold"); err != nil {
			return err
		}
		svc, err := c.manifestService()
		if err != nil {
			return err
		}
		resp, err := svc.LiftHold(ctx, &liaisonv1.LiftHoldRequest{ManifestId: args[0], PersonId: args[1], HoldId: args[2], Reason: *reason})
		if err != nil {
			return err
		}
		return c.printAction(ctx, resp, resp.GetManifest(), resp.GetAction(), args[0], fmt.Sprintf("hold %s on person %s lifted", args[2], args[1]))
	}
}

func manifestsSeparate(fs *flag.FlagSet) handler {
	reason := manifestReasonFlag(fs, "what shows they are different people, kept on this node only")
	return func(ctx context.Context, c *cli, args []string) error {
		if err := manifestNeedReason(*reason, "separate"); err != nil {
			return err
		}
		svc, err := c.manifestService()
		if err != nil {
			return err
		}
		resp, err := svc.SeparatePersons(ctx, &liaisonv1.SeparatePersonsRequest{ManifestId: args[0], PersonId: args[1], OtherManifestId: args[2], OtherPersonId: args[3], Reason: *reason})
		if err != nil {
			return err
		}
		return c.print(resp, func(w io.Writer) {
			fmt.Fprintf(w, "person %s (manifest %s) and person %s (manifest %s) recorded as different people\n", args[1], args[0], args[3], args[2])
		})
	}
}

func manifestsHistory(*flag.FlagSet) handler {
	return func(ctx context.Context, c *cli, args []string) error {
		svc, err := c.manifestService()
		if err != nil {
			return err
		}
		resp, err := svc.ListManifestHistory(ctx, &liaisonv1.ListManifestHistoryRequest{Id: args[0]})
		if err != nil {
			return err
		}
		return c.print(resp, func(w io.Writer) { manifestHistoryTable(w, resp.GetEvents()) })
	}
}

// safeguardClears says, per safeguard rule, the command that clears it;
// MANIFEST stands for the manifest's id.
var safeguardClears = map[string]string{
	"safeguard.screening_missing":      "liaisonctl manifests screen MANIFEST PERSON --claim none|pending|decided --assessment cleared|concern --officer NAME",
	"safeguard.claim_pending":          "liaisonctl manifests remove-person MANIFEST PERSON (a draft) or withdraw MANIFEST PERSON --reason TEXT; or, once the claim is decided, screen again with --claim decided",
	"safeguard.protection_concern":     "liaisonctl manifests remove-person MANIFEST PERSON (a draft) or withdraw MANIFEST PERSON --reason TEXT",
	"safeguard.best_interests_missing": "liaisonctl manifests screen MANIFEST PERSON … --bid --bid-ref REF",
	"safeguard.unfit":                  "liaisonctl manifests update-person MANIFEST -f PERSON.json with the new fitness, or withdraw the person",
	"safeguard.fitness_unknown":        "liaisonctl manifests update-person MANIFEST -f PERSON.json with the assessed fitness",
	"safeguard.protection_hold":        "liaisonctl manifests lift-hold MANIFEST PERSON HOLD --reason TEXT, by the agency that placed the hold (see manifests get)",
}

// safeguardNotes adds to a refusal by the safeguards, below the node's
// list of each person and broken rule, the command that clears each rule.
func safeguardNotes(err error, manifestID string) error {
	var re *rpcError
	if !errors.As(err, &re) || re.st.Code() != codes.FailedPrecondition {
		return err
	}
	var notes []string
	seen := map[string]bool{}
	for _, d := range re.st.Details() {
		pf, ok := d.(*errdetails.PreconditionFailure)
		if !ok {
			continue
		}
		for _, v := range pf.GetViolations() {
			how, ok := safeguardClears[v.GetType()]
			if !ok || seen[v.GetType()] {
				continue
			}
			seen[v.GetType()] = true
			notes = append(notes, fmt.Sprintf("to clear %s: %s", v.GetType(), strings.ReplaceAll(how, "MANIFEST", manifestID)))
		}
	}
	if len(notes) == 0 {
		return err
	}
	return &noteError{err, notes}
}
