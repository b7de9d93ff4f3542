// Package retention purges records past their review date: an own lead
// whose review date has passed and that no open case links loses its
// content on the home node, every partner that holds a copy is sent a
// tombstone (as for a withdrawal), and the purge is recorded in the audit
// log. RetentionService previews and runs the purge; Run runs it on a
// schedule.
package retention

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/identity"
	"github.com/liaison-exchange/liaison/server/leads"
	"github.com/liaison-exchange/liaison/server/store"
)

// Options configure the purge.
type Options struct {
	Agency string
	// Interval is how often the scheduled purge runs (0: never on its own).
	Interval time.Duration
	// Now is the clock; the review date is compared with today's date in
	// UTC.
	Now    func() time.Time
	Logger *slog.Logger
	// Principal names the scheduled purge in the audit log (default
	// "node/retention"; role "node").
	Principal string
	// AuditContentRetention is how long the detail of audit events that
	// carry personal data is kept (audit.PersonalData); the scheduled run
	// erases it after that. 0: never.
	AuditContentRetention time.Duration
}

const (
	// maxPerRun bounds the leads one run purges (and a preview lists), so
	// a response stays small; the scheduled purge runs again at once while
	// a run is full.
	maxPerRun = 1000
	// maxKept bounds the kept leads a response lists.
	maxKept = 1000
	// batchSize is the number of leads purged in one transaction.
	batchSize = 100
	// pageSize is how many expired leads are read at a time.
	pageSize = 500
	// startDelay is how soon after start the first scheduled purge runs
	// (or Interval, if shorter): a node that was down at the scheduled
	// time catches up without slowing its start.
	startDelay = time.Minute
)

// Server implements liaisonv1.RetentionServiceServer and runs the purge.
type Server struct {
	liaisonv1.UnimplementedRetentionServiceServer
	store *store.Store
	opts  Options
	// mu makes purges (scheduled or called) run one at a time.
	mu sync.Mutex
}

var _ liaisonv1.RetentionServiceServer = (*Server)(nil)

// New returns the retention service.
func New(s *store.Store, o Options) *Server {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Principal == "" {
		o.Principal = "node/retention"
	}
	return &Server{store: s, opts: o}
}

// PreviewPurge implements liaisonv1.RetentionServiceServer.
func (s *Server) PreviewPurge(ctx context.Context, _ *liaisonv1.PreviewPurgeRequest) (*liaisonv1.PreviewPurgeResponse, error) {
	audit.SetResource(ctx, "leads")
	p, err := s.plan(ctx)
	if err != nil {
		return nil, err
	}
	audit.SetDetail(ctx, fmt.Sprintf("preview as of %s: %d to purge, %d kept", p.today, len(p.purge), len(p.keep)))
	audit.SetRecords(ctx, itemIDs(p.purge, p.keep)) // the answer shows their titles
	return &liaisonv1.PreviewPurgeResponse{AsOf: timestamppb.New(p.asOf), Purge: p.purge, Keep: p.keep}, nil
}

// itemIDs are the leads of purge items.
func itemIDs(lists ...[]*liaisonv1.PurgeItem) []string {
	var out []string
	for _, l := range lists {
		for _, it := range l {
			out = append(out, it.GetRecordId())
		}
	}
	return out
}

// RunPurge implements liaisonv1.RetentionServiceServer.
func (s *Server) RunPurge(ctx context.Context, _ *liaisonv1.RunPurgeRequest) (*liaisonv1.RunPurgeResponse, error) {
	audit.SetResource(ctx, "leads")
	a := actor{}
	if call := audit.FromContext(ctx); call != nil {
		a = actor{principal: call.Principal, role: call.Role, requestID: call.RequestID}
	} else if id, ok := identity.FromContext(ctx); ok {
		a = actor{principal: id.ID, role: string(id.Role)}
	}
	// The purge commits in batches, each lead with its own audit event
	// naming the caller; the call's own event, with the totals, follows.
	resp, _, err := s.purge(audit.NewContext(ctx, nil), a)
	if resp != nil {
		audit.SetDetail(ctx, fmt.Sprintf("purged %d, kept %d", len(resp.GetPurged()), len(resp.GetKept())))
		audit.SetRecords(ctx, itemIDs(resp.GetPurged(), resp.GetKept()))
	}
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// Run purges shortly after start and then every Interval until ctx is
// done.
func (s *Server) Run(ctx context.Context) {
	if s.opts.Interval <= 0 {
		return
	}
	t := time.NewTimer(min(s.opts.Interval, startDelay))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.scheduled(ctx)
		t.Reset(s.opts.Interval)
	}
}

