package simnet

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable prints r as a human-readable table.
func (r DHTReport) WriteTable(w io.Writer) error {
	var b strings.Builder
	regions := make([]string, len(r.Regions))
	for i, g := range r.Regions {
		regions[i] = string(g)
	}
	fmt.Fprintf(&b, "simnet dht: %d nodes (%s tier) in %s, seed %d, churn %.0f%% (%d left, %d joined), %d droppers\n",
		r.Nodes, r.Tier, strings.Join(regions, ","), r.Seed, r.Churn*100, r.Left, r.Joined, r.Droppers)
	if r.Droppers > 0 {
		fmt.Fprintf(&b, "droppers: %d of them were asked, %d requests never answered\n", r.DroppersAsked, r.Unanswered)
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "lookup\tok\tsuccess\tlocal\thops p50\thops p95\thops max\tqueried p50\tp50\tp95\tp99\tmax\t")
	for _, s := range r.all() {
		fmt.Fprintf(tw, "%s\t%d/%d\t%.1f%%\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t\n",
			s.Kind, s.OK, s.Attempts, s.Success*100, s.Local, s.Hops.P50, s.Hops.P95, s.Hops.Max, s.Queried.P50,
			ms(s.Latency.P50), ms(s.Latency.P95), ms(s.Latency.P99), ms(s.Latency.Max))
	}
	tw.Flush()
	fmt.Fprintf(&b, "routing table: min %d, p50 %d, max %d peers (mean %.1f); median-hop bound ceil(log2 N)+1 = %d\n",
		r.TableSize.Min, r.TableSize.P50, r.TableSize.Max, r.TableSize.Mean, r.HopBound)
	if r.Requests > 0 {
		fmt.Fprintf(&b, "light tier: %d DHT requests, %d dials (%.0f and %.0f per node)\n",
			r.Requests, r.Dials, float64(r.Requests)/float64(r.Nodes), float64(r.Dials)/float64(r.Nodes))
	}
	fmt.Fprintf(&b, "time: %s virtual, %s wall (", r.Virtual.Round(time.Millisecond), r.Wall.Round(time.Millisecond))
	for i, p := range r.Phases {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s", p.Name, p.Wall.Round(time.Millisecond))
	}
	fmt.Fprintf(&b, "); memory: heap peak %.0f MiB, sys %.0f MiB, goroutines peak %d, open files %d\n", r.HeapMiB, r.SysMiB, r.Goroutes, r.FDs)
	for _, s := range r.all() {
		for _, e := range s.Errors {
			fmt.Fprintf(&b, "%s error: %s\n", s.Kind, e)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}

func (r DHTReport) all() []LookupStats {
	out := []LookupStats{r.Provide, r.FindPeer, r.FindProviders}
	if r.ChurnFindPeer.Attempts > 0 {
		a, b := r.ChurnFindPeer, r.ChurnFindProviders
		a.Kind, b.Kind = "churn find-peer", "churn find-providers"
		out = append(out, a, b)
	}
	return out
}
