package synth

import (
	"math"
	"runtime"
	"testing"
)

// TestCoverageNearTargets generates 5,000 people and compares achieved coverage with the
// published figures in data/coverage.tsv. The tolerance is five points, or three standard
// errors where the cohort is small (17-year-olds).
func TestCoverageNearTargets(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 5,000 people")
	}
	g, err := New(smallConfig(5000))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := g.Each(t.Context(), func(string, []byte) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range sum.Coverage {
		t.Run(c.ID, func(t *testing.T) {
			if c.Population < 50 {
				t.Fatalf("cohort of %d is too small to judge", c.Population)
			}
			se := math.Sqrt(c.Target * (1 - c.Target) / float64(c.Population))
			tol := math.Max(0.05, 3*se)
			if math.Abs(c.Achieved-c.Target) > tol {
				t.Errorf("achieved %.3f of %d, target %.3f ± %.3f (%s)", c.Achieved, c.Population, c.Target, tol, c.Source)
			}
		})
	}
}

// TestMemoryFlat streams 200,000 people without keeping them and checks that the heap in use
// stays about as small as it is for 20,000.
func TestMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 200,000 people")
	}
	peak := func(n int) uint64 {
		g, err := New(smallConfig(n))
		if err != nil {
			t.Fatal(err)
		}
		var max uint64
		var ms runtime.MemStats
		count := 0
		_, err = g.Each(t.Context(), func(string, []byte) error {
			if count++; count%50_000 == 0 {
				runtime.ReadMemStats(&ms)
				max = maxU(max, ms.HeapInuse)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return max
	}
	small, large := peak(20_000), peak(200_000)
	t.Logf("heap in use: %d KiB at 20k people, %d KiB at 200k", small>>10, large>>10)
	if large > small*2+(32<<20) {
		t.Errorf("heap grows with the population: %d KiB at 20k, %d KiB at 200k", small>>10, large>>10)
	}
}

func maxU(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}
