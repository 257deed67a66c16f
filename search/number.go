package search

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
)

// Number parameters (search.html "number"): eq and ne use the interval the
// search value's written precision implies (100 is [99.5, 100.5), 1.50 is
// [1.495, 1.505)); the other prefixes compare with the value itself; ap is
// ±10%.
//
// Rows: (param, value, lo, hi), lo/hi being the stored value's own
// precision interval.

// numberRange parses a FHIR decimal and returns its value and the interval
// its written precision implies. The bounds are computed exactly in
// decimal and rounded once, so 1.45 is the float nearest to 1.45 and not
// 1.5 - 0.05.
func numberRange(s string) (v, lo, hi float64, ok bool) {
	if !decimalRE.MatchString(s) {
		return 0, 0, 0, false
	}
	mant, exp := s, int64(0)
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		// bound the exponent before big.Rat expands it
		mant = s[:i]
		e, err := strconv.ParseInt(strings.TrimPrefix(s[i+1:], "+"), 10, 64)
		if err != nil || e > 400 || e < -400 {
			return 0, 0, 0, false
		}
		exp = e
	}
	if len(mant) > 400 {
		return 0, 0, 0, false
	}
	r, good := new(big.Rat).SetString(s)
	if !good {
		return 0, 0, 0, false
	}
	decimals := int64(0)
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		decimals = int64(len(mant) - i - 1)
	}
	// half a unit in the last written place: 5 × 10^(exp-decimals-1)
	half := new(big.Rat).SetInt64(5)
	scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(abs64(exp-decimals-1)), nil))
	if exp-decimals-1 >= 0 {
		half.Mul(half, scale)
	} else {
		half.Quo(half, scale)
	}
	v, _ = r.Float64()
	lo, _ = new(big.Rat).Sub(r, half).Float64()
	hi, _ = new(big.Rat).Add(r, half).Float64()
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, 0, 0, false
	}
	return v, lo, hi, true
}

// decimalRE is the FHIR decimal syntax (datatypes.html#decimal).
var decimalRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

func abs64(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// appendNumberRows adds the row of one number parameter value.
func appendNumberRows(ix *Index, pid int32, v any) {
	num, ok := v.(json.Number)
	if !ok {
		return
	}
	if f, lo, hi, ok := numberRange(string(num)); ok {
		ix.Numbers = append(ix.Numbers, NumberRow{Param: pid, Value: f, Lo: lo, Hi: hi})
	}
}

// parseNumberValue parses [prefix]number.
func parseNumberValue(part string) (Value, error) {
	prefix, rest := splitPrefix(part)
	raw := unescape(rest)
	if _, _, _, ok := numberRange(raw); !ok {
		return Value{}, fmt.Errorf("%q is not a number", raw)
	}
	return Value{Prefix: prefix, Raw: raw}, nil
}

// numberCond compares the value column (named by c) with a number value.
func (b *builder) numberCond(v Value, c col) (string, error) {
	val, vlo, vhi, ok := numberRange(v.Raw)
	if !ok {
		return "", fmt.Errorf("%q is not a number", v.Raw)
	}
	value := c.of("value")
	switch v.Prefix {
	case "", "eq":
		return fmt.Sprintf("%s >= %s AND %s < %s", value, b.arg(vlo), value, b.arg(vhi)), nil
	case "ne":
		return fmt.Sprintf("(%s < %s OR %s >= %s)", value, b.arg(vlo), value, b.arg(vhi)), nil
	case "gt", "sa":
		return value + " > " + b.arg(val), nil
	case "lt", "eb":
		return value + " < " + b.arg(val), nil
	case "ge":
		return value + " >= " + b.arg(val), nil
	case "le":
		return value + " <= " + b.arg(val), nil
	case "ap":
		pad := math.Abs(val) * 0.1
		return fmt.Sprintf("%s >= %s AND %s <= %s", value, b.arg(val-pad), value, b.arg(val+pad)), nil
	}
	return "", fmt.Errorf("unknown prefix %q", v.Prefix)
}
