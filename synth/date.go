package synth

import (
	"fmt"
	"strconv"
	"strings"
)

// Date is a calendar day, counted in days since 1970-01-01 (civil, no time zone).
type Date int32

// NoDate marks an absent date (no limit).
const NoDate Date = -1 << 30

// MakeDate returns the Date of year y, month m (1–12), day d.
func MakeDate(y, m, d int) Date {
	// Howard Hinnant's days_from_civil.
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return Date(era*146097 + doe - 719468)
}

// YMD returns the year, month and day of d.
func (d Date) YMD() (y, m, day int) {
	z := int(d) + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return
}

// ParseDate reads YYYY-MM-DD.
func ParseDate(s string) (Date, error) {
	var y, m, d int
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	var err error
	if y, err = strconv.Atoi(s[:4]); err == nil {
		if m, err = strconv.Atoi(s[5:7]); err == nil {
			d, err = strconv.Atoi(s[8:])
		}
	}
	if err != nil || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, fmt.Errorf("date %q: not a calendar date", s)
	}
	return MakeDate(y, m, d), nil
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// String formats d as YYYY-MM-DD.
func (d Date) String() string { return string(d.append(nil)) }

func (d Date) append(b []byte) []byte {
	y, m, day := d.YMD()
	return append(b, byte('0'+y/1000%10), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+m/10), byte('0'+m%10), '-', byte('0'+day/10), byte('0'+day%10))
}

// addMonths adds calendar months; a day missing from the target month rolls to the first of the
// next month, as the CDSi date rules do.
func (d Date) addMonths(n int) Date {
	if n == 0 {
		return d
	}
	return civilOf(d).plus(Span{M: n})
}

// civil is a Date with its calendar fields, for repeated arithmetic from one day (a birth date).
type civil struct {
	day     Date
	y, m, d int
}

func civilOf(d Date) civil {
	y, m, day := d.YMD()
	return civil{d, y, m, day}
}

// plus is Span.From for a day whose calendar fields are known.
func (c civil) plus(s Span) Date {
	if s.Y == 0 && s.M == 0 {
		return c.day + Date(s.D)
	}
	t := c.y*12 + (c.m - 1) + s.Y*12 + s.M
	ny, nm := t/12, t%12+1
	if n := daysIn(ny, nm); c.d > n {
		return MakeDate(ny, nm, n) + 1 + Date(s.D)
	}
	return MakeDate(ny, nm, c.d) + Date(s.D)
}

// Span is an age or interval: years and months on the calendar, then days.
type Span struct{ Y, M, D int }

// From returns d moved forward by s.
func (s Span) From(d Date) Date {
	if s.Y == 0 && s.M == 0 {
		return d + Date(s.D)
	}
	return civilOf(d).plus(s)
}

// ParseSpan reads "4y", "2m", "6w", "3d" or combinations like "9y5m"; "-" or "" is the zero span
// with ok false.
func ParseSpan(s string) (sp Span, ok bool, err error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "-" {
		return Span{}, false, nil
	}
	n := 0
	digits := false
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			n = n*10 + int(c-'0')
			digits = true
			continue
		case !digits:
			return Span{}, false, fmt.Errorf("span %q: number expected before %q", s, c)
		case c == 'y':
			sp.Y += n
		case c == 'm':
			sp.M += n
		case c == 'w':
			sp.D += 7 * n
		case c == 'd':
			sp.D += n
		default:
			return Span{}, false, fmt.Errorf("span %q: unknown unit %q", s, c)
		}
		n, digits = 0, false
	}
	if digits {
		return Span{}, false, fmt.Errorf("span %q: unit missing", s)
	}
	return sp, true, nil
}

// ageAt returns whole years between birth and d.
func ageAt(birth, d Date) int {
	by, bm, bd := birth.YMD()
	y, m, day := d.YMD()
	a := y - by
	if m < bm || (m == bm && day < bd) {
		a--
	}
	return a
}
