package forecast

// Date arithmetic of the CDSi Logic Specification, chapter 3 ("Date
// calculations", business rules CALCDT-1 … CALCDT-6 as summarised in the
// spec's concepts chapter):
//
//   - CALCDT-1: adding years keeps month and day:     01/01/2000 + 3 years   = 01/01/2003
//   - CALCDT-2: adding months keeps the day:          11/01/2000 + 6 months  = 05/01/2001
//   - CALCDT-3: weeks and days add whole days:        02/01/2000 + 5 weeks   = 03/07/2000
//   - CALCDT-4: subtracting days subtracts days:      01/15/2000 - 4 days    = 01/11/2000
//   - CALCDT-5: a date that does not exist moves to the first of the next
//     month:                                          03/31/2000 + 6 months  = 10/01/2000
//   - CALCDT-6: years first, then months, then weeks and days:
//     01/31/2000 + 6 months - 4 days = 07/27/2000
//
// The spec's "assumed value if empty" dates are MinDate (01/01/1900) and
// MaxDate (12/31/2999).

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Date is a calendar date (no time, no zone). The zero value means "no
// date"; every real date compares with < and > in calendar order.
type Date int32

// Days between 0000-03-01 (proleptic Gregorian) and 1970-01-01, plus one so
// that the zero Date stays free to mean "no date".
const dateOffset = 719468 + 1

// NewDate returns the date year-month-day. Out-of-range months or days
// roll over the way CALCDT-5 describes (day 31 of a 30-day month is the
// first of the next month).
func NewDate(year, month, day int) Date {
	y, m := year, month
	if m < 1 || m > 12 {
		y += (m - 1) / 12
		m = (m-1)%12 + 1
		if m < 1 {
			m += 12
			y--
		}
	}
	if day > daysIn(y, m) { // CALCDT-5
		day = 1
		m++
		if m > 12 {
			m = 1
			y++
		}
	}
	return Date(daysFromCivil(y, m, day) + dateOffset)
}

// MinDate (01/01/1900) and MaxDate (12/31/2999) are the spec's assumed
// values for empty begin and end dates (TestDateBasics checks them).
const (
	MinDate Date = 693902
	MaxDate Date = 1095668
)

// IsZero reports whether d is the "no date" value.
func (d Date) IsZero() bool { return d == 0 }

// Civil returns year, month and day of d.
func (d Date) Civil() (year, month, day int) {
	return civilFromDays(int(d) - dateOffset)
}

// String formats d as YYYY-MM-DD (the format of the CDC test cases), or ""
// for the zero Date.
func (d Date) String() string {
	if d == 0 {
		return ""
	}
	y, m, dd := d.Civil()
	var b [10]byte
	b[0] = byte('0' + y/1000%10)
	b[1] = byte('0' + y/100%10)
	b[2] = byte('0' + y/10%10)
	b[3] = byte('0' + y%10)
	b[4] = '-'
	b[5] = byte('0' + m/10)
	b[6] = byte('0' + m%10)
	b[7] = '-'
	b[8] = byte('0' + dd/10)
	b[9] = byte('0' + dd%10)
	return string(b[:])
}

// MarshalText implements encoding.TextMarshaler (YYYY-MM-DD, empty for no date).
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Date) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*d = 0
		return nil
	}
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// AddDays returns d plus n days (n may be negative).
func (d Date) AddDays(n int) Date {
	if d == 0 {
		return 0
	}
	return d + Date(n)
}

// Add returns d plus the duration p following CALCDT-1…6: years, then
// months (moving a non-existent day to the first of the next month), then
// days. Adding to the zero Date gives the zero Date.
func (d Date) Add(p Duration) Date {
	if d == 0 {
		return 0
	}
	if p.years == 0 && p.months == 0 {
		return d + Date(p.days)
	}
	y, m, dd := d.Civil()
	t := (y+int(p.years))*12 + m - 1 + int(p.months) // CALCDT-1, CALCDT-2
	y, m = floorDiv(t, 12), t-floorDiv(t, 12)*12+1
	if dd > daysIn(y, m) { // CALCDT-5: the first of the next month
		dd = 1
		m++
		if m > 12 {
			m = 1
			y++
		}
	}
	return Date(daysFromCivil(y, m, dd)+dateOffset) + Date(p.days)
}

// AddOr returns d.Add(p) when p is set and def when it is not: the
// spec's "assumed value if empty".
func (d Date) AddOr(p Duration, def Date) Date {
	if !p.set {
		return def
	}
	return d.Add(p)
}

