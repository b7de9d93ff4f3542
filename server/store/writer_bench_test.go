package store

import (
	"context"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/liaison-exchange/liaison/server/audit"
)

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRecordCallInFlight is the cost of a read's audit event with 50
// callers in flight (GetLead's write path, without gRPC): it reports the
// process's CPU per event and the operations per group commit.
func BenchmarkRecordCallInFlight(b *testing.B) {
	s, err := Open(context.Background(), b.TempDir()+"/w.db", Options{Agency: "alpha"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const callers = 50
	b.ResetTimer()
	st0, cpu0 := s.Stats(), cpuNow()
	var wg sync.WaitGroup
	per := b.N/callers + 1
	for c := range callers {
		wg.Go(func() {
			for i := range per {
				call := &audit.Call{Principal: "spiffe://alpha.liaison.test/analyst/alice", Role: "analyst", Action: "/liaison.v1.LeadService/GetLead", RequestID: "r"}
				call.SetResource("leads/" + string(rune('a'+(c*per+i)%26)))
				if err := s.RecordCall(audit.NewContext(context.Background(), call), nil); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	st, cpu := s.Stats(), cpuNow()
	ops := st.Ops - st0.Ops
	b.ReportMetric(float64(cpu-cpu0)/float64(time.Microsecond)/float64(ops), "cpu-µs/event")
	b.ReportMetric(float64(ops)/float64(st.Batches-st0.Batches), "ops/commit")
	b.ReportMetric(float64(st.Lingers-st0.Lingers)/float64(st.Batches-st0.Batches), "lingers/commit")
	b.ReportMetric(float64(st.LingerTime-st0.LingerTime)/float64(time.Microsecond)/float64(max(1, st.Lingers-st0.Lingers)), "µs/linger")
	b.ReportMetric(float64(st.CommitTime-st0.CommitTime)/float64(time.Microsecond)/float64(st.Batches-st0.Batches), "µs/commit")
}
