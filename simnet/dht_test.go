package simnet

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestDHTSmoke(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rep, err := RunDHT(context.Background(), DHTConfig{Net: Config{Nodes: envN(30), Seed: 1}, Keys: 10, FindPeer: 30, FindProviders: 30, Settle: envD()})
		if err != nil {
			t.Fatal(err)
		}
		t.Log(rep.Summary())
		t.Logf("%+v", rep.Phases)
	})
	_ = time.Second
}

func envN(d int) int {
	if v, err := strconv.Atoi(os.Getenv("SIMNET_N")); err == nil {
		return v
	}
	return d
}

func envD() time.Duration {
	d, _ := time.ParseDuration(os.Getenv("SIMNET_SETTLE"))
	return d
}

func TestFetchSmoke(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rep, err := RunFetch(context.Background(), FetchConfig{Net: Config{Nodes: 12, Seed: 1}, Fetchers: 2, FileBytes: 4 << 20})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		rep.WriteTable(&b)
		t.Log(b.String())
	})
}
