package simnet

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
)

// TestLocality is the data-locality figure in small: 8 inputs of 64 MiB
// (scaled) on 8 workers, one each, with the scheduler's locality on and
// off. With it, at least 3× fewer bytes move and the makespan is no worse
// (within 5 %: the run without locality is a different schedule on a
// network with its own timings). `enxame simnet --scenario locality`
// gives the full figure (64 inputs on 64 workers).
func TestLocality(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rep, err := RunLocality(context.Background(), LocalityConfig{Net: Config{Seed: 1}, Workers: 8, Inputs: 8})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		rep.WriteTable(&b)
		t.Log("\n" + b.String())
		for _, r := range []LocalityRun{rep.On, rep.Off} {
			if r.State != "done" {
				t.Fatalf("job with locality %v: %s (%s)", r.Locality, r.State, r.Error)
			}
		}
		if rep.On.Moved*3 > rep.Off.Moved {
			t.Errorf("moved %d inputs with locality, %d without: want at least 3× fewer", rep.On.Moved, rep.Off.Moved)
		}
		if rep.On.Makespan > rep.Off.Makespan+rep.Off.Makespan/20 {
			t.Errorf("makespan %v with locality, worse than %v without", rep.On.Makespan, rep.Off.Makespan)
		}
	})
}
