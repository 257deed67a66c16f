package search

import (
	"math"
	"strconv"
	"strings"
)

// numberRange parses a FHIR decimal and returns its value and the interval
// its written precision implies (search.html "Number": 100 stands for
// [99.5, 100.5), 1.50 for [1.495, 1.505)).
func numberRange(s string) (v, lo, hi float64, ok bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, 0, 0, false
	}
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		exp, err = strconv.Atoi(s[i+1:])
		if err != nil {
			return 0, 0, 0, false
		}
	}
	decimals := 0
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		decimals = len(mant) - i - 1
	}
	half := 0.5 * math.Pow(10, float64(exp-decimals))
	return f, f - half, f + half, true
}