// scheduled runs the purge until nothing expired and unlinked is left.
func (s *Server) scheduled(ctx context.Context) {
	a := actor{principal: s.opts.Principal, role: string(identity.Node)}
	var purged, kept int
	var blanked int64
	for {
		resp, b, err := s.purge(ctx, a)
		if resp != nil {
			purged += len(resp.GetPurged())
			kept = len(resp.GetKept())
		}
		blanked += b
		if err != nil {
			if ctx.Err() == nil {
				s.opts.Logger.Error("retention purge failed", "err", err, "purged", purged)
			}
			return
		}
		if len(resp.GetPurged()) < maxPerRun {
			break
		}
	}
	s.opts.Logger.Info("retention purge", "purged", purged, "kept_linked_to_open_cases", kept, "delivered_envelopes_emptied", blanked)
	s.eraseAuditContent(ctx, a)
}

// eraseAuditContent erases the personal data in audit events past their
// content retention period, and records that it did.
func (s *Server) eraseAuditContent(ctx context.Context, a actor) {
	if s.opts.AuditContentRetention <= 0 {
		return
	}
	before := s.opts.Now().Add(-s.opts.AuditContentRetention)
	n, err := s.store.EraseAuditContent(ctx, before)
	if err != nil {
		if ctx.Err() == nil {
			s.opts.Logger.Error("erasing audit content failed", "err", err)
		}
		return
	}
	if n == 0 {
		return
	}
	s.opts.Logger.Info("audit content erased", "events", n, "written_before", before)
	if err := s.store.AppendAudit(ctx, audit.Event{Principal: a.principal, Role: a.role, Action: "audit.content_erased", Resource: "audit_events",
		Outcome: "OK", Detail: fmt.Sprintf("the detail of %d events written before %s that carry personal data", n, before.UTC().Format(time.RFC3339))}); err != nil && ctx.Err() == nil {
		s.opts.Logger.Error("recording the audit content erasure failed", "err", err)
	}
}

// actor is who the audit events of a purge name.
type actor struct{ principal, role, requestID string }

// plan is what a purge would do now.
type plan struct {
	asOf        time.Time
	today       string
	purge, keep []*liaisonv1.PurgeItem
}

// plan lists the own leads whose review date is before today (UTC) and
// whose content is still held: those an open case links are kept, the
// others (up to maxPerRun, oldest review date first) are to be purged.
func (s *Server) plan(ctx context.Context) (*plan, error) {
	p := &plan{asOf: s.opts.Now().UTC()}
	p.today = p.asOf.Format(time.DateOnly)
	var cur store.ExpiredCursor
	for {
		page, err := s.store.ExpiredLeads(ctx, s.opts.Agency, p.today, cur, pageSize)
		if err != nil {
			return nil, err
		}
		for _, e := range page {
			links, err := s.store.CasesLinkingLead(ctx, e.Lead.GetId())
			if err != nil {
				return nil, err
			}
			if why := keptBecause(links); why != "" {
				if len(p.keep) < maxKept {
					p.keep = append(p.keep, keptItem(e, why))
				}
				continue
			}
			if len(p.purge) == maxPerRun {
				return p, nil
			}
			p.purge = append(p.purge, purgeItem(e))
		}
		if len(page) < pageSize {
			return p, nil
		}
		last := page[len(page)-1]
		cur = store.ExpiredCursor{ReviewDate: last.ReviewDate, ID: last.Lead.GetId()}
	}
}

// purge carries out the plan, batchSize leads per transaction, each one
// checked again inside its transaction. It first blanks the envelopes of
// earlier purges that have been receipted since; it returns how many.
func (s *Server) purge(ctx context.Context, a actor) (*liaisonv1.RunPurgeResponse, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	blanked, err := s.blankPending(ctx)
	if err != nil {
		return nil, blanked, err
	}
	p, err := s.plan(ctx)
	if err != nil {
		return nil, blanked, err
	}
	resp := &liaisonv1.RunPurgeResponse{Time: timestamppb.New(p.asOf), Kept: p.keep}
	for start := 0; start < len(p.purge); start += batchSize {
		batch := p.purge[start:min(start+batchSize, len(p.purge))]
		var purged, kept []*liaisonv1.PurgeItem
		err := s.store.Write(ctx, func(tx *store.Tx) error {
			purged, kept = purged[:0], kept[:0]
			for _, it := range batch {
				done, why, err := s.purgeLead(tx, it, p.today, a)
				if err != nil {
					return err
				}
				switch {
				case done:
					purged = append(purged, it)
				case why != "":
					// Linked to an open case since the plan was made.
					kept = append(kept, &liaisonv1.PurgeItem{RecordId: it.GetRecordId(), Title: it.GetTitle(), ReviewDate: it.GetReviewDate(), KeptBecause: why})
				}
			}
			return nil
		})
		if err != nil {
			return resp, blanked, fmt.Errorf("purge leads: %w", err)
		}
		resp.Purged = append(resp.Purged, purged...)
		resp.Kept = append(resp.Kept, kept...)
	}
	return resp, blanked, nil
}

