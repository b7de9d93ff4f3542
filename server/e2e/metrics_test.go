package e2e

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/config"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// sample is one line of the Prometheus text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// scrape reads a node's /metrics over HTTP and parses the samples.
func scrape(t *testing.T, n *nodetest.Node) []sample {
	t.Helper()
	if n.MetricsAddr == "" {
		t.Fatalf("%s serves no metrics", n.Agency)
	}
	resp, err := http.Get("http://" + n.MetricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s\n%s", resp.Status, body)
	}
	var out []sample
	for line := range strings.SplitSeq(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := parseSample(line)
		if err != nil {
			t.Fatalf("%v in line %q", err, line)
		}
		out = append(out, s)
	}
	return out
}

// parseSample parses `name{k="v",…} value` (no timestamps: the client
// library writes none).
func parseSample(line string) (sample, error) {
	s := sample{labels: map[string]string{}}
	i := strings.IndexAny(line, "{ ")
	if i < 0 {
		return s, fmt.Errorf("no value")
	}
	s.name, line = line[:i], line[i:]
	if line[0] == '{' {
		line = line[1:]
		for line[0] != '}' {
			eq := strings.IndexByte(line, '=')
			if eq < 0 || len(line) < eq+2 || line[eq+1] != '"' {
				return s, fmt.Errorf("bad label")
			}
			key := line[:eq]
			line = line[eq+2:]
			var v strings.Builder
			for ; line[0] != '"'; line = line[1:] {
				if line[0] == '\\' {
					line = line[1:]
					if line[0] == 'n' {
						v.WriteByte('\n')
						continue
					}
				}
				v.WriteByte(line[0])
			}
			s.labels[key] = v.String()
			line = strings.TrimPrefix(line[1:], ",")
		}
		line = line[1:]
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(line), 64)
	s.value = v
	return s, err
}

// value is the value of the one sample of name whose labels include want
// ("key=value" pairs); the test fails if there is none or several.
func value(t *testing.T, samples []sample, name string, want ...string) float64 {
	t.Helper()
	var found []sample
next:
	for _, s := range samples {
		if s.name != name {
			continue
		}
		for _, kv := range want {
			k, v, _ := strings.Cut(kv, "=")
			if s.labels[k] != v {
				continue next
			}
		}
		found = append(found, s)
	}
	if len(found) != 1 {
		t.Fatalf("%d samples of %s%v, want 1: %v", len(found), name, want, found)
	}
	return found[0].value
}

