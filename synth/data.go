package synth

import (
	"embed"
	"fmt"
	"strconv"
	"strings"
)

//go:embed data/*.tsv
var dataFS embed.FS

// readTSV returns the rows of an embedded table as maps keyed by the header, skipping '#' lines.
func readTSV(name string) ([]map[string]string, error) {
	b, err := dataFS.ReadFile("data/" + name)
	if err != nil {
		return nil, err
	}
	var header []string
	var rows []map[string]string
	for i, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if header == nil {
			header = f
			continue
		}
		if len(f) != len(header) {
			return nil, fmt.Errorf("%s:%d: %d fields, header has %d", name, i+1, len(f), len(header))
		}
		row := make(map[string]string, len(f))
		for j, h := range header {
			row[h] = f[j]
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// fieldErr collects the first parse error of a table row.
type fieldErr struct {
	table string
	err   error
}

func (p *fieldErr) span(row map[string]string, k string) (Span, bool) {
	s, ok, err := ParseSpan(row[k])
	if err != nil && p.err == nil {
		p.err = fmt.Errorf("%s: %s: %w", p.table, k, err)
	}
	return s, ok
}

func (p *fieldErr) date(row map[string]string, k string) Date {
	v := row[k]
	if v == "-" || v == "" {
		return NoDate
	}
	d, err := ParseDate(v)
	if err != nil && p.err == nil {
		p.err = fmt.Errorf("%s: %s: %w", p.table, k, err)
	}
	return d
}

func (p *fieldErr) float(row map[string]string, k string) float64 {
	v := row[k]
	if v == "-" || v == "" {
		return 0
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil && p.err == nil {
		p.err = fmt.Errorf("%s: %s: %w", p.table, k, err)
	}
	return f
}

func (p *fieldErr) int(row map[string]string, k string) int {
	v := row[k]
	if v == "-" || v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil && p.err == nil {
		p.err = fmt.Errorf("%s: %s: %w", p.table, k, err)
	}
	return n
}

// optSpan is an age or interval that may be absent.
type optSpan struct {
	Span
	ok bool
}

func (p *fieldErr) opt(row map[string]string, k string) optSpan {
	s, ok := p.span(row, k)
	return optSpan{s, ok}
}

// atC is at for a day whose calendar fields are known.
func (o optSpan) atC(base civil) Date {
	if !o.ok {
		return NoDate
	}
	return base.plus(o.Span)
}

// at returns base moved by the span, or NoDate when the span is absent.
func (o optSpan) at(base Date) Date {
	if !o.ok {
		return NoDate
	}
	return o.From(base)
}
