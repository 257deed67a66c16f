package forecast

import "testing"

func TestDateArithmeticCALCDT(t *testing.T) {
	tests := []struct {
		rule, start, add, want string
	}{
		{"CALCDT-1 years keep month and day", "2000-01-01", "3 years", "2003-01-01"},
		{"CALCDT-2 months keep the day", "2000-01-01", "6 months", "2000-07-01"},
		{"CALCDT-2 months across a year", "2000-11-01", "6 months", "2001-05-01"},
		{"CALCDT-3 days", "2000-01-01", "3 days", "2000-01-04"},
		{"CALCDT-3 weeks", "2000-01-01", "3 weeks", "2000-01-22"},
		{"CALCDT-3 weeks over a leap February", "2000-02-01", "5 weeks", "2000-03-07"},
		{"CALCDT-3 weeks over a common February", "2001-02-01", "5 weeks", "2001-03-08"},
		{"CALCDT-4 minus days", "2000-01-15", "-4 days", "2000-01-11"},
		{"CALCDT-5 no 31st of September", "2000-03-31", "6 months", "2000-10-01"},
		{"CALCDT-5 no 31st of February", "2000-08-31", "6 months", "2001-03-01"},
		{"CALCDT-5 no 29th of February", "2000-02-29", "1 year", "2001-03-01"},
		{"CALCDT-6 months then days", "2000-01-31", "6 months - 4 days", "2000-07-27"},
		{"grace period", "2025-09-06", "6 weeks - 4 days", "2025-10-14"},
		{"plus weeks", "2025-01-15", "3 months + 4 weeks", "2025-05-13"},
		{"minus months", "2000-06-15", "16 years - 4 months", "2016-02-15"},
		{"plus one day", "2025-01-31", "8 months + 1 day", "2025-10-02"},
		{"zero", "2025-01-31", "0 days", "2025-01-31"},
		{"plural year with minus", "2024-02-29", "1 years - 4 days", "2025-02-25"},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			d, err := ParseDuration(tt.add)
			if err != nil {
				t.Fatal(err)
			}
			if got := MustDate(tt.start).Add(d).String(); got != tt.want {
				t.Errorf("%s + %s = %s, want %s", tt.start, tt.add, got, tt.want)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    string // String() form; "" for unset
		wantErr bool
	}{
		{"6 weeks - 4 days", "38 days", false},
		{"16 years - 4 months", "16 years - 4 months", false},
		{"10 months + 4 weeks", "10 months + 28 days", false},
		{"1 day", "1 day", false},
		{"0 days", "0 days", false},
		{"", "", false},
		{"n/a", "", false},
		{"6 fortnights", "", true},
		{"weeks 6", "", true},
		{"6", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d, err := ParseDuration(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && d.String() != tt.want {
				t.Errorf("String() = %q, want %q", d.String(), tt.want)
			}
			if err == nil && d.Set() != (tt.want != "") {
				t.Errorf("Set() = %v", d.Set())
			}
		})
	}
}

func TestParseDate(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"2025-11-10", "2025-11-10", false},
		{"20250701", "2025-07-01", false},
		{"01/01/1957", "1957-01-01", false},
		{" 2024-02-29 ", "2024-02-29", false},
		{"2025-02-29", "", true},
		{"2025-13-01", "", true},
		{"2025-1-1", "", true},
		{"tomorrow", "", true},
		{"2025-aa-01", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d, err := ParseDate(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err == nil && d.String() != tt.want {
				t.Errorf("got %s, want %s", d, tt.want)
			}
		})
	}
}

func TestDateBasics(t *testing.T) {
	if MinDate.String() != "1900-01-01" || MaxDate.String() != "2999-12-31" {
		t.Errorf("MinDate %s MaxDate %s", MinDate, MaxDate)
	}
	var zero Date
	if !zero.IsZero() || zero.String() != "" || !zero.Add(Duration{days: 3, set: true}).IsZero() || !zero.AddDays(1).IsZero() {
		t.Error("zero Date must stay zero")
	}
	if got := NewDate(2025, 13, 1).String(); got != "2026-01-01" {
		t.Errorf("NewDate month 13 = %s", got)
	}
	if got := NewDate(2025, 4, 31).String(); got != "2025-05-01" {
		t.Errorf("NewDate April 31 = %s", got)
	}
	if MustDate("2025-01-01") >= MustDate("2025-01-02") {
		t.Error("dates must order")
	}
	var d Date
	if err := d.UnmarshalText([]byte("2025-03-04")); err != nil || d.String() != "2025-03-04" {
		t.Errorf("UnmarshalText: %v %s", err, d)
	}
	if b, _ := d.MarshalText(); string(b) != "2025-03-04" {
		t.Errorf("MarshalText %s", b)
	}
	// Round trip over four centuries, across leap years.
	for day := MustDate("1900-01-01"); day < MustDate("2300-01-01"); day += 37 {
		y, m, dd := day.Civil()
		if NewDate(y, m, dd) != day {
			t.Fatalf("round trip %s", day)
		}
	}
}

// TestCivilFastPath checks the unsigned conversions against the general
// ones from 220 BC to AD 6200.
func TestCivilFastPath(t *testing.T) {
	for z := -800000; z < 1600000; z += 3 {
		y, m, d := civilFromDays(z)
		y2, m2, d2 := civilFromDaysSigned(z)
		if y != y2 || m != m2 || d != d2 {
			t.Fatalf("civilFromDays(%d) = %d-%d-%d, want %d-%d-%d", z, y, m, d, y2, m2, d2)
		}
		if got, want := daysFromCivil(y, m, d), daysFromCivilSigned(y, m, d); got != want || got != z {
			t.Fatalf("daysFromCivil(%d-%d-%d) = %d, want %d", y, m, d, got, z)
		}
	}
}
