package synth

import (
	"fmt"
	"slices"
	"strings"
)

// Dose is one administered dose as a Forecaster sees it.
type Dose struct {
	Date Date
	CVX  string
}

// DueStatus says whether a series needs another dose.
type DueStatus int

const (
	// StatusDue means dose Due.Dose is needed; the dates say when.
	StatusDue DueStatus = iota
	// StatusComplete means the series needs no further dose.
	StatusComplete
	// StatusAgedOut means the person is too old for the next dose.
	StatusAgedOut
)

// Due is a Forecaster's answer for one series on one day.
type Due struct {
	Status DueStatus
	// Dose is the 1-based number of the next dose; Valid counts the valid doses in the history.
	Dose, Valid int
	// Earliest is the first day the next dose would be valid, Recommended the day it is
	// recommended, PastDue the day it becomes overdue, Latest the last day it may be given
	// (NoDate when unlimited).
	Earliest, Recommended, PastDue, Latest Date
	// EarliestBy names what sets Earliest: "min-age" or "min-interval".
	EarliestBy string
}

// Forecaster decides when doses fall due. It is asked once per visit: on day on, given the
// person's whole history up to that day in date order (a combination vaccine is one Dose with
// its CVX), it appends one Due per requested series, in order, to out and returns it. It judges
// the validity of the doses itself. Series names are those of data/series.tsv. Workers call
// it concurrently, so it must be safe for concurrent use.
//
// The CDC CDSi engine (package forecast) can implement it with one evaluation per call: its
// vaccine groups map onto the series (DTaP and Tdap → "DTaP/Tdap/Td", IPV → "Polio", PCV →
// "Pneumococcal", RV → "Rotavirus", VAR → "Varicella", MenACWY → "Meningococcal", …).
type Forecaster interface {
	Forecast(birth, on Date, history []Dose, series []string, out []Due) []Due
}

// graceDays is the CDSi four-day grace period for minimum ages and intervals.
const graceDays = 4

type doseRule struct {
	dose                              int
	minAge, recAge, pastDue, maxAge   optSpan
	minInt, recInt, skipAge, skipPrev optSpan
	skipIfAll                         []string
	since                             Date
}

// TableSchedule is the built-in Forecaster: the compact ACIP table in data/schedule.tsv.
type TableSchedule struct {
	rules     map[string][]doseRule
	seriesBit map[string]uint64 // series -> its bit
	cvxMask   map[string]uint64 // CVX -> bits of the series it counts for (from data/products.tsv)
}

// NewTableSchedule parses the embedded schedule table.
func NewTableSchedule() (*TableSchedule, error) {
	rows, err := readTSV("schedule.tsv")
	if err != nil {
		return nil, err
	}
	p := &fieldErr{table: "schedule.tsv"}
	s := &TableSchedule{rules: map[string][]doseRule{}, seriesBit: map[string]uint64{}, cvxMask: map[string]uint64{}}
	prods, err := readTSV("products.tsv")
	if err != nil {
		return nil, err
	}
	for _, r := range prods {
		for _, name := range strings.Split(r["series"], ",") {
			bit, ok := s.seriesBit[name]
			if !ok {
				if len(s.seriesBit) == 64 {
					return nil, fmt.Errorf("products.tsv: more than 64 series")
				}
				bit = 1 << len(s.seriesBit)
				s.seriesBit[name] = bit
			}
			s.cvxMask[r["cvx"]] |= bit
		}
	}
	for _, r := range rows {
		d := doseRule{dose: p.int(r, "dose"), minAge: p.opt(r, "min_age"), recAge: p.opt(r, "rec_age"),
			pastDue: p.opt(r, "pastdue_age"), maxAge: p.opt(r, "max_age"), minInt: p.opt(r, "min_int"),
			recInt: p.opt(r, "rec_int"), skipAge: p.opt(r, "skip_age"), skipPrev: p.opt(r, "skip_if_prev_age"),
			since: p.date(r, "since")}
		if v := r["skip_if_all_cvx"]; v != "-" {
			d.skipIfAll = strings.Split(v, ",")
		}
		name := r["series"]
		if want := len(s.rules[name]) + 1; d.dose != want {
			return nil, fmt.Errorf("schedule.tsv: %s dose %d out of order (want %d)", name, d.dose, want)
		}
		s.rules[name] = append(s.rules[name], d)
	}
	return s, p.err
}

