package synth

import "testing"

func TestDateRoundTrip(t *testing.T) {
	for d := MakeDate(1899, 12, 25); d < MakeDate(2101, 1, 10); d += 17 {
		y, m, day := d.YMD()
		if got := MakeDate(y, m, day); got != d {
			t.Fatalf("%d: YMD %d-%d-%d gives back %d", d, y, m, day, got)
		}
		p, err := ParseDate(d.String())
		if err != nil || p != d {
			t.Fatalf("ParseDate(%s) = %v, %v", d, p, err)
		}
	}
	if MakeDate(1970, 1, 1) != 0 {
		t.Fatal("epoch is not day 0")
	}
}

func TestParseDateErrors(t *testing.T) {
	for _, s := range []string{"", "2024-1-01", "2024-02-30", "2023-02-29", "2024-13-01", "abcd-01-01", "2024/01/01"} {
		if _, err := ParseDate(s); err == nil {
			t.Errorf("ParseDate(%q) accepted", s)
		}
	}
	if _, err := ParseDate("2024-02-29"); err != nil {
		t.Errorf("leap day rejected: %v", err)
	}
}

func TestSpanFrom(t *testing.T) {
	tests := []struct {
		span, from, want string
	}{
		{"2m", "2024-01-15", "2024-03-15"},
		{"1m", "2024-01-31", "2024-03-01"}, // Feb 31 rolls to Mar 1 (CDSi)
		{"1m", "2023-01-31", "2023-03-01"},
		{"6w", "2024-01-01", "2024-02-12"},
		{"4y", "2020-02-29", "2024-02-29"},
		{"1y", "2020-02-29", "2021-03-01"},
		{"9y5m", "2010-03-10", "2019-08-10"},
		{"24m", "2022-06-30", "2024-06-30"},
	}
	for _, tt := range tests {
		sp, ok, err := ParseSpan(tt.span)
		if err != nil || !ok {
			t.Fatalf("ParseSpan(%q): %v", tt.span, err)
		}
		from, _ := ParseDate(tt.from)
		if got := sp.From(from).String(); got != tt.want {
			t.Errorf("%s from %s = %s, want %s", tt.span, tt.from, got, tt.want)
		}
	}
}

func TestParseSpanErrors(t *testing.T) {
	for _, s := range []string{"4", "y", "4q", "3y2"} {
		if _, _, err := ParseSpan(s); err == nil {
			t.Errorf("ParseSpan(%q) accepted", s)
		}
	}
	if _, ok, err := ParseSpan("-"); ok || err != nil {
		t.Errorf(`ParseSpan("-") = %v, %v; want absent`, ok, err)
	}
}

func TestAgeAt(t *testing.T) {
	b := MakeDate(2000, 3, 15)
	tests := []struct {
		on   Date
		want int
	}{{MakeDate(2000, 3, 15), 0}, {MakeDate(2001, 3, 14), 0}, {MakeDate(2001, 3, 15), 1}, {MakeDate(2026, 7, 1), 26}}
	for _, tt := range tests {
		if got := ageAt(b, tt.on); got != tt.want {
			t.Errorf("ageAt(%s) = %d, want %d", tt.on, got, tt.want)
		}
	}
}
