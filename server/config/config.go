// Package config is a node's configuration: one YAML file per node, with
// defaults, a few flag overrides, and validation at start-up whose errors
// name the bad key.
//
// Relative paths in the file are relative to the working directory the
// node is started from (the repository root for `make run`).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is a node's configuration.
type Config struct {
	// Agency is the code of the agency this node serves (e.g. "alpha").
	Agency string `yaml:"agency"`
	// TrustDomain is the SPIFFE trust domain of the agency's certificates;
	// default "<agency>.liaison.test".
	TrustDomain string `yaml:"trust_domain"`
	// Listen is the gRPC (mTLS) listen address.
	Listen   string    `yaml:"listen"`
	TLS      TLS       `yaml:"tls"`
	Database Database  `yaml:"database"`
	Partners []Partner `yaml:"partners"`
	Limits   Limits    `yaml:"limits"`
	Log      Log       `yaml:"log"`
	// Retention sets review dates of records.
	Retention Retention `yaml:"retention"`
	// Federation tunes the channels to partners.
	Federation Federation `yaml:"federation"`
	// Feed tunes the change feed.
	Feed Feed `yaml:"feed"`
	// Metrics is the Prometheus endpoint.
	Metrics Metrics `yaml:"metrics"`
	// Audit configures the audit log.
	Audit Audit `yaml:"audit"`
	// Match is blind hit/no-hit with the partners (server/match).
	Match Match `yaml:"match"`
}

// MinAuditContentRetention is the shortest audit.content_retention a node
// accepts: a year.
const MinAuditContentRetention = 365 * 24 * time.Hour

// Audit configures the audit log: its Merkle tree checkpoints and how long
// the personal data in its events is kept.
type Audit struct {
	// LogKey is the file of this node's log key (a C2SP signed-note
	// private key, "PRIVATE+KEY+<trust domain>+…"): it signs the node's
	// checkpoints and its cosignatures of partners' checkpoints. Without
	// it the node makes no checkpoints and witnesses no partner.
	LogKey string `yaml:"log_key"`
	// CheckpointInterval is how often a checkpoint is signed while events
	// are appended (default 5s, 1s to 1h).
	CheckpointInterval Duration `yaml:"checkpoint_interval"`
	// ContentRetention is how long the detail of events that carry
	// personal data (audit.PersonalData) is kept before it is erased
	// (default 26280h, three years; at least 8760h, a year: shorter would
	// leave too little time to answer for an access).
	ContentRetention Duration `yaml:"content_retention"`
}

// Feed tunes the change feed (ChangeFeedService).
type Feed struct {
	// Retention is how long changes are kept for consumers to resume from
	// (default 30d).
	Retention Duration `yaml:"retention"`
	// MaxLag is how many changes a consumer may fall behind before it is
	// cut off with a resumable error (default 100000).
	MaxLag int64 `yaml:"max_lag"`
	// SendTimeout cuts off a consumer that does not read for this long
	// (default 30s).
	SendTimeout Duration `yaml:"send_timeout"`
}

// Match tunes blind hit/no-hit.
type Match struct {
	// Partners are the partner agencies this node publishes a blind index
	// to and evaluates blinded keys for. Publishing one is an agreement
	// between two agencies (Prüm's model has one per partner): none by
	// default. To ask a partner, the partner's node must list this agency.
	Partners []string `yaml:"partners"`
	// DailyBudget is the blind evaluations each partner may ask of this
	// node per UTC day (default 10000): what bounds a partner testing
	// guesses against this node's index.
	DailyBudget int64 `yaml:"daily_budget"`
	// EpochLength is how long a partner's OPRF key is used before a new
	// one and a new index (default 720h, 30 days).
	EpochLength Duration `yaml:"epoch_length"`
	// FollowUpDeadline is the time a holder has by default to decide a
	// follow-up of a hit (default 48h, as in Prüm II).
	FollowUpDeadline Duration `yaml:"follow_up_deadline"`
	// IndexInterval is how often the index is brought up to date besides
	// on every change (default 1s).
	IndexInterval Duration `yaml:"index_interval"`
}

