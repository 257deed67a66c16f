package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"time"

	"github.com/immunis/immunis/bench/internal/benchserver"
	"github.com/immunis/immunis/search"
)

// bench holds what the measurements share.
type bench struct {
	cfg     config
	reg     *search.Registry
	comp    *search.Compiler
	db      *sql.DB
	srv     *benchserver.Server
	queries []*query
}

// query is one benchmark search: for sample k, the FHIR query (path and
// parameters under the base) and the hand-written SQL that answers it.
type query struct {
	name   string
	target string // the p50 target
	sample func(k int) (fhirQuery string, hand stmt)
}

type stmt struct {
	sql  string
	args []any
}

// params of the index tables, as the server's registry numbers them.
func (b *bench) pid(typ, code string) int32 {
	p, ok := b.reg.Param(typ, code)
	if !ok {
		panic(typ + "." + code)
	}
	return p.ID
}

// handCols is what the hand-written statements return per row: the same
// resource columns the server reads.
const handCols = "r.rid, r.type, r.id, r.version, r.last_updated, r.deleted, r.method, r.content"

func (b *bench) prepare(ctx context.Context) error {
	n := b.cfg.patients
	pick := func(k int) int { return rand.New(rand.NewPCG(uint64(k), 99)).IntN(n) }
	immPatient, vaccine, date := b.pid("Immunization", "patient"), b.pid("Immunization", "vaccine-code"), b.pid("Immunization", "date")
	famID, birth, ident := b.pid("Patient", "family"), b.pid("Patient", "birthdate"), b.pid("Patient", "identifier")
	from2024 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	const cvx = "http://hl7.org/fhir/sid/cvx"

	// The tenth page of the vaccine-code query starts after the 900th
	// match; the server reaches it by following next links.
	q3 := "Immunization?vaccine-code=" + url.QueryEscape(cvx+"|08") + "&date=ge2024-01-01&_count=100"
	q3hand := func(after int64) stmt {
		return stmt{`SELECT ` + handCols + ` FROM idx_token t JOIN resource r ON r.rid = t.rid
			WHERE t.param = $1 AND t.code = '08' AND t.system = $2 AND t.rid > $3 AND NOT r.deleted
			AND EXISTS (SELECT 1 FROM idx_date d WHERE d.rid = t.rid AND d.param = $4 AND d.hi >= $5)
			ORDER BY t.rid LIMIT 101`, []any{vaccine, cvx, after, date, from2024}}
	}
	page10, after900, err := b.tenthPage(ctx, q3, q3hand)
	if err != nil {
		return err
	}
	b.queries = []*query{
		{"Immunization?patient=X", "3 ms", func(k int) (string, stmt) {
			i := pick(k)
			return "Immunization?patient=" + patientID(i), stmt{`SELECT ` + handCols + ` FROM idx_ref x JOIN resource r ON r.rid = x.rid
				WHERE x.ref_id = $1 AND x.ref_type = 'Patient' AND x.param = $2 AND NOT r.deleted ORDER BY r.rid LIMIT 21`,
				[]any{patientID(i), immPatient}}
		}},
		{"Patient?family=…&birthdate=…", "5 ms", func(k int) (string, stmt) {
			i := pick(k)
			f, d := strings.ToLower(family(i)), birthDate(i)
			lo, hi := d.UnixMicro(), d.AddDate(0, 0, 1).UnixMicro()-1
			return "Patient?family=" + family(i) + "&birthdate=" + d.Format("2006-01-02"), stmt{`SELECT ` + handCols + ` FROM resource r
				WHERE r.rid IN (SELECT s.rid FROM idx_string s JOIN idx_date d ON d.rid = s.rid
					WHERE s.param = $1 AND s.norm >= $2 AND s.norm < $3 AND d.param = $4 AND d.lo >= $5 AND d.lo <= $6 AND d.hi <= $6)
				AND NOT r.deleted ORDER BY r.rid LIMIT 21`, []any{famID, f, f + "\U0010FFFF", birth, lo, hi}}
		}},
		{"Immunization?vaccine-code=cvx|08&date=ge2024-01-01&_count=100 (page 1)", "20 ms", func(int) (string, stmt) {
			return q3, q3hand(0)
		}},
		{"… (page 10)", "20 ms", func(int) (string, stmt) {
			return page10, q3hand(after900)
		}},
		{"Immunization?patient.identifier=…", "5 ms", func(k int) (string, stmt) {
			i := pick(k)
			return "Immunization?patient.identifier=" + url.QueryEscape("urn:immunis:mrn|"+mrn(i)), stmt{`SELECT ` + handCols + `
				FROM idx_token i JOIN resource p ON p.rid = i.rid
				JOIN idx_ref x ON x.ref_id = p.id AND x.ref_type = 'Patient' AND x.param = $1
				JOIN resource r ON r.rid = x.rid
				WHERE i.param = $2 AND i.code = $3 AND i.system = 'urn:immunis:mrn' AND NOT p.deleted AND NOT r.deleted
				ORDER BY r.rid LIMIT 21`, []any{immPatient, ident, mrn(i)}}
		}},
		{"Patient?_has:Immunization:patient:vaccine-code=…&_count=50", "—", func(k int) (string, stmt) {
			c := cvxCodes[k%len(cvxCodes)].code
			return "Patient?_has:Immunization:patient:vaccine-code=" + url.QueryEscape(cvx+"|"+c) + "&_count=50", stmt{`SELECT ` + handCols + `
				FROM resource r WHERE r.type = 'Patient' AND NOT r.deleted AND EXISTS (
					SELECT 1 FROM idx_ref x JOIN idx_token t ON t.rid = x.rid
					WHERE x.ref_id = r.id AND x.ref_type = 'Patient' AND x.param = $1
					AND t.param = $2 AND t.code = $3 AND t.system = $4)
				ORDER BY r.rid LIMIT 51`, []any{immPatient, vaccine, c, cvx}}
		}},
	}
	return nil
}