// Series lists the series the table covers, sorted.
func (s *TableSchedule) Series() []string {
	var out []string
	for k := range s.rules {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Forecast implements Forecaster.
func (s *TableSchedule) Forecast(birth, on Date, history []Dose, series []string, out []Due) []Due {
	var maskBuf [64]uint64
	masks := maskBuf[:0]
	for _, d := range history {
		if d.Date > on {
			break
		}
		masks = append(masks, s.cvxMask[d.CVX])
	}
	var buf [32]Dose
	for _, name := range series {
		bit := s.seriesBit[name]
		h := buf[:0]
		for i, m := range masks {
			if m&bit != 0 {
				h = append(h, history[i])
			}
		}
		out = append(out, s.Next(name, birth, on, h))
	}
	return out
}

// Next answers for one series, given only that series' doses in date order.
func (s *TableSchedule) Next(series string, birth, on Date, history []Dose) Due {
	rules := s.rules[series]
	if len(rules) == 0 {
		return Due{Status: StatusComplete}
	}
	k, valid := 0, 0
	prev := NoDate
	var prevC civil
	bc := civilOf(birth)
	var cvxBuf [8]string
	validCVX := cvxBuf[:0]
	skip := func(at Date) {
		for k < len(rules) && rules[k].skipped(bc, at, prev, validCVX) {
			k++
		}
	}
	for _, d := range history {
		if d.Date > on {
			break
		}
		skip(d.Date)
		if k >= len(rules) {
			break
		}
		r := rules[k]
		if e, _ := r.earliest(bc, prev, prevC); d.Date < e {
			continue
		}
		if max := r.maxAge.atC(bc); max != NoDate && d.Date >= max {
			continue
		}
		valid++
		prev, prevC = d.Date, civilOf(d.Date)
		validCVX = append(validCVX, d.CVX)
		k++
	}
	skip(on)
	if k >= len(rules) {
		return Due{Status: StatusComplete, Valid: valid, Dose: k + 1}
	}
	r := rules[k]
	due := Due{Status: StatusDue, Dose: k + 1, Valid: valid, Latest: NoDate}
	due.Earliest, due.EarliestBy = r.earliest(bc, prev, prevC)
	due.Recommended = bc.plus(r.recAge.Span)
	if prev != NoDate && r.recInt.ok {
		due.Recommended = max(due.Recommended, prevC.plus(r.recInt.Span))
	}
	due.Recommended = max(due.Recommended, due.Earliest, r.since)
	due.PastDue = max(r.pastDue.atC(bc), due.Recommended)
	if m := r.maxAge.atC(bc); m != NoDate {
		due.Latest = m - 1
		if on > due.Latest {
			due.Status = StatusAgedOut
		}
	}
	return due
}

// earliest returns the first valid day for the dose and what sets it.
func (r doseRule) earliest(birth civil, prev Date, prevC civil) (Date, string) {
	e, by := birth.plus(r.minAge.Span)-graceDays, "min-age"
	if prev != NoDate && r.minInt.ok {
		if i := prevC.plus(r.minInt.Span) - graceDays; i > e {
			e, by = i, "min-interval"
		}
	}
	return e, by
}

// skipped reports whether the dose is not needed on day at.
func (r doseRule) skipped(birth civil, at, prev Date, validCVX []string) bool {
	if r.skipAge.ok && at >= birth.plus(r.skipAge.Span) {
		return true
	}
	if r.skipPrev.ok && prev != NoDate && prev >= birth.plus(r.skipPrev.Span) {
		return true
	}
	if len(r.skipIfAll) > 0 && len(validCVX) > 0 {
		for _, c := range validCVX {
			if !slices.Contains(r.skipIfAll, c) {
				return false
			}
		}
		return true
	}
	return false
}
