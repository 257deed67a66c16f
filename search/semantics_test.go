package search

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the embedded store's driver, to run the compiled SQL
)

// The prefix semantics of date and number parameters, checked by running
// the compiled SQL on an in-memory SQLite database of index rows and
// comparing with the spec's rules (search.html "Prefixes") evaluated here
// in Go on intervals computed independently of the extractor.

// specInterval is the interval a test value stands for, [lo, hi) in
// microseconds: a year, a month, a day, a second, or a period with open
// ends unbounded.
func specInterval(t *testing.T, s string) (lo, hi int64) {
	t.Helper()
	if a, b, ok := strings.Cut(s, ".."); ok { // a Period written start..end
		lo, hi = math.MinInt64, math.MaxInt64
		if a != "" {
			lo, _ = specInterval(t, a)
		}
		if b != "" {
			_, hi = specInterval(t, b)
		}
		return lo, hi
	}
	layouts := []struct {
		layout string
		next   func(time.Time) time.Time
	}{
		{"2006", func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }},
		{"2006-01", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }},
		{"2006-01-02", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
		{"2006-01-02T15:04:05Z07:00", func(t time.Time) time.Time { return t.Add(time.Second) }},
	}
	for _, l := range layouts {
		if tm, err := time.Parse(l.layout, s); err == nil {
			return tm.UnixMicro(), l.next(tm).UnixMicro()
		}
	}
	t.Fatalf("bad test date %q", s)
	return 0, 0
}

// specDateMatch is search.html's table for a stored interval [s0, s1) and a
// search interval [v0, v1).
func specDateMatch(prefix string, s0, s1, v0, v1 int64) bool {
	eq := s0 >= v0 && s1 <= v1
	switch prefix {
	case "eq":
		return eq
	case "ne":
		return !eq
	case "gt": // the range above the search value intersects the target
		return s1 > v1
	case "lt":
		return s0 < v0
	case "ge":
		return s1 > v1 || eq
	case "le":
		return s0 < v0 || eq
	case "sa": // the target starts after the search value ends
		return s0 >= v1
	case "eb":
		return s1 <= v0
	}
	panic(prefix)
}

func TestDatePrefixSemantics(t *testing.T) {
	r := testRegistry(t)
	c := testCompiler(SQLite)
	db := memDB(t, `CREATE TABLE idx_date (rid INTEGER, param INTEGER, lo INTEGER, hi INTEGER)`)
	p, _ := r.Param("Immunization", "date")
	stored := []string{
		"2023", "2024", "2025", "2024-01", "2024-06", "2024-12", "2024-06-15", "2024-01-01", "2024-12-31",
		"2023-12-31", "2025-01-01", "2024-06-15T10:30:00Z", "2024-06-15T23:59:59Z",
		"2024-03-01..2024-09-30", "2023-06..2024-06", "2024-06..2025-06", "..2024-06-15", "2024-06-15..",
		"2023-01-01..2026-01-01", "..", "2024-06-15T00:00:00Z..2024-06-15T12:00:00Z",
	}
	for i, s := range stored {
		lo, hi := specInterval(t, s)
		if hi != math.MaxInt64 {
			hi-- // rows hold inclusive bounds
		}
		if _, err := db.Exec(`INSERT INTO idx_date VALUES ($1, $2, $3, $4)`, i, p.ID, lo, hi); err != nil {
			t.Fatal(err)
		}
	}
	for _, prefix := range []string{"eq", "ne", "gt", "lt", "ge", "le", "sa", "eb"} {
		for _, v := range []string{"2024", "2024-06", "2024-06-15", "2024-06-15T10:30:00Z", "2023-12-31", "2025-01-01"} {
			t.Run(prefix+v, func(t *testing.T) {
				q := mustParse(t, r, "Immunization", "date="+url.QueryEscape(prefix+v))
				b := &builder{c: c}
				cond, err := b.valueCond(p, "", q.Filters[0].Values[0], "")
				if err != nil {
					t.Fatal(err)
				}
				got := queryRIDs(t, db, "SELECT rid FROM idx_date WHERE "+cond, b.args)
				v0, v1 := specInterval(t, v)
				var want []int
				for i, s := range stored {
					s0, s1 := specInterval(t, s)
					if specDateMatch(prefix, s0, s1, v0, v1) {
						want = append(want, i)
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("date=%s%s matched %v, want %v", prefix, v, names(stored, got), names(stored, want))
				}
			})
		}
	}
}

func TestNumberPrecisionSemantics(t *testing.T) {
	r := testRegistry(t)
	c := testCompiler(SQLite)
	db := memDB(t, `CREATE TABLE idx_number (rid INTEGER, param INTEGER, value REAL, lo REAL, hi REAL)`)
	p, _ := r.Param("RiskAssessment", "probability")
	stored := []string{"99.4", "99.5", "100", "100.49", "100.5", "101", "1.495", "1.5", "1.505", "1.45", "0.1", "-2", "1e2"}
	for i, s := range stored {
		ix := &Index{}
		appendNumberRows(ix, p.ID, jsonNumber(s))
		row := ix.Numbers[0]
		if _, err := db.Exec(`INSERT INTO idx_number VALUES ($1, $2, $3, $4, $5)`, i, p.ID, row.Value, row.Lo, row.Hi); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		query string
		want  []string
	}{
		// eq: the value lies in the interval the search value's precision implies
		{"100", []string{"99.5", "100", "100.49", "1e2"}},
		// 1e2 has one significant figure: [50, 150). (search.html's table
		// says 95..105 for it, which contradicts its own rule; HAPI reads
		// it as here.)
		{"1e2", []string{"99.4", "99.5", "100", "100.49", "100.5", "101", "1e2"}},
		{"1.5", []string{"1.495", "1.5", "1.505", "1.45"}}, // [1.45, 1.55)
		{"1.50", []string{"1.495", "1.5"}},                 // [1.495, 1.505)
		{"ne100", []string{"99.4", "100.5", "101", "1.495", "1.5", "1.505", "1.45", "0.1", "-2"}},
		{"gt100", []string{"100.49", "100.5", "101"}},
		{"ge100", []string{"100", "100.49", "100.5", "101", "1e2"}},
		{"lt0.1", []string{"-2"}},
		{"le-2", []string{"-2"}},
		{"ap100", []string{"99.4", "99.5", "100", "100.49", "100.5", "101", "1e2"}},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			q := mustParse(t, r, "RiskAssessment", "probability="+url.QueryEscape(tc.query))
			b := &builder{c: c}
			cond, err := b.valueCond(p, "", q.Filters[0].Values[0], "")
			if err != nil {
				t.Fatal(err)
			}
			got := names(stored, queryRIDs(t, db, "SELECT rid FROM idx_number WHERE "+cond, b.args))
			want := append([]string(nil), tc.want...)
			sort.Strings(got)
			sort.Strings(want)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("probability=%s matched %v, want %v", tc.query, got, want)
			}
		})
	}
}

func memDB(t *testing.T, schema string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(schema); err != nil {
		t.Fatal(err)
	}
	return db
}

func queryRIDs(t *testing.T, db *sql.DB, query string, args []any) []int {
	t.Helper()
	rows, err := db.Query(query+" ORDER BY rid", args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var n int
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

func names(all []string, idx []int) []string {
	out := []string{}
	for _, i := range idx {
		out = append(out, all[i])
	}
	return out
}

func jsonNumber(s string) any { return json.Number(s) }
