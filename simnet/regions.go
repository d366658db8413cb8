package simnet

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"
)

// Region names a place nodes sit in. Latencies between regions come from
// the table below (one-way, roughly half of public RTT figures).
type Region string

// Regions known to simnet.
const (
	EU     Region = "eu"
	USEast Region = "us-east"
	USWest Region = "us-west"
	Asia   Region = "asia"
	SA     Region = "sa"
	OC     Region = "oc"
)

// DefaultRegions are used when Config.Regions is empty.
var DefaultRegions = []Region{EU, USEast, USWest, Asia}

// oneWay is the one-way latency between two regions in milliseconds.
var oneWay = map[[2]Region]int{
	{EU, EU}: 8, {EU, USEast}: 40, {EU, USWest}: 70, {EU, Asia}: 110, {EU, SA}: 100, {EU, OC}: 140,
	{USEast, USEast}: 8, {USEast, USWest}: 35, {USEast, Asia}: 90, {USEast, SA}: 60, {USEast, OC}: 100,
	{USWest, USWest}: 8, {USWest, Asia}: 60, {USWest, SA}: 90, {USWest, OC}: 70,
	{Asia, Asia}: 15, {Asia, SA}: 150, {Asia, OC}: 60,
	{SA, SA}: 15, {SA, OC}: 160,
	{OC, OC}: 10,
}

// AllRegions lists every region simnet knows, in a fixed order.
func AllRegions() []Region { return []Region{EU, USEast, USWest, Asia, SA, OC} }

// ParseRegions parses a comma-separated list of region names.
func ParseRegions(s string) ([]Region, error) {
	var out []Region
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		r := Region(f)
		if !slices.Contains(AllRegions(), r) {
			return nil, fmt.Errorf("simnet: unknown region %q (known: %v)", f, AllRegions())
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("simnet: no regions in %q", s)
	}
	return out, nil
}

// RegionLatency is the one-way base latency between regions a and b.
func RegionLatency(a, b Region) time.Duration {
	ms, ok := oneWay[[2]Region{a, b}]
	if !ok {
		ms = oneWay[[2]Region{b, a}]
	}
	return time.Duration(ms) * time.Millisecond
}

// PairLatency is the one-way latency between nodes i and j placed in
// regions a and b: the regions' latency plus a stable offset in
// [0, spread) derived from the unordered pair, so that every link differs
// but a link's latency never changes (no reordering).
func PairLatency(a, b Region, i, j int, spread time.Duration) time.Duration {
	d := RegionLatency(a, b)
	if spread <= 0 {
		return d
	}
	if i > j {
		i, j = j, i
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%d-%d", i, j)
	return d + time.Duration(h.Sum64()%uint64(spread))
}
