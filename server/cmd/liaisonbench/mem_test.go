package main

import (
	"strings"
	"testing"
)

func TestParseStatus(t *testing.T) {
	status := "Name:\tliaisonbench\nVmPeak:\t 2000000 kB\nVmHWM:\t  300000 kB\nVmRSS:\t  250000 kB\nThreads:\t9\n"
	rss, hwm, err := parseStatus(strings.NewReader(status))
	if err != nil || rss != 250000*1024 || hwm != 300000*1024 {
		t.Errorf("parseStatus = %d, %d, %v; want %d, %d, nil", rss, hwm, err, 250000*1024, 300000*1024)
	}
	if _, _, err := parseStatus(strings.NewReader("Name:\tx\nVmRSS:\t 1 kB\n")); err == nil {
		t.Error("parseStatus without VmHWM: no error")
	}
	if _, _, err := parseStatus(strings.NewReader("VmRSS:\t 1 MB\nVmHWM:\t 1 kB\n")); err == nil {
		t.Error("parseStatus with an unknown unit: no error")
	}
}
