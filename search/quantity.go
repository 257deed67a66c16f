package search

import (
	"encoding/json"
	"fmt"

	"github.com/immunis/immunis/fhir"
)

// Quantity parameters (search.html "quantity"): [prefix]number|system|code,
// number||code (code or unit, any system) or number alone. The number is
// compared as for number parameters. Units are compared as written: no
// UCUM conversion (5 mg does not match 0.005 g).
//
// Rows: (param, system, code, value, lo, hi); a Quantity whose unit
// differs from its code gets a second row with the unit as code, so
// number||unit finds it too.

// appendQuantityRows adds the rows of one quantity parameter value.
func appendQuantityRows(ix *Index, pid int32, v any) {
	q, ok := v.(map[string]any)
	if !ok {
		return
	}
	num, ok := q["value"].(json.Number)
	if !ok {
		return
	}
	f, lo, hi, ok := numberRange(string(num))
	if !ok {
		return
	}
	code, unit, system := fhir.Str(q, "code"), fhir.Str(q, "unit"), fhir.Str(q, "system")
	if code == "" {
		code, system = unit, ""
	}
	ix.Quantities = append(ix.Quantities, QuantityRow{Param: pid, System: cut(system), Code: cut(code), Value: f, Lo: lo, Hi: hi})
	if unit != "" && unit != code {
		ix.Quantities = append(ix.Quantities, QuantityRow{Param: pid, Code: cut(unit), Value: f, Lo: lo, Hi: hi})
	}
}

// parseQuantityValue parses [prefix]number[|system|code].
func parseQuantityValue(part string) (Value, error) {
	prefix, rest := splitPrefix(part)
	pieces := splitEscaped(rest, '|')
	v := Value{Prefix: prefix, Raw: unescape(pieces[0])}
	switch len(pieces) {
	case 1:
	case 3:
		v.System, v.Code, v.HasSys = unescape(pieces[1]), unescape(pieces[2]), true
	default:
		return Value{}, fmt.Errorf("quantity %q must be number, number|system|code or number||code", part)
	}
	if _, _, _, ok := numberRange(v.Raw); !ok {
		return Value{}, fmt.Errorf("%q is not a number", v.Raw)
	}
	return v, nil
}

// quantityCond is the condition on one idx_quantity row for one value.
func (b *builder) quantityCond(v Value, c col) (string, error) {
	cond, err := b.numberCond(v, c)
	if err != nil {
		return "", err
	}
	if v.System != "" {
		cond += " AND " + c.of("system") + " = " + b.arg(cut(v.System))
	}
	if v.Code != "" {
		cond += " AND " + c.of("code") + " = " + b.arg(cut(v.Code))
	}
	if v.Prefix == "ne" {
		return "(" + cond + ")", nil
	}
	return cond, nil
}