// ParseDate reads a date as YYYY-MM-DD, YYYYMMDD (supporting data) or
// MM/DD/YYYY (supporting data immunity birth dates).
func ParseDate(s string) (Date, error) {
	s = strings.TrimSpace(s)
	var y, m, d int
	var err error
	switch {
	case len(s) == 10 && s[4] == '-' && s[7] == '-':
		y, err = atoiErr(s[0:4], err)
		m, err = atoiErr(s[5:7], err)
		d, err = atoiErr(s[8:10], err)
	case len(s) == 8:
		y, err = atoiErr(s[0:4], err)
		m, err = atoiErr(s[4:6], err)
		d, err = atoiErr(s[6:8], err)
	case len(s) == 10 && s[2] == '/' && s[5] == '/':
		m, err = atoiErr(s[0:2], err)
		d, err = atoiErr(s[3:5], err)
		y, err = atoiErr(s[6:10], err)
	default:
		return 0, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	if err != nil {
		return 0, fmt.Errorf("date %q: %w", s, err)
	}
	if y < 1 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, fmt.Errorf("date %q: no such calendar day", s)
	}
	return Date(daysFromCivil(y, m, d) + dateOffset), nil
}

// MustDate is ParseDate for literals in tests and examples; it panics on a
// malformed literal and must not be used on input.
func MustDate(s string) Date {
	d, err := ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

func atoiErr(s string, prev error) (int, error) {
	if prev != nil {
		return 0, prev
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("not a number")
		}
	}
	return strconv.Atoi(s)
}

// Duration is a supporting-data age or interval such as "6 weeks - 4 days"
// or "16 years - 4 months": a signed number of years, months and days
// (weeks are stored as days). The zero Duration is "not specified", which
// differs from "0 days".
type Duration struct {
	years, months, days int32
	set                 bool
	id                  uint16 // interned by the engine (0: not interned)
}

// Set reports whether the duration was given in the supporting data.
func (p Duration) Set() bool { return p.set }

// ParseDuration reads the supporting-data form: terms "<n> year(s)|month(s)|
// week(s)|day(s)" joined by "+" or "-". An empty string (or "n/a") is the
// unset Duration.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "n/a") {
		return Duration{}, nil
	}
	p := Duration{set: true}
	sign := int32(1)
	fields := strings.Fields(s)
	for i := 0; i < len(fields); {
		switch fields[i] {
		case "+":
			sign = 1
			i++
			continue
		case "-":
			sign = -1
			i++
			continue
		}
		if i+1 >= len(fields) {
			return Duration{}, fmt.Errorf("duration %q: number without unit", s)
		}
		n, err := strconv.Atoi(fields[i])
		if err != nil {
			return Duration{}, fmt.Errorf("duration %q: %w", s, err)
		}
		v := sign * int32(n)
		switch strings.TrimSuffix(strings.ToLower(fields[i+1]), "s") {
		case "year":
			p.years += v
		case "month":
			p.months += v
		case "week":
			p.days += 7 * v
		case "day":
			p.days += v
		default:
			return Duration{}, fmt.Errorf("duration %q: unknown unit %q", s, fields[i+1])
		}
		i += 2
	}
	return p, nil
}

// String renders the duration in the supporting-data style.
func (p Duration) String() string {
	if !p.set {
		return ""
	}
	var parts []string
	add := func(n int32, unit string) {
		if n == 0 {
			return
		}
		sign := "+"
		if n < 0 {
			sign, n = "-", -n
		}
		u := unit
		if n != 1 {
			u += "s"
		}
		parts = append(parts, sign, strconv.Itoa(int(n))+" "+u)
	}
	add(p.years, "year")
	add(p.months, "month")
	add(p.days, "day")
	if len(parts) == 0 {
		return "0 days"
	}
	if parts[0] == "+" {
		parts = parts[1:]
	} else {
		parts[1] = "-" + parts[1]
		parts = parts[1:]
	}
	return strings.Join(parts, " ")
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y, m int) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil and civilFromDays are H. Hinnant's public-domain
// algorithms: days relative to 1970-01-01 in the proleptic Gregorian
// calendar. Years 1 … 9999 take an unsigned fast path (no floor
// divisions); the general versions handle the rest.
func daysFromCivil(y, m, d int) int {
	if y >= 1 && y <= 9999 {
		yy := uint32(y)
		if m <= 2 {
			yy--
		}
		era := yy / 400
		yoe := yy - era*400
		mp := (uint32(m) + 9) % 12
		doy := (153*mp+2)/5 + uint32(d) - 1
		doe := yoe*365 + yoe/4 - yoe/100 + doy
		return int(era*146097+doe) - 719468
	}
	return daysFromCivilSigned(y, m, d)
}

func daysFromCivilSigned(y, m, d int) int {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func civilFromDays(z int) (y, m, d int) {
	if zz := z + 719468; zz >= 0 && zz < 1<<31 {
		u := uint32(zz)
		era := u / 146097
		doe := u - era*146097
		yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
		doy := doe - (365*yoe + yoe/4 - yoe/100)
		mp := (5*doy + 2) / 153
		d = int(doy - (153*mp+2)/5 + 1)
		m = int(mp) + 3
		if m > 12 {
			m -= 12
		}
		y = int(yoe + era*400)
		if m <= 2 {
			y++
		}
		return y, m, d
	}
	return civilFromDaysSigned(z)
}

func civilFromDaysSigned(z int) (y, m, d int) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}
