package fhir

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// Precision of a FHIR date, dateTime or instant value.
type Precision int

const (
	PrecisionYear Precision = iota
	PrecisionMonth
	PrecisionDay
	PrecisionMinute
	PrecisionSecond
	PrecisionFraction
)

// Date is a FHIR date/dateTime/instant with the precision it was written in.
// A partial date stands for the whole interval it names ("2024" is all of
// 2024), which is what search's range semantics need.
type Date struct {
	Time      time.Time // the start of the interval
	Precision Precision
	Digits    int // fractional-second digits when Precision == PrecisionFraction
}

var dateRE = regexp.MustCompile(`^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$`)

// ParseDate parses a FHIR date, dateTime or instant (and the search form
// that allows minutes without seconds). Values without a time zone are
// taken in loc.
func ParseDate(s string, loc *time.Location) (Date, error) {
	m := dateRE.FindStringSubmatch(s)
	if m == nil {
		return Date{}, fmt.Errorf("%q is not a valid FHIR date or dateTime", s)
	}
	num := func(i int, def int) int {
		if m[i] == "" {
			return def
		}
		n, _ := strconv.Atoi(m[i])
		return n
	}
	year, month, day := num(1, 0), num(2, 1), num(3, 1)
	hour, min, sec := num(4, 0), num(5, 0), num(6, 0)
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, time.Month(month)) || hour > 23 || min > 59 || sec > 59 {
		return Date{}, fmt.Errorf("%q is not a valid calendar date or time", s)
	}
	// A time without a zone (allowed in search values) is taken in loc;
	// stored resources were checked by the validator, which requires a zone.
	z := loc
	if m[8] != "" {
		if m[8] == "Z" {
			z = time.UTC
		} else {
			h, _ := strconv.Atoi(m[8][1:3])
			mm, _ := strconv.Atoi(m[8][4:6])
			off := h*3600 + mm*60
			if m[8][0] == '-' {
				off = -off
			}
			z = time.FixedZone(m[8], off)
		}
	}
	nanos := 0
	d := Date{}
	switch {
	case m[7] != "":
		frac := m[7]
		d.Digits = len(frac)
		for len(frac) < 9 {
			frac += "0"
		}
		nanos, _ = strconv.Atoi(frac)
		d.Precision = PrecisionFraction
	case m[6] != "":
		d.Precision = PrecisionSecond
	case m[5] != "":
		d.Precision = PrecisionMinute
	case m[3] != "":
		d.Precision = PrecisionDay
	case m[2] != "":
		d.Precision = PrecisionMonth
	default:
		d.Precision = PrecisionYear
	}
	d.Time = time.Date(year, time.Month(month), day, hour, min, sec, nanos, z)
	return d, nil
}

func daysIn(year int, m time.Month) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// End is the exclusive end of the interval the value names.
func (d Date) End() time.Time {
	t := d.Time
	switch d.Precision {
	case PrecisionYear:
		return t.AddDate(1, 0, 0)
	case PrecisionMonth:
		return t.AddDate(0, 1, 0)
	case PrecisionDay:
		return t.AddDate(0, 0, 1)
	case PrecisionMinute:
		return t.Add(time.Minute)
	case PrecisionSecond:
		return t.Add(time.Second)
	default:
		step := time.Duration(1)
		for i := d.Digits; i < 9; i++ {
			step *= 10
		}
		return t.Add(step)
	}
}

// Micros is the Unix time in microseconds, the unit the stores index dates in.
func Micros(t time.Time) int64 { return t.UnixMicro() }

// Bounds returns the interval as inclusive [lo, hi] microseconds.
func (d Date) Bounds() (lo, hi int64) {
	return d.Time.UnixMicro(), d.End().UnixMicro() - 1
}
