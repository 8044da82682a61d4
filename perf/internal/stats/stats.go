// Package stats holds the little arithmetic the perf programs share:
// percentiles of latency samples and medians and spreads of repeated runs.
package stats

import (
	"math"
	"slices"
	"time"
)

// Percentile returns the p-th percentile (0–100) of xs by nearest rank, or
// NaN when xs is empty. xs is sorted in place.
func Percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	slices.Sort(xs)
	rank := int(math.Ceil(p / 100 * float64(len(xs))))
	return xs[min(max(rank, 1), len(xs))-1]
}

// Median of xs (the mean of the middle two for an even count), NaN when
// empty. xs is not changed.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Spread is the range of repeated measurements, as a fraction of their
// median: (max-min)/median. Zero for fewer than two.
func Spread(xs []float64) float64 {
	if len(xs) < 2 {
		return 0
	}
	lo, hi := slices.Min(xs), slices.Max(xs)
	return (hi - lo) / Median(xs)
}

// Ms converts a duration to float milliseconds.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Summary is the usual description of a latency sample, in milliseconds.
type Summary struct {
	N                       int
	P50, P90, P99, Max, Avg float64
}

// Summarize describes latencies given in milliseconds. xs is sorted in
// place.
func Summarize(xs []float64) Summary {
	s := Summary{N: len(xs)}
	if len(xs) == 0 {
		nan := math.NaN()
		s.P50, s.P90, s.P99, s.Max, s.Avg = nan, nan, nan, nan, nan
		return s
	}
	s.P50 = Percentile(xs, 50)
	s.P90 = Percentile(xs, 90)
	s.P99 = Percentile(xs, 99)
	s.Max = xs[len(xs)-1]
	var sum float64
	for _, x := range xs {
		sum += x
	}
	s.Avg = sum / float64(len(xs))
	return s
}
