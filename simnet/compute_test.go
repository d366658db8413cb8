package simnet

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
)

func runComputeTest(t *testing.T, cfg ComputeConfig) ComputeReport {
	t.Helper()
	var rep ComputeReport
	synctest.Test(t, func(t *testing.T) {
		var err error
		if rep, err = RunCompute(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		rep.WriteTable(&b)
		t.Log("\n" + b.String())
	})
	return rep
}

// TestComputeSmall runs the compute scenario on few workers and units
// (the size that fits under -race).
func TestComputeSmall(t *testing.T) {
	rep := runComputeTest(t, ComputeConfig{Net: Config{Seed: 1}, Workers: 8, Units: 60})
	if rep.State != "done" || rep.WrongAccepted != 0 {
		t.Fatalf("job %s (%s), %d wrong results accepted", rep.State, rep.Error, rep.WrongAccepted)
	}
	if rep.Ratio > 1.3 {
		t.Errorf("makespan %v is %.2fx the bound %v", rep.Makespan, rep.Ratio, rep.Bound)
	}
}

// TestComputeWrongWorkers is the adversary scenario's compute part: a
// quarter of the workers return a wrong output for every unit; with three
// replicas every accepted result must still be correct and the liars
// recorded as outvoted.
func TestComputeWrongWorkers(t *testing.T) {
	rep := runComputeTest(t, ComputeConfig{Net: Config{Seed: 2}, Workers: 8, Units: 20, Replicas: 3, Wrong: 0.25})
	if rep.State != "done" || rep.WrongAccepted != 0 {
		t.Fatalf("job %s (%s), %d wrong results accepted", rep.State, rep.Error, rep.WrongAccepted)
	}
	if rep.Faulty == 0 {
		t.Errorf("no worker was outvoted")
	}
}
