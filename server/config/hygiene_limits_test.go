package config_test

import (
	"testing"
	"time"

	"github.com/liaison-exchange/liaison/server/config"
)

// TestHygiene_ConnectionLimits: limits.max_concurrent_streams and
// limits.handshake_timeout have defaults and bounds, and an out-of-bounds
// value is an error naming its key.
func TestHygiene_ConnectionLimits(t *testing.T) {
	t.Parallel()
	dir := files(t)
	c, err := config.Load(write(t, dir, validYAML), config.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits.MaxConcurrentStreams != 256 || c.Limits.HandshakeTimeout.Duration != 5*time.Second {
		t.Errorf("defaults: max_concurrent_streams %d, handshake_timeout %v; want 256, 5s", c.Limits.MaxConcurrentStreams, c.Limits.HandshakeTimeout)
	}
	set := func(v string) string { return edit(t, "  shutdown_grace: 5s\n", "  shutdown_grace: 5s\n"+v) }
	c, err = config.Load(write(t, dir, set("  max_concurrent_streams: 1000\n  handshake_timeout: 250ms\n")), config.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits.MaxConcurrentStreams != 1000 || c.Limits.HandshakeTimeout.Duration != 250*time.Millisecond {
		t.Errorf("set: %d, %v", c.Limits.MaxConcurrentStreams, c.Limits.HandshakeTimeout)
	}
	for _, tt := range []struct{ name, value, key string }{
		{"StreamsTooFew", "  max_concurrent_streams: 15\n", "limits.max_concurrent_streams"},
		{"StreamsNegative", "  max_concurrent_streams: -1\n", "limits.max_concurrent_streams"},
		{"StreamsTooMany", "  max_concurrent_streams: 65537\n", "limits.max_concurrent_streams"},
		{"HandshakeTooShort", "  handshake_timeout: 10ms\n", "limits.handshake_timeout"},
		{"HandshakeNegative", "  handshake_timeout: -1s\n", "limits.handshake_timeout"},
		{"HandshakeTooLong", "  handshake_timeout: 2m\n", "limits.handshake_timeout"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load(write(t, files(t), set(tt.value)), config.Overrides{})
			if err == nil {
				t.Fatal("accepted")
			}
			if !namesKey(err, tt.key) {
				t.Errorf("error %q does not name %q", err, tt.key)
			}
		})
	}
}