// purgeLead purges one lead in tx if it is still due: it keeps a tombstone
// of it (content deleted, status withdrawn, next version; the person index
// and the change feed follow), sends a tombstone to every partner it was
// released to, blanks the copies of its content in the outbox that partners
// have receipted, and appends the audit event. It reports whether it
// purged, or why it kept the lead; neither means the lead is no longer due
// (purged meanwhile, or its review date moved).
func (s *Server) purgeLead(tx *store.Tx, it *liaisonv1.PurgeItem, today string, a actor) (done bool, kept string, err error) {
	e, err := tx.ExpiredLead(it.GetRecordId(), s.opts.Agency, today)
	if err != nil || e == nil {
		return false, "", err
	}
	links, err := tx.CasesLinkingLead(it.GetRecordId())
	if err != nil {
		return false, "", err
	}
	if why := keptBecause(links); why != "" {
		return false, why, nil
	}
	// The lead lifecycle deletes the content, keeps a tombstone and sends
	// it to every partner that holds a copy.
	cur := e.Lead
	gone, err := leads.DeleteContent(tx, cur)
	if err != nil {
		return false, "", err
	}
	blanked, waiting, err := tx.BlankDelivered(gone.GetId(), liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD)
	if err != nil {
		return false, "", err
	}
	if waiting > 0 {
		if err := tx.SetBlankPending(gone.GetId(), true); err != nil {
			return false, "", err
		}
	}
	told := "no partner held it"
	if len(cur.GetReleasedTo()) > 0 {
		told = "tombstone sent to " + strings.Join(cur.GetReleasedTo(), ", ")
	}
	detail := fmt.Sprintf("review date %s passed (purged %s): content deleted, v%d kept as a tombstone; %s; %d delivered envelopes emptied",
		e.ReviewDate, today, gone.GetVersion(), told, blanked)
	if waiting > 0 {
		detail += fmt.Sprintf(", %d still in flight (emptied once receipted)", waiting)
	}
	if err := tx.Audit(&audit.Event{
		Principal: a.principal, Role: a.role, Action: "retention.purge", Resource: "leads/" + gone.GetId(),
		Outcome: "OK", RequestID: a.requestID, Detail: detail,
	}); err != nil {
		return false, "", err
	}
	return true, "", nil
}

// blankPending empties the envelopes of purged leads that were in flight
// at the purge and have been receipted since.
func (s *Server) blankPending(ctx context.Context) (int64, error) {
	var total int64
	after := ""
	for {
		ids, err := s.store.BlankPending(ctx, after, batchSize)
		if err != nil || len(ids) == 0 {
			return total, err
		}
		var n int64
		err = s.store.Write(ctx, func(tx *store.Tx) error {
			n = 0
			for _, id := range ids {
				blanked, waiting, err := tx.BlankDelivered(id, liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD)
				if err != nil {
					return err
				}
				n += blanked
				if waiting == 0 {
					if err := tx.SetBlankPending(id, false); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("empty delivered envelopes: %w", err)
		}
		total += n
		if len(ids) < batchSize {
			return total, nil
		}
		after = ids[len(ids)-1]
	}
}

// keptBecause says why links keep a lead ("" if none is an open case).
func keptBecause(links []store.CaseLink) string {
	var why []string
	for _, l := range links {
		if l.Status != liaisonv1.CaseStatus_CASE_STATUS_CLOSED {
			why = append(why, fmt.Sprintf("linked to %s case %s", caseStatus(l.Status), l.CaseID))
		}
	}
	return strings.Join(why, "; ")
}

func caseStatus(s liaisonv1.CaseStatus) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "CASE_STATUS_"))
}

func purgeItem(e store.ExpiredLead) *liaisonv1.PurgeItem {
	return &liaisonv1.PurgeItem{
		RecordId: e.Lead.GetId(), Title: e.Lead.GetTitle(), ReviewDate: e.ReviewDate, Partners: e.Lead.GetReleasedTo(),
	}
}

func keptItem(e store.ExpiredLead, why string) *liaisonv1.PurgeItem {
	return &liaisonv1.PurgeItem{RecordId: e.Lead.GetId(), Title: e.Lead.GetTitle(), ReviewDate: e.ReviewDate, KeptBecause: why}
}