// wantValue checks the value of one sample.
func wantValue(t *testing.T, samples []sample, want float64, name string, labels ...string) {
	t.Helper()
	if got := value(t, samples, name, labels...); got != want {
		t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

// TestMetrics_EndpointAfterScenario: after a scripted scenario — leads
// created, two released, one withdrawn, two failed calls, a drift check —
// both nodes' /metrics expose the named series with exactly the values the
// scenario implies.
func TestMetrics_EndpointAfterScenario(t *testing.T) {
	t.Parallel()
	a, b := nodetest.Pair(t, func(c *config.Config) { c.Metrics.Listen = "127.0.0.1:0" })
	alpha, bravo := clients(t, a), clients(t, b)
	ctx := context.Background()

	var ids []string
	for i := range 3 {
		c, err := alpha.analyst.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: newLead(fmt.Sprintf("metrics lead %d", i))})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.GetLead().GetId())
	}
	for _, id := range ids[:2] {
		if _, err := alpha.supervisor.ReleaseLead(ctx, &liaisonv1.ReleaseLeadRequest{Id: id, Partners: []string{"bravo"}}); err != nil {
			t.Fatal(err)
		}
	}
	w, err := alpha.supervisor.WithdrawLead(ctx, &liaisonv1.WithdrawLeadRequest{Id: ids[1], Reason: "source withdrew"})
	if err != nil {
		t.Fatal(err)
	}
	// Two failed calls: an analyst may not withdraw; an unknown lead.
	if _, err := alpha.analyst.WithdrawLead(ctx, &liaisonv1.WithdrawLeadRequest{Id: ids[0], Reason: "not mine to withdraw"}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("analyst withdraws: %v, want PermissionDenied", err)
	}
	if _, err := alpha.analyst.GetLead(ctx, &liaisonv1.GetLeadRequest{Id: uuid.Must(uuid.NewV7()).String()}); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown lead: %v, want NotFound", err)
	}

	// Every envelope receipted: 2 releases and the tombstone.
	bravo.waitVersion(t, ids[1], w.GetLead().GetVersion())
	nodetest.Eventually(t, 10*time.Second, func() error {
		st, err := alpha.admin.GetFederationStatus(ctx, &liaisonv1.GetFederationStatusRequest{})
		if err != nil {
			return err
		}
		if p := st.GetPartners()[0]; p.GetLastSequenceAcknowledged() != 3 || p.GetEnvelopesWaiting() != 0 {
			return fmt.Errorf("bravo acknowledged %d of 3, %d waiting", p.GetLastSequenceAcknowledged(), p.GetEnvelopesWaiting())
		}
		return nil
	})
	check, err := alpha.admin.CheckDrift(ctx, &liaisonv1.CheckDriftRequest{})
	if err != nil || len(check.GetResults()) != 1 || !check.GetResults()[0].GetInStep() {
		t.Fatalf("drift check: %v %v", check, err)
	}

	t.Run("Alpha", func(t *testing.T) {
		m := scrape(t, a)
		wantValue(t, m, 3, "liaison_records", "agency=alpha", "kind=lead", "origin=alpha")
		wantValue(t, m, 0, "liaison_records", "kind=case", "origin=alpha")
		wantValue(t, m, 0, "liaison_records", "kind=manifest", "origin=alpha")
		wantValue(t, m, 1, "liaison_leads", "origin=alpha", "status=draft")
		wantValue(t, m, 1, "liaison_leads", "origin=alpha", "status=released")
		wantValue(t, m, 1, "liaison_leads", "origin=alpha", "status=withdrawn")
		wantValue(t, m, 3, "liaison_envelopes_sent_total", "partner=bravo")
		wantValue(t, m, 3, "liaison_envelopes_total", "direction=outbound", "partner=bravo", "status=applied")
		wantValue(t, m, 0, "liaison_envelopes_total", "direction=outbound", "partner=bravo", "status=rejected")
		wantValue(t, m, 0, "liaison_envelopes_total", "direction=inbound", "partner=bravo", "status=applied")
		wantValue(t, m, 0, "liaison_outbox_waiting_envelopes", "partner=bravo")
		wantValue(t, m, 0, "liaison_outbox_oldest_waiting_seconds", "partner=bravo")
		wantValue(t, m, 1, "liaison_partner_connected", "partner=bravo")
		wantValue(t, m, 1, "liaison_drift_check_in_step", "partner=bravo")
		wantValue(t, m, 0, "liaison_drift_check_differences", "partner=bravo")
		wantValue(t, m, 0, "liaison_drift_check_failed", "partner=bravo")
		// Stored to the microsecond.
		checked := check.GetResults()[0].GetTime().AsTime()
		if at := value(t, m, "liaison_drift_check_timestamp_seconds", "partner=bravo"); math.Abs(at-float64(checked.UnixMicro())/1e6) > 1e-5 {
			t.Errorf("drift check time %v, want %v", time.Unix(0, int64(at*1e9)).UTC(), checked)
		}
		wantValue(t, m, 0, "liaison_feed_consumers")
		wantValue(t, m, 0, "liaison_searches_running")
		wantValue(t, m, 0, "liaison_searches_waiting")
		wantValue(t, m, 0, "liaison_metrics_read_errors_total")
		if size := value(t, m, "liaison_database_size_bytes"); size <= 0 {
			t.Errorf("database size %v", size)
		}

		// RPCs by code, through the provider's interceptors.
		rpc := func(method, code string) []string {
			return []string{"agency=alpha", "grpc_service=liaison.v1.LeadService", "grpc_method=" + method, "grpc_code=" + code}
		}
		wantValue(t, m, 3, "grpc_server_handled_total", rpc("CreateLead", "OK")...)
		wantValue(t, m, 2, "grpc_server_handled_total", rpc("ReleaseLead", "OK")...)
		wantValue(t, m, 1, "grpc_server_handled_total", rpc("WithdrawLead", "OK")...)
		wantValue(t, m, 1, "grpc_server_handled_total", rpc("WithdrawLead", "PermissionDenied")...)
		wantValue(t, m, 1, "grpc_server_handled_total", rpc("GetLead", "NotFound")...)
		wantValue(t, m, 1, "grpc_server_handling_seconds_count", "grpc_method=GetLead")
	})

	t.Run("Bravo", func(t *testing.T) {
		m := scrape(t, b)
		// Two replicas, one of them a tombstone; none of its own.
		wantValue(t, m, 2, "liaison_records", "agency=bravo", "kind=lead", "origin=alpha")
		wantValue(t, m, 0, "liaison_records", "kind=lead", "origin=bravo")
		wantValue(t, m, 1, "liaison_leads", "origin=alpha", "status=released")
		wantValue(t, m, 1, "liaison_leads", "origin=alpha", "status=withdrawn")
		wantValue(t, m, 1, "liaison_lead_tombstones", "origin=alpha")
		wantValue(t, m, 3, "liaison_envelopes_total", "direction=inbound", "partner=alpha", "status=applied")
		wantValue(t, m, 0, "liaison_envelopes_total", "direction=inbound", "partner=alpha", "status=rejected")
		wantValue(t, m, 0, "liaison_envelopes_sent_total", "partner=alpha")
		wantValue(t, m, 0, "liaison_outbox_waiting_envelopes", "partner=alpha")
		// alpha's relay holds a stream open to bravo.
		if n := value(t, m, "grpc_server_started_total", "grpc_service=liaison.v1.FederationService", "grpc_method=Exchange"); n < 1 {
			t.Errorf("Exchange streams started on bravo: %v", n)
		}
	})

	t.Run("AuditChainLength", func(t *testing.T) {
		// The scrape writes nothing; verifying the chain appends its own
		// event only after it has read the head.
		var scraped, head float64
		for range 5 { // should background work append meanwhile, look again
			scraped = value(t, scrape(t, a), "liaison_audit_chain_length")
			res, err := alpha.auditor.VerifyAuditLog(ctx, &liaisonv1.VerifyAuditLogRequest{})
			if err != nil || !res.GetOk() {
				t.Fatalf("verify audit log: %v %v", res, err)
			}
			if head = float64(res.GetHeadSequence()); head == scraped {
				return
			}
		}
		t.Errorf("liaison_audit_chain_length = %v, audit head = %v", scraped, head)
	})

	t.Run("OnlyMetricsPath", func(t *testing.T) {
		for _, path := range []string{"/", "/metrics/", "/debug/pprof/", "/healthz"} {
			resp, err := http.Get("http://" + a.MetricsAddr + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET %s: %s, want 404", path, resp.Status)
			}
		}
	})
}
