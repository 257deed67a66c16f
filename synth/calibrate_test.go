package synth

import (
	"fmt"
	"os"
	"strconv"
	"testing"
)

// TestCalibrate prints achieved coverage for SYNTH_CALIBRATE_N people, the tool for tuning the
// decline/missed columns of data/series.tsv: SYNTH_CALIBRATE_N=100000 go test -run TestCalibrate -v ./synth
func TestCalibrate(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SYNTH_CALIBRATE_N"))
	if n == 0 {
		t.Skip("set SYNTH_CALIBRATE_N")
	}
	g, err := New(smallConfig(n))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := g.Each(t.Context(), func(string, []byte) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range sum.Coverage {
		fmt.Printf("%-16s %6d %.3f target %.3f %+.3f\n", c.ID, c.Population, c.Achieved, c.Target, c.Achieved-c.Target)
	}
}
