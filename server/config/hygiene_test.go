package config_test

import (
	"strings"
	"testing"

	"github.com/liaison-exchange/liaison/server/config"
)

// TestHygiene_RevokedByIssuer: a revoked certificate is named by the
// agency whose CA issued it and its serial; the old serial-only key is
// refused with an error that says what to write instead.
func TestHygiene_RevokedByIssuer(t *testing.T) {
	t.Parallel()
	dir := files(t)
	c, err := config.Load(write(t, dir, validYAML), config.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	want := []config.Revoked{{Agency: "bravo", Serial: "0a:1b:2c"}, {Agency: "alpha", Serial: "DEADBEEF"}}
	if len(c.TLS.Revoked) != 2 || c.TLS.Revoked[0] != want[0] || c.TLS.Revoked[1] != want[1] {
		t.Errorf("tls.revoked = %+v, want %+v", c.TLS.Revoked, want)
	}

	for _, tt := range []struct{ name, old, new, key, says string }{
		{"OldSerialOnlyKey", "  revoked:\n", "  revoked_serials: [\"0a:1b:2c\"]\n  revoked:\n", "tls.revoked_serials", "tls.revoked"},
		{"UnknownAgency", "{agency: bravo, serial: \"0a:1b:2c\"}", "{agency: delta, serial: \"0a:1b:2c\"}", "tls.revoked[0].agency", "delta"},
		{"AgencyMissing", "{agency: bravo, serial: \"0a:1b:2c\"}", "{serial: \"0a:1b:2c\"}", "tls.revoked[0].agency", "required"},
		{"SerialNotHex", "{agency: alpha, serial: DEADBEEF}", "{agency: alpha, serial: xyz}", "tls.revoked[1].serial", "xyz"},
		{"SerialEmpty", "{agency: alpha, serial: DEADBEEF}", "{agency: alpha}", "tls.revoked[1].serial", "hex"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := files(t)
			_, err := config.Load(write(t, dir, edit(t, tt.old, tt.new)), config.Overrides{})
			if err == nil {
				t.Fatal("accepted")
			}
			if !namesKey(err, tt.key) || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not name %q and say %q", err, tt.key, tt.says)
			}
		})
	}
	// An empty old key (as in configs written before) is harmless.
	if _, err := config.Load(write(t, files(t), edit(t, "  revoked:\n", "  revoked_serials: []\n  revoked:\n")), config.Overrides{}); err != nil {
		t.Errorf("empty revoked_serials: %v", err)
	}
}