// tenthPage follows next links of q to its tenth page, and finds with the
// hand-written statement the rid its 900th match ends on.
func (b *bench) tenthPage(ctx context.Context, q string, hand func(int64) stmt) (string, int64, error) {
	link := b.srv.Base + "/" + q
	for i := 1; i < 10; i++ {
		bundle, err := getBundle(ctx, link)
		if err != nil {
			return "", 0, err
		}
		link = bundle.next()
		if link == "" {
			return "", 0, fmt.Errorf("%s has fewer than 10 pages (load more data)", q)
		}
	}
	var after int64
	for i := 0; i < 9; i++ {
		rows, err := b.db.QueryContext(ctx, hand(after).sql, hand(after).args...)
		if err != nil {
			return "", 0, err
		}
		n := 0
		for rows.Next() && n < 100 {
			var r rowScan
			if err := r.scan(rows); err != nil {
				rows.Close()
				return "", 0, err
			}
			after = r.rid
			n++
		}
		rows.Close()
	}
	return strings.TrimPrefix(link, b.srv.Base+"/"), after, nil
}

// compiled is the statement the server's compiler makes for a FHIR query.
func (b *bench) compiled(fhirQuery string) (stmt, error) {
	typ, raw, _ := strings.Cut(fhirQuery, "?")
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return stmt{}, err
	}
	q, err := b.reg.Parse(typ, vals, search.Strict)
	if err != nil {
		return stmt{}, err
	}
	st, err := b.comp.Page(q)
	if err != nil {
		return stmt{}, err
	}
	return stmt{st.SQL, st.Args}, nil
}

// rowScan reads the resource columns, as the store does.
type rowScan struct {
	rid, version, lu int64
	typ, id, method  string
	deleted          bool
	content          []byte
}

func (r *rowScan) scan(rows *sql.Rows) error {
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	dest := []any{&r.rid, &r.typ, &r.id, &r.version, &r.lu, &r.deleted, &r.method, &r.content}
	for len(dest) < len(cols) {
		var x any
		dest = append(dest, &x)
	}
	return rows.Scan(dest...)
}
