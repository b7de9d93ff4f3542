package main

import (
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/liaison-exchange/liaison/certs"
	"github.com/liaison-exchange/liaison/server/config"
)

// TestWriteConfig_ReadsBackAsTheSameConfig: the node alone is started from
// the file writeConfig writes; what `liaison serve --config` reads from it
// is the configuration the in-process node of the scenarios ran with.
func TestWriteConfig_ReadsBackAsTheSameConfig(t *testing.T) {
	dir := t.TempDir()
	pki := filepath.Join(dir, "pki")
	for _, a := range []string{ownAgency, partnerAgency} {
		if err := certs.WriteAgency(pki, a); err != nil {
			t.Fatal(err)
		}
	}
	f := flags{logLevel: "warn"}
	cfg, err := nodeConfig(f, pki, filepath.Join(dir, "alpha.db"), ownAgency, partnerAgency, "127.0.0.1:7001", "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "alpha.yaml")
	if err := writeConfig(cfg, path); err != nil {
		t.Fatal(err)
	}
	back, err := config.Load(path, config.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	// Compared as YAML: an empty list reads back as nil.
	want, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := yaml.Marshal(back)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("read back:\n%s\nwritten:\n%s", got, want)
	}
}