// Metrics is the node's Prometheus endpoint: its own plaintext HTTP
// listener, on loopback by default.
type Metrics struct {
	// Listen is the address of /metrics (default 127.0.0.1:9464; "off"
	// disables it).
	Listen string `yaml:"listen"`
}

// Federation tunes the exchange with partners.
type Federation struct {
	// BatchSize is the most envelopes signed and sent at once (default 500).
	BatchSize int `yaml:"batch_size"`
	// Window is the most batches in flight per partner (default 4).
	Window int `yaml:"window"`
	// MinBackoff and MaxBackoff bound the wait before reconnecting to an
	// unreachable partner (defaults 200ms and 30s; exponential with jitter).
	MinBackoff Duration `yaml:"min_backoff"`
	MaxBackoff Duration `yaml:"max_backoff"`
	// DriftInterval is how often copies held by partners are compared
	// (default 10m).
	DriftInterval Duration `yaml:"drift_interval"`
	// StopOnFork refuses a partner's channel (its Exchange, with
	// FAILED_PRECONDITION naming the alarm) while this node holds a fork
	// alarm on the partner's audit log. Off by default: the alarm is for
	// people to act on, and records keep flowing.
	StopOnFork bool `yaml:"stop_on_fork"`
}

// TLS is the node's own certificate material.
type TLS struct {
	// CA is the PEM bundle of the own agency's CA.
	CA string `yaml:"ca"`
	// Cert and Key are the node certificate (server and client use) and key.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// Revoked are certificates refused even though their chain verifies,
	// each named by the agency whose CA issued it and its serial number (a
	// serial is unique only per issuer). Reloaded on SIGHUP.
	Revoked []Revoked `yaml:"revoked"`
	// RevokedSerials is the old serial-only form. It is refused unless
	// empty: a serial alone would revoke every agency's certificate that
	// happens to carry it.
	RevokedSerials []string `yaml:"revoked_serials,omitempty"`
}

// Revoked names one revoked certificate.
type Revoked struct {
	// Agency is the own agency or a partner: the one whose CA issued it.
	Agency string `yaml:"agency"`
	// Serial is its serial number in hex ("0x" and colons allowed).
	Serial string `yaml:"serial"`
}

// Database is the node's SQLite file.
type Database struct {
	Path string `yaml:"path"`
	// Synchronous is SQLite's synchronous setting in WAL mode: "full"
	// (default; every commit is fsynced) or "normal" (survives a process
	// crash, may lose the last commits on power loss).
	Synchronous string `yaml:"synchronous"`
	// MaxBatch is the most write operations committed in one transaction
	// by the group-commit writer (default 512).
	MaxBatch int `yaml:"max_batch"`
	// ReadConnections is the size of the reader pool (default 4).
	ReadConnections int `yaml:"read_connections"`
}

// Partner is another agency this node exchanges records with.
type Partner struct {
	Agency string `yaml:"agency"`
	// TrustDomain defaults to "<agency>.liaison.test".
	TrustDomain string `yaml:"trust_domain"`
	// CA is the PEM bundle of the partner agency's CA.
	CA string `yaml:"ca"`
	// Address is the partner node's gRPC address.
	Address string `yaml:"address"`
	// LogKey is the file of the partner's log verifier key (C2SP vkey):
	// with it this node checks and cosigns the partner's checkpoints and
	// checks its cosignatures of this node's.
	LogKey string `yaml:"log_key"`
}

// Limits protect the node from its callers.
type Limits struct {
	// RatePerSecond is the sustained request rate allowed per principal
	// (default 200); Burst is the bucket size (default 400).
	RatePerSecond float64 `yaml:"rate_per_second"`
	Burst         int     `yaml:"burst"`
	// PartnerRatePerSecond and PartnerBurst are one token bucket per
	// partner agency, shared by all of its principals except its node (the
	// federation channel, limited like a principal of the own agency).
	// Defaults 10 and 20: a partner's people may reach only health and
	// reflection, so whatever they send beyond that is refused cheaply.
	PartnerRatePerSecond float64 `yaml:"partner_rate_per_second"`
	PartnerBurst         int     `yaml:"partner_burst"`
	// MaxMessageBytes bounds a received message (default 4 MiB).
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// MaxConcurrentStreams bounds the calls open at once on one
	// connection (default 256); further calls wait for a free one.
	MaxConcurrentStreams int `yaml:"max_concurrent_streams"`
	// HandshakeTimeout bounds a new connection's TLS and HTTP/2 handshake
	// (default 5s), so idle half-open connections do not pile up.
	HandshakeTimeout Duration `yaml:"handshake_timeout"`
	// ShutdownGrace is how long in-flight calls may run after a stop signal
	// (default 10s).
	ShutdownGrace Duration `yaml:"shutdown_grace"`
}

