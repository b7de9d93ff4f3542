package config_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/liaison-exchange/liaison/server/config"
)

// files creates the certificate files a config names (Validate checks only
// that they exist) and returns the dir.
func files(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"ca.crt", "node.crt", "node.key", "bravo-ca.crt", "charlie-ca.crt"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// validYAML is a complete, valid config; DIR stands for the files dir.
const validYAML = `agency: alpha
listen: 127.0.0.1:9443
tls:
  ca: DIR/ca.crt
  cert: DIR/node.crt
  key: DIR/node.key
  revoked:
    - {agency: bravo, serial: "0a:1b:2c"}
    - {agency: alpha, serial: DEADBEEF}
database:
  path: DIR/alpha.db
  synchronous: full
  max_batch: 256
  read_connections: 4
partners:
  - agency: bravo
    ca: DIR/bravo-ca.crt
    address: 127.0.0.1:9444
  - agency: charlie
    trust_domain: charlie.example.org
    ca: DIR/charlie-ca.crt
    address: charlie.example.org:443
limits:
  rate_per_second: 150
  burst: 300
  partner_rate_per_second: 5
  partner_burst: 8
  max_message_bytes: 1048576
  shutdown_grace: 5s
log:
  level: debug
  format: json
retention:
  review_after: 90d
federation:
  batch_size: 100
  window: 2
  min_backoff: 100ms
  max_backoff: 1m
  drift_interval: 1h
audit:
  content_retention: 1825d
`

func write(t *testing.T, dir, yaml string) string {
	t.Helper()
	path := filepath.Join(dir, "node.yaml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(yaml, "DIR", dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// edit replaces one exact piece of validYAML, failing if it is not there
// (so a case cannot silently test the valid config).
func edit(t *testing.T, old, new string) string {
	t.Helper()
	if strings.Count(validYAML, old) != 1 {
		t.Fatalf("test bug: %q is not exactly once in validYAML", old)
	}
	return strings.Replace(validYAML, old, new, 1)
}

// namesKey reports whether err has a problem reported as "<key>: …" (the
// first one follows the file name, the others start a line).
func namesKey(err error, key string) bool {
	return regexp.MustCompile(`(^|\n|: )` + regexp.QuoteMeta(key) + `: `).MatchString(err.Error())
}

func TestLoad_Valid(t *testing.T) {
	t.Parallel()
	dir := files(t)
	c, err := config.Load(write(t, dir, validYAML), config.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	want := &config.Config{
		Agency:      "alpha",
		TrustDomain: "alpha.liaison.test",
		Listen:      "127.0.0.1:9443",
		TLS: config.TLS{
			CA: dir + "/ca.crt", Cert: dir + "/node.crt", Key: dir + "/node.key",
			Revoked: []config.Revoked{{Agency: "bravo", Serial: "0a:1b:2c"}, {Agency: "alpha", Serial: "DEADBEEF"}},
		},
		Database: config.Database{Path: dir + "/alpha.db", Synchronous: "full", MaxBatch: 256, ReadConnections: 4},
		Partners: []config.Partner{
			{Agency: "bravo", TrustDomain: "bravo.liaison.test", CA: dir + "/bravo-ca.crt", Address: "127.0.0.1:9444"},
			{Agency: "charlie", TrustDomain: "charlie.example.org", CA: dir + "/charlie-ca.crt", Address: "charlie.example.org:443"},
		},
		Limits: config.Limits{
			RatePerSecond: 150, Burst: 300, PartnerRatePerSecond: 5, PartnerBurst: 8, MaxMessageBytes: 1 << 20,
			MaxConcurrentStreams: 256, HandshakeTimeout: config.Duration{Duration: 5 * time.Second},
			ShutdownGrace: config.Duration{Duration: 5 * time.Second},
		},
		Log: config.Log{Level: "debug", Format: "json"},
		Retention: config.Retention{
			ReviewAfter:   config.Duration{Duration: 90 * 24 * time.Hour},
			PurgeInterval: config.Duration{Duration: time.Hour},
		},
		Federation: config.Federation{
			BatchSize: 100, Window: 2,
			MinBackoff:    config.Duration{Duration: 100 * time.Millisecond},
			MaxBackoff:    config.Duration{Duration: time.Minute},
			DriftInterval: config.Duration{Duration: time.Hour},
		},
		Feed: config.Feed{
			Retention: config.Duration{Duration: 30 * 24 * time.Hour}, MaxLag: 100000,
			SendTimeout: config.Duration{Duration: 30 * time.Second},
		},
		Metrics: config.Metrics{Listen: "127.0.0.1:9464"},
		Match: config.Match{DailyBudget: 10000, EpochLength: config.Duration{Duration: 720 * time.Hour},
			FollowUpDeadline: config.Duration{Duration: 48 * time.Hour}, IndexInterval: config.Duration{Duration: time.Second}},
		Audit: config.Audit{CheckpointInterval: config.Duration{Duration: 5 * time.Second}, ContentRetention: config.Duration{Duration: 1825 * 24 * time.Hour}},
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	if p, ok := c.Partner("charlie"); !ok || p.Address != "charlie.example.org:443" {
		t.Errorf("Partner(charlie) = %+v, %v", p, ok)
	}
	if _, ok := c.Partner("delta"); ok {
		t.Error("Partner(delta) found a partner that is not configured")
	}
}

func TestLoad_Defaults(t *testing.T) {
	t.Parallel()
	dir := files(t)
	minimal := `agency: alpha
listen: 127.0.0.1:9443
tls: {ca: DIR/ca.crt, cert: DIR/node.crt, key: DIR/node.key}
database: {path: DIR/alpha.db}
partners:
  - {agency: bravo, ca: DIR/bravo-ca.crt, address: "127.0.0.1:9444"}
`
	c, err := config.Load(write(t, dir, minimal), config.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	want := &config.Config{
		Agency:      "alpha",
		TrustDomain: "alpha.liaison.test",
		Listen:      "127.0.0.1:9443",
		TLS:         config.TLS{CA: dir + "/ca.crt", Cert: dir + "/node.crt", Key: dir + "/node.key"},
		Database:    config.Database{Path: dir + "/alpha.db", Synchronous: "full", MaxBatch: 512, ReadConnections: 4},
		Partners:    []config.Partner{{Agency: "bravo", TrustDomain: "bravo.liaison.test", CA: dir + "/bravo-ca.crt", Address: "127.0.0.1:9444"}},
		Limits: config.Limits{
			RatePerSecond: 200, Burst: 400, PartnerRatePerSecond: 10, PartnerBurst: 20, MaxMessageBytes: 4 << 20,
			MaxConcurrentStreams: 256, HandshakeTimeout: config.Duration{Duration: 5 * time.Second},
			ShutdownGrace: config.Duration{Duration: 10 * time.Second},
		},
		Log: config.Log{Level: "info", Format: "text"},
		Retention: config.Retention{
			ReviewAfter:   config.Duration{Duration: 1095 * 24 * time.Hour},
			PurgeInterval: config.Duration{Duration: time.Hour},
		},
		Federation: config.Federation{
			BatchSize: 500, Window: 4,
			MinBackoff:    config.Duration{Duration: 200 * time.Millisecond},
			MaxBackoff:    config.Duration{Duration: 30 * time.Second},
			DriftInterval: config.Duration{Duration: 10 * time.Minute},
		},
		Feed: config.Feed{
			Retention: config.Duration{Duration: 30 * 24 * time.Hour}, MaxLag: 100000,
			SendTimeout: config.Duration{Duration: 30 * time.Second},
		},
		Metrics: config.Metrics{Listen: "127.0.0.1:9464"},
		Match: config.Match{DailyBudget: 10000, EpochLength: config.Duration{Duration: 720 * time.Hour},
			FollowUpDeadline: config.Duration{Duration: 48 * time.Hour}, IndexInterval: config.Duration{Duration: time.Second}},
		// Checkpoints every 5 s; content kept three years.
		Audit: config.Audit{CheckpointInterval: config.Duration{Duration: 5 * time.Second}, ContentRetention: config.Duration{Duration: 26280 * time.Hour}},
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestLoad_Overrides(t *testing.T) {
	t.Parallel()
	dir := files(t)
	path := write(t, dir, validYAML)
	c, err := config.Load(path, config.Overrides{
		Listen: "127.0.0.1:19443", DBPath: dir + "/other.db",
		PartnerAddrs: map[string]string{"bravo": "127.0.0.1:19444"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:19443" || c.Database.Path != dir+"/other.db" || c.Partners[0].Address != "127.0.0.1:19444" {
		t.Errorf("overrides not applied: listen %q db %q bravo %q", c.Listen, c.Database.Path, c.Partners[0].Address)
	}
	if c.Partners[1].Address != "charlie.example.org:443" {
		t.Errorf("override of bravo changed charlie's address to %q", c.Partners[1].Address)
	}

	_, err = config.Load(path, config.Overrides{PartnerAddrs: map[string]string{"delta": "127.0.0.1:1"}})
	if err == nil || !strings.Contains(err.Error(), "delta") {
		t.Errorf("override for an unknown partner: got %v, want an error naming it", err)
	}
	// An override is validated like the file.
	_, err = config.Load(path, config.Overrides{Listen: "nowhere"})
	if err == nil || !strings.Contains(err.Error(), "listen") {
		t.Errorf("override with a bad listen address: got %v, want an error naming listen", err)
	}
}

func TestLoad_MissingFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "nope.yaml")
	if _, err := config.Load(path, config.Overrides{}); err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("got %v, want an error naming the file", err)
	}
}

func TestLoad_UnknownKey(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, yaml, key string }{
		{"TopLevel", edit(t, "agency: alpha\n", "agency: alpha\nagnecy: alpha\n"), "agnecy"},
		{"InTLS", edit(t, "  key: DIR/node.key\n", "  key: DIR/node.key\n  crl: DIR/crl.pem\n"), "crl"},
		{"InPartner", edit(t, "    address: 127.0.0.1:9444\n", "    address: 127.0.0.1:9444\n    adress: 127.0.0.1:9444\n"), "adress"},
		{"InDatabase", edit(t, "  synchronous: full\n", "  synchronous: full\n  journal_mode: delete\n"), "journal_mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := files(t)
			_, err := config.Load(write(t, dir, tt.yaml), config.Overrides{})
			if err == nil {
				t.Fatal("unknown key accepted")
			}
			if !strings.Contains(err.Error(), tt.key) {
				t.Errorf("error %q does not name the key %q", err, tt.key)
			}
		})
	}
}

func TestLoad_InvalidValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, old, new string
		key            string // the key path the error must name
	}{
		{"AgencyUpperCase", "agency: alpha\n", "agency: Alpha\n", "agency"},
		{"AgencyTooShort", "agency: alpha\n", "agency: a\n", "agency"},
		{"AgencyMissing", "agency: alpha\n", "", "agency"},
		{"ListenWithoutPort", "listen: 127.0.0.1:9443", "listen: 127.0.0.1", "listen"},
		{"ListenMissing", "listen: 127.0.0.1:9443\n", "", "listen"},
		{"TLSCAMissingFile", "ca: DIR/ca.crt", "ca: DIR/nope.crt", "tls.ca"},
		{"TLSCertMissingFile", "cert: DIR/node.crt", "cert: DIR/nope.crt", "tls.cert"},
		{"TLSKeyMissingFile", "key: DIR/node.key", "key: DIR/nope.key", "tls.key"},
		{"TLSCertEmpty", "  cert: DIR/node.crt\n", "", "tls.cert"},
		{"DatabasePathMissing", "  path: DIR/alpha.db\n", "", "database.path"},
		{"SynchronousOff", "synchronous: full", "synchronous: off", "database.synchronous"},
		{"MaxBatchNegative", "max_batch: 256", "max_batch: -1", "database.max_batch"},
		{"MaxBatchTooLarge", "max_batch: 256", "max_batch: 10001", "database.max_batch"},
		{"ReadConnectionsTooMany", "read_connections: 4", "read_connections: 65", "database.read_connections"},
		{"PartnerAgencyBad", "  - agency: bravo\n", "  - agency: Bravo!\n", "partners[0].agency"},
		{"PartnerDuplicate", "  - agency: charlie\n", "  - agency: bravo\n", "partners[1].agency"},
		{"PartnerIsOwnAgency", "  - agency: bravo\n", "  - agency: alpha\n", "partners[0].agency"},
		{"PartnerSameTrustDomain", "trust_domain: charlie.example.org", "trust_domain: alpha.liaison.test", "partners[1].trust_domain"},
		{"PartnerCAMissingFile", "ca: DIR/bravo-ca.crt", "ca: DIR/nope.crt", "partners[0].ca"},
		{"PartnerAddressWithoutPort", "address: 127.0.0.1:9444", "address: 127.0.0.1", "partners[0].address"},
		{"PartnerAddressMissing", "    address: charlie.example.org:443\n", "", "partners[1].address"},
		{"RateNegative", "rate_per_second: 150", "rate_per_second: -1", "limits.rate_per_second"},
		{"BurstNegative", "burst: 300", "burst: -5", "limits.burst"},
		{"PartnerRateNegative", "partner_rate_per_second: 5", "partner_rate_per_second: -1", "limits.partner_rate_per_second"},
		{"PartnerRateNaN", "partner_rate_per_second: 5", "partner_rate_per_second: .nan", "limits.partner_rate_per_second"},
		{"PartnerBurstNegative", "partner_burst: 8", "partner_burst: -8", "limits.partner_burst"},
		{"MaxMessageBytesTooSmall", "max_message_bytes: 1048576", "max_message_bytes: 1024", "limits.max_message_bytes"},
		{"ShutdownGraceTooLong", "shutdown_grace: 5s", "shutdown_grace: 11m", "limits.shutdown_grace"},
		{"ShutdownGraceNegative", "shutdown_grace: 5s", "shutdown_grace: -1s", "limits.shutdown_grace"},
		{"LogLevelVerbose", "level: debug", "level: verbose", "log.level"},
		{"LogFormatXML", "format: json", "format: xml", "log.format"},
		{"RetentionTooShort", "review_after: 90d", "review_after: 12h", "retention.review_after"},
		{"FederationBatchSizeTooLarge", "batch_size: 100", "batch_size: 2001", "federation.batch_size"},
		{"FederationBatchSizeNegative", "batch_size: 100", "batch_size: -1", "federation.batch_size"},
		{"FederationWindowTooLarge", "window: 2", "window: 65", "federation.window"},
		{"FederationMinBackoffTooShort", "min_backoff: 100ms", "min_backoff: 1ms", "federation.min_backoff"},
		{"FederationMinBackoffOverMax", "min_backoff: 100ms", "min_backoff: 2m", "federation.min_backoff"},
		{"FederationMaxBackoffTooLong", "max_backoff: 1m", "max_backoff: 11m", "federation.max_backoff"},
		{"FederationDriftIntervalTooShort", "drift_interval: 1h", "drift_interval: 500ms", "federation.drift_interval"},
		// Audit content is kept at least a year, whatever the file says.
		{"AuditContentRetentionUnderAYear", "content_retention: 1825d", "content_retention: 364d", "audit.content_retention"},
		{"AuditContentRetentionHours", "content_retention: 1825d", "content_retention: 8759h", "audit.content_retention"},
		{"AuditContentRetentionNegative", "content_retention: 1825d", "content_retention: -1h", "audit.content_retention"},
		// The metrics endpoint is plaintext and unauthenticated: loopback only.
		{"MetricsListenAllInterfaces", "  drift_interval: 1h\n", "  drift_interval: 1h\nmetrics:\n  listen: 0.0.0.0:9464\n", "metrics.listen"},
		{"MetricsListenPublicAddress", "  drift_interval: 1h\n", "  drift_interval: 1h\nmetrics:\n  listen: 192.0.2.10:9464\n", "metrics.listen"},
		{"MetricsListenHostName", "  drift_interval: 1h\n", "  drift_interval: 1h\nmetrics:\n  listen: node.example.org:9464\n", "metrics.listen"},
		{"MetricsListenWithoutPort", "  drift_interval: 1h\n", "  drift_interval: 1h\nmetrics:\n  listen: 127.0.0.1\n", "metrics.listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := files(t)
			_, err := config.Load(write(t, dir, edit(t, tt.old, tt.new)), config.Overrides{})
			if err == nil {
				t.Fatal("invalid config accepted")
			}
			if !namesKey(err, tt.key) {
				t.Errorf("error %q does not name the key %q", err, tt.key)
			}
		})
	}
}

// TestLoad_BadSyntaxNamesKey: a value that does not even decode must name
// its key like any other invalid value. An operator reading "invalid
// duration" alone has to guess which of several durations is meant.
func TestLoad_BadSyntaxNamesKey(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, old, new, key string }{
		{"Duration", "review_after: 90d", "review_after: 90 days", "review_after"},
		{"DurationNegativeDays", "review_after: 90d", "review_after: -3d", "review_after"},
		{"ShutdownGrace", "shutdown_grace: 5s", "shutdown_grace: soon", "shutdown_grace"},
		{"IntNotANumber", "max_batch: 256", "max_batch: lots", "max_batch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := files(t)
			_, err := config.Load(write(t, dir, edit(t, tt.old, tt.new)), config.Overrides{})
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.key) {
				t.Errorf("error %q does not name the key %q", err, tt.key)
			}
		})
	}
}

func TestValidate_ReportsEveryProblem(t *testing.T) {
	t.Parallel()
	dir := files(t)
	y := strings.NewReplacer("agency: alpha\n", "agency: A\n", "level: debug", "level: loud", "max_batch: 256", "max_batch: 0x7fffffff").Replace(validYAML)
	_, err := config.Load(write(t, dir, y), config.Overrides{})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, key := range []string{"agency", "log.level", "database.max_batch"} {
		if !namesKey(err, key) {
			t.Errorf("error does not report %s\n%v", key, err)
		}
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"90d", 90 * 24 * time.Hour, true},
		{"1095d", 1095 * 24 * time.Hour, true},
		{"0d", 0, true},
		{"1h30m", 90 * time.Minute, true},
		{"10s", 10 * time.Second, true},
		{"-1s", -time.Second, true}, // Go syntax; the keys that forbid it say so
		{"-3d", 0, false},
		{"1.5d", 0, false},
		{"d", 0, false},
		{"90D", 0, false},
		{"", 0, false},
		{"90", 0, false},
		{"ninety days", 0, false},
		// More days than a time.Duration holds (about 106751 days) must be
		// refused, not wrap around: 213505d came out as about a day.
		{"106752d", 0, false},
		{"213505d", 0, false},
		{"9223372036854775807d", 0, false},
	}
	for _, tt := range tests {
		got, err := config.ParseDuration(tt.in)
		if tt.ok != (err == nil) || (tt.ok && got != tt.want) {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// TestParse_DevConfigs: the configs `make run` uses decode with the strict
// decoder (no key drifted away from the Config struct).
func TestParse_DevConfigs(t *testing.T) {
	t.Parallel()
	for _, agency := range []string{"alpha", "bravo"} {
		b, err := os.ReadFile(filepath.Join("dev", agency+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		c, err := config.Parse(b)
		if err != nil {
			t.Fatalf("%s.yaml: %v", agency, err)
		}
		if c.Agency != agency || len(c.Partners) != 1 {
			t.Errorf("%s.yaml: agency %q with %d partners", agency, c.Agency, len(c.Partners))
		}
	}
}

func TestDuration_YAMLRoundTrip(t *testing.T) {
	t.Parallel()
	d := config.Duration{Duration: 36 * time.Hour}
	v, err := d.MarshalYAML()
	if err != nil {
		t.Fatal(err)
	}
	back, err := config.ParseDuration(v.(string))
	if err != nil || back != d.Duration {
		t.Errorf("MarshalYAML wrote %v, which reads back as %v, %v", v, back, err)
	}
}

func TestValidate_MatchPartnersAreConfiguredPartners(t *testing.T) {
	c := &config.Config{Agency: "alpha", Listen: "127.0.0.1:0", Partners: []config.Partner{{Agency: "bravo"}}}
	c.Match.Partners = []string{"bravo", "charlie"}
	c.SetDefaults()
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), `match.partners[1]: "charlie" is not a configured partner`) || strings.Contains(err.Error(), "match.partners[0]") {
		t.Errorf("Validate: %v", err)
	}
}