// Log configures the structured log on stderr.
type Log struct {
	// Level: debug, info (default), warn, error.
	Level string `yaml:"level"`
	// Format: text (default) or json.
	Format string `yaml:"format"`
}

// Retention configures how long records are kept before review.
type Retention struct {
	// ReviewAfter is the default time from creation to a lead's review
	// date (default 1095d, three years).
	ReviewAfter Duration `yaml:"review_after"`
	// ReviewAfterByCrimeArea overrides ReviewAfter per crime area, keyed by
	// the area's short name: migrant_smuggling, trafficking_in_human_beings,
	// document_fraud, telecom_and_online_fraud, money_laundering, other. A
	// lead with several areas gets the longest.
	ReviewAfterByCrimeArea map[string]Duration `yaml:"review_after_by_crime_area"`
	// PurgeInterval is how often records past their review date are purged
	// (default 1h).
	PurgeInterval Duration `yaml:"purge_interval"`
}

// CrimeAreaNames are the keys of retention.review_after_by_crime_area.
var CrimeAreaNames = []string{"migrant_smuggling", "trafficking_in_human_beings", "document_fraud", "telecom_and_online_fraud", "money_laundering", "other"}

// Duration is a time.Duration that also accepts a number of days ("90d").
type Duration struct{ time.Duration }

// UnmarshalYAML reads "1h30m" or "90d".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	d.Duration = v
	return nil
}

// MarshalYAML writes the duration in Go syntax.
func (d Duration) MarshalYAML() (any, error) { return d.Duration.String(), nil }

// maxDays bounds "Nd" durations (a century) far below time.Duration's range.
const maxDays = 36500

// ParseDuration parses a Go duration or a whole number of days ("90d").
func ParseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > maxDays {
			return 0, fmt.Errorf("invalid duration %q (whole days, at most %d)", s, maxDays)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	return v, nil
}

// Load reads, defaults and validates a config file.
func Load(path string, o Overrides) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if err := o.apply(c); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes YAML strictly (an unknown key is an error naming it) and
// fills defaults. It does not validate.
func Parse(b []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, nameKeys(b, err)
	}
	c.SetDefaults()
	return &c, nil
}

var lineRef = regexp.MustCompile(`line (\d+)`)

// nameKeys rewrites "line N" in a decoding error as "line N (key.path)", so
// every error names the key it is about.
func nameKeys(b []byte, err error) error {
	var root yaml.Node
	if yaml.Unmarshal(b, &root) != nil {
		return err
	}
	keys := map[string]string{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i].Value
				if path != "" {
					k = path + "." + k
				}
				line := strconv.Itoa(n.Content[i].Line)
				if _, seen := keys[line]; !seen {
					keys[line] = k
				}
				if v := strconv.Itoa(n.Content[i+1].Line); v != line && n.Content[i+1].Kind == yaml.ScalarNode {
					if _, seen := keys[v]; !seen {
						keys[v] = k
					}
				}
				walk(n.Content[i+1], k)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				if _, seen := keys[strconv.Itoa(c.Line)]; !seen {
					keys[strconv.Itoa(c.Line)] = p
				}
				walk(c, p)
			}
		}
	}
	walk(&root, "")
	msg := lineRef.ReplaceAllStringFunc(err.Error(), func(m string) string {
		if k, ok := keys[lineRef.FindStringSubmatch(m)[1]]; ok {
			return m + " (" + k + ")"
		}
		return m
	})
	return errors.New(msg)
}

// SetDefaults fills every unset value with its default.
func (c *Config) SetDefaults() {
	if c.TrustDomain == "" && c.Agency != "" {
		c.TrustDomain = c.Agency + ".liaison.test"
	}
	for i := range c.Partners {
		if c.Partners[i].TrustDomain == "" && c.Partners[i].Agency != "" {
			c.Partners[i].TrustDomain = c.Partners[i].Agency + ".liaison.test"
		}
	}
	if c.Database.Synchronous == "" {
		c.Database.Synchronous = "full"
	}
	if c.Database.MaxBatch == 0 {
		c.Database.MaxBatch = 512
	}
	if c.Database.ReadConnections == 0 {
		c.Database.ReadConnections = 4
	}
	if c.Limits.RatePerSecond == 0 {
		c.Limits.RatePerSecond = 200
	}
	if c.Limits.Burst == 0 {
		c.Limits.Burst = 400
	}
	if c.Limits.PartnerRatePerSecond == 0 {
		c.Limits.PartnerRatePerSecond = 10
	}
	if c.Limits.PartnerBurst == 0 {
		c.Limits.PartnerBurst = 20
	}
	if c.Limits.MaxMessageBytes == 0 {
		c.Limits.MaxMessageBytes = 4 << 20
	}
	if c.Limits.MaxConcurrentStreams == 0 {
		c.Limits.MaxConcurrentStreams = 256
	}
	if c.Limits.HandshakeTimeout.Duration == 0 {
		c.Limits.HandshakeTimeout.Duration = 5 * time.Second
	}
	if c.Limits.ShutdownGrace.Duration == 0 {
		c.Limits.ShutdownGrace.Duration = 10 * time.Second
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
	if c.Federation.BatchSize == 0 {
		c.Federation.BatchSize = 500
	}
	if c.Federation.Window == 0 {
		c.Federation.Window = 4
	}
	if c.Federation.MinBackoff.Duration == 0 {
		c.Federation.MinBackoff.Duration = 200 * time.Millisecond
	}
	if c.Federation.MaxBackoff.Duration == 0 {
		c.Federation.MaxBackoff.Duration = 30 * time.Second
	}
	if c.Federation.DriftInterval.Duration == 0 {
		c.Federation.DriftInterval.Duration = 10 * time.Minute
	}
	if c.Retention.ReviewAfter.Duration == 0 {
		c.Retention.ReviewAfter.Duration = 3 * 365 * 24 * time.Hour
	}
	if c.Retention.PurgeInterval.Duration == 0 {
		c.Retention.PurgeInterval.Duration = time.Hour
	}
	if c.Audit.ContentRetention.Duration == 0 {
		c.Audit.ContentRetention.Duration = 3 * 365 * 24 * time.Hour
	}
	if c.Feed.Retention.Duration == 0 {
		c.Feed.Retention.Duration = 30 * 24 * time.Hour
	}
	if c.Feed.MaxLag == 0 {
		c.Feed.MaxLag = 100000
	}
	if c.Feed.SendTimeout.Duration == 0 {
		c.Feed.SendTimeout.Duration = 30 * time.Second
	}
	if c.Metrics.Listen == "" {
		c.Metrics.Listen = "127.0.0.1:9464"
	}
	if c.Match.DailyBudget == 0 {
		c.Match.DailyBudget = 10000
	}
	if c.Match.EpochLength.Duration == 0 {
		c.Match.EpochLength.Duration = 30 * 24 * time.Hour
	}
	if c.Match.FollowUpDeadline.Duration == 0 {
		c.Match.FollowUpDeadline.Duration = 48 * time.Hour
	}
	if c.Match.IndexInterval.Duration == 0 {
		c.Match.IndexInterval.Duration = time.Second
	}
	c.setAuditDefaults()
}

// AgencyPattern is what an agency code looks like.
var AgencyPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{1,30}$`)

// Validate checks every key and reports all problems, each naming its key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	if !AgencyPattern.MatchString(c.Agency) {
		bad("agency", "must match %s, got %q", AgencyPattern, c.Agency)
	}
	if c.TrustDomain == "" {
		bad("trust_domain", "required")
	}
	checkAddr := func(key, addr string) {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad(key, "must be host:port, got %q", addr)
		}
	}
	checkAddr("listen", c.Listen)
	checkFile := func(key, path string) {
		if path == "" {
			bad(key, "required")
			return
		}
		if _, err := os.Stat(path); err != nil {
			bad(key, "%v", err)
		}
	}
	checkFile("tls.ca", c.TLS.CA)
	checkFile("tls.cert", c.TLS.Cert)
	checkFile("tls.key", c.TLS.Key)
	c.validateRevoked(bad)
	c.validateAudit(bad)
	if c.Database.Path == "" {
		bad("database.path", "required")
	}
	switch c.Database.Synchronous {
	case "full", "normal":
	default:
		bad("database.synchronous", `must be "full" or "normal", got %q`, c.Database.Synchronous)
	}
	if c.Database.MaxBatch < 1 || c.Database.MaxBatch > 10000 {
		bad("database.max_batch", "must be 1..10000, got %d", c.Database.MaxBatch)
	}
	if c.Database.ReadConnections < 1 || c.Database.ReadConnections > 64 {
		bad("database.read_connections", "must be 1..64, got %d", c.Database.ReadConnections)
	}
	seen := map[string]bool{c.Agency: true}
	for i, p := range c.Partners {
		key := fmt.Sprintf("partners[%d]", i)
		if !AgencyPattern.MatchString(p.Agency) {
			bad(key+".agency", "must match %s, got %q", AgencyPattern, p.Agency)
		} else if seen[p.Agency] {
			bad(key+".agency", "%q appears twice (or is the own agency)", p.Agency)
		}
		seen[p.Agency] = true
		if p.TrustDomain == c.TrustDomain {
			bad(key+".trust_domain", "must differ from the own trust domain %q", c.TrustDomain)
		}
		checkFile(key+".ca", p.CA)
		checkAddr(key+".address", p.Address)
	}
	if c.Limits.RatePerSecond < 0 {
		bad("limits.rate_per_second", "must be positive")
	}
	if c.Limits.Burst < 1 {
		bad("limits.burst", "must be at least 1")
	}
	if !(c.Limits.PartnerRatePerSecond > 0) {
		bad("limits.partner_rate_per_second", "must be a positive number of calls per second, got %v", c.Limits.PartnerRatePerSecond)
	}
	if c.Limits.PartnerBurst < 1 {
		bad("limits.partner_burst", "must be at least 1, got %d", c.Limits.PartnerBurst)
	}
	if c.Limits.MaxMessageBytes < 64<<10 || c.Limits.MaxMessageBytes > 256<<20 {
		bad("limits.max_message_bytes", "must be 64 KiB..256 MiB, got %d", c.Limits.MaxMessageBytes)
	}
	if c.Limits.MaxConcurrentStreams < 16 || c.Limits.MaxConcurrentStreams > 65536 {
		bad("limits.max_concurrent_streams", "must be 16..65536, got %d", c.Limits.MaxConcurrentStreams)
	}
	if d := c.Limits.HandshakeTimeout.Duration; d < 100*time.Millisecond || d > time.Minute {
		bad("limits.handshake_timeout", "must be 100ms..1m, got %v", d)
	}
	if c.Limits.ShutdownGrace.Duration < 0 || c.Limits.ShutdownGrace.Duration > 10*time.Minute {
		bad("limits.shutdown_grace", "must be 0..10m")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", `must be "text" or "json", got %q`, c.Log.Format)
	}
	if c.Federation.BatchSize < 1 || c.Federation.BatchSize > 2000 {
		bad("federation.batch_size", "must be 1..2000, got %d", c.Federation.BatchSize)
	}
	if c.Federation.Window < 1 || c.Federation.Window > 64 {
		bad("federation.window", "must be 1..64, got %d", c.Federation.Window)
	}
	if c.Federation.MinBackoff.Duration < 10*time.Millisecond || c.Federation.MinBackoff.Duration > c.Federation.MaxBackoff.Duration {
		bad("federation.min_backoff", "must be at least 10ms and at most federation.max_backoff")
	}
	if c.Federation.MaxBackoff.Duration > 10*time.Minute {
		bad("federation.max_backoff", "must be at most 10m")
	}
	if c.Federation.DriftInterval.Duration < time.Second {
		bad("federation.drift_interval", "must be at least 1s")
	}
	if c.Retention.ReviewAfter.Duration < 24*time.Hour {
		bad("retention.review_after", "must be at least 1d")
	}
	for area, d := range c.Retention.ReviewAfterByCrimeArea {
		key := "retention.review_after_by_crime_area." + area
		if !slices.Contains(CrimeAreaNames, area) {
			bad(key, "unknown crime area (known: %s)", strings.Join(CrimeAreaNames, ", "))
		} else if d.Duration < 24*time.Hour {
			bad(key, "must be at least 1d")
		}
	}
	if c.Retention.PurgeInterval.Duration < time.Second {
		bad("retention.purge_interval", "must be at least 1s")
	}
	if d := c.Audit.ContentRetention.Duration; d < MinAuditContentRetention {
		bad("audit.content_retention", "must be at least a year (8760h or 365d), got %s", d)
	}
	if c.Feed.Retention.Duration < time.Hour {
		bad("feed.retention", "must be at least 1h")
	}
	if c.Feed.MaxLag < 100 {
		bad("feed.max_lag", "must be at least 100, got %d", c.Feed.MaxLag)
	}
	if c.Feed.SendTimeout.Duration < 100*time.Millisecond || c.Feed.SendTimeout.Duration > 10*time.Minute {
		bad("feed.send_timeout", "must be 100ms..10m")
	}
	for i, p := range c.Match.Partners {
		if _, ok := c.Partner(p); !ok {
			bad(fmt.Sprintf("match.partners[%d]", i), "%q is not a configured partner", p)
		}
	}
	if c.Match.DailyBudget < 1 || c.Match.DailyBudget > 10_000_000 {
		bad("match.daily_budget", "must be 1..10000000, got %d", c.Match.DailyBudget)
	}
	if c.Match.EpochLength.Duration < time.Hour {
		bad("match.epoch_length", "must be at least 1h")
	}
	if d := c.Match.FollowUpDeadline.Duration; d < time.Hour || d > 720*time.Hour {
		bad("match.follow_up_deadline", "must be 1h..720h, got %s", d)
	}
	if d := c.Match.IndexInterval.Duration; d < 10*time.Millisecond || d > time.Hour {
		bad("match.index_interval", "must be 10ms..1h, got %s", d)
	}
	if c.Metrics.Listen != "off" {
		if host, _, err := net.SplitHostPort(c.Metrics.Listen); err != nil {
			bad("metrics.listen", `must be host:port or "off", got %q`, c.Metrics.Listen)
		} else if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			// Plaintext, unauthenticated: loopback only (scrape through a
			// local agent or an SSH tunnel).
			bad("metrics.listen", "must be a loopback address (127.0.0.0/8, ::1 or localhost), got %q", host)
		}
	}
	return errors.Join(errs...)
}

// Partner returns the partner with the agency code, if configured.
func (c *Config) Partner(agency string) (Partner, bool) {
	for _, p := range c.Partners {
		if p.Agency == agency {
			return p, true
		}
	}
	return Partner{}, false
}

// Overrides are values given on the command line, applied over the file.
type Overrides struct {
	Listen string
	DBPath string
	// PartnerAddrs maps a partner agency to its address.
	PartnerAddrs map[string]string
	// MetricsListen overrides metrics.listen.
	MetricsListen string
}

func (o Overrides) apply(c *Config) error {
	if o.Listen != "" {
		c.Listen = o.Listen
	}
	if o.DBPath != "" {
		c.Database.Path = o.DBPath
	}
	if o.MetricsListen != "" {
		c.Metrics.Listen = o.MetricsListen
	}
	for agency, addr := range o.PartnerAddrs {
		found := false
		for i := range c.Partners {
			if c.Partners[i].Agency == agency {
				c.Partners[i].Address, found = addr, true
			}
		}
		if !found {
			return fmt.Errorf("--partner-addr: %q is not a partner in the config", agency)
		}
	}
	return nil
}

func parseHex(s string) (string, bool) {
	s = strings.ReplaceAll(strings.TrimPrefix(strings.ToLower(s), "0x"), ":", "")
	if s == "" {
		return "", false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return "", false
		}
	}
	return s, true
}
