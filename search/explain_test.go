package search_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/immunis/immunis/internal/testdb"
	"github.com/immunis/immunis/search"
	"github.com/immunis/immunis/store"
)

// TestExplainNoSeqScan plans the benchmark searches and the US Core
// mandatory searches on PostgreSQL, over 20,000 Patients and 200,000
// Immunizations of index rows (made in SQL, shaped like the benchmark's
// data) after ANALYZE, and fails if any plan reads a table sequentially.
func TestExplainNoSeqScan(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 1.3M index rows")
	}
	ctx := context.Background()
	dbURL := testdb.New(t)
	st, err := store.OpenPostgres(ctx, dbURL, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	reg, err := search.NewRegistry([]string{"Patient", "Immunization", "Organization", "Practitioner", "Group"})
	if err != nil {
		t.Fatal(err)
	}
	pid := func(typ, code string) int32 {
		p, ok := reg.Param(typ, code)
		if !ok {
			t.Fatalf("no %s.%s", typ, code)
		}
		return p.ID
	}
	const patients, perPatient = 20000, 10
	t0 := time.Now()
	for _, q := range []string{
		fmt.Sprintf(`INSERT INTO resource (rid, type, id, version, last_updated, deleted, method, content)
			SELECT g, 'Patient', 'p' || g, 1, 1700000000000000, false, 'PUT', '{}' FROM generate_series(1, %d) g`, patients),
		fmt.Sprintf(`INSERT INTO resource (rid, type, id, version, last_updated, deleted, method, content)
			SELECT %d + g, 'Immunization', 'i' || g, 1, 1700000000000000, false, 'POST', '{}' FROM generate_series(1, %d) g`, patients, patients*perPatient),
		`SELECT setval('resource_rid_seq', (SELECT max(rid) FROM resource))`,
		fmt.Sprintf(`INSERT INTO idx_token (rid, param, system, code)
			SELECT g, %d, 'urn:mrn', 'MRN' || g FROM generate_series(1, %d) g
			UNION ALL SELECT g, %d, '', CASE WHEN g %% 2 = 0 THEN 'female' ELSE 'male' END FROM generate_series(1, %[2]d) g`,
			pid("Patient", "identifier"), patients, pid("Patient", "gender")),
		fmt.Sprintf(`INSERT INTO idx_string (rid, param, norm, exact)
			SELECT g, p, 'fam' || (g * 7919 %% 2500), 'Fam' || (g * 7919 %% 2500) FROM generate_series(1, %d) g, unnest(ARRAY[%d, %d]) p`,
			patients, pid("Patient", "family"), pid("Patient", "name")),
		fmt.Sprintf(`INSERT INTO idx_date (rid, param, lo, hi)
			SELECT g, %d, d, d + 86399999999 FROM (SELECT g, -946771200000000 + (g * 7919 %% 31000) * 86400000000 AS d FROM generate_series(1, %d) g) x`,
			pid("Patient", "birthdate"), patients),
		fmt.Sprintf(`INSERT INTO idx_ref (rid, param, ref_type, ref_id)
			SELECT %d + g, %d, 'Patient', 'p' || (1 + (g - 1) / %d) FROM generate_series(1, %d) g`,
			patients, pid("Immunization", "patient"), perPatient, patients*perPatient),
		fmt.Sprintf(`INSERT INTO idx_token (rid, param, system, code)
			SELECT %d + g, %d, 'http://hl7.org/fhir/sid/cvx', (ARRAY['08','20','10','03','21','83','133','116','141','115'])[1 + g * 31 %% 10] FROM generate_series(1, %d) g
			UNION ALL SELECT %[1]d + g, %d, '', CASE WHEN g %% 20 = 0 THEN 'not-done' ELSE 'completed' END FROM generate_series(1, %[3]d) g`,
			patients, pid("Immunization", "vaccine-code"), patients*perPatient, pid("Immunization", "status")),
		fmt.Sprintf(`INSERT INTO idx_date (rid, param, lo, hi)
			SELECT %d + g, %d, d, d + 86399999999 FROM (SELECT g, 1420070400000000 + (g * 7919 %% 3800) * 86400000000 AS d FROM generate_series(1, %d) g) x`,
			patients, pid("Immunization", "date"), patients*perPatient),
		fmt.Sprintf(`INSERT INTO compartment (rid, patient_id)
			SELECT g, 'p' || g FROM generate_series(1, %d) g
			UNION ALL SELECT %[1]d + g, 'p' || (1 + (g - 1) / %d) FROM generate_series(1, %d) g`, patients, perPatient, patients*perPatient),
		`VACUUM ANALYZE`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
	}
	t.Logf("loaded in %s", time.Since(t0).Round(time.Millisecond))
	comp := &search.Compiler{Dialect: search.Postgres, BaseURL: "http://example.org/fhir", Location: time.UTC}
	cursor := search.EncodeCursor(search.Cursor{RID: patients + 90000})
	for _, q := range []string{
		// the benchmark shapes
		"Immunization?patient=p123",
		"Patient?family=fam12&birthdate=1990-05-10",
		"Immunization?vaccine-code=http://hl7.org/fhir/sid/cvx|08&date=ge2024-01-01&_count=100",
		"Immunization?vaccine-code=http://hl7.org/fhir/sid/cvx|08&date=ge2024-01-01&_count=100&_cursor=" + cursor,
		"Immunization?patient.identifier=urn:mrn|MRN123",
		"Patient?_has:Immunization:patient:vaccine-code=http://hl7.org/fhir/sid/cvx|08&_count=50",
		// US Core 6 mandatory searches
		"Patient?_id=p77",
		"Patient?identifier=urn:mrn|MRN77",
		"Patient?name=fam77",
		"Patient?birthdate=1990-05-10&name=fam77",
		"Patient?gender=female&name=fam77",
		"Immunization?patient=Patient/p77",
		"Immunization?patient=p77&date=ge2020-01-01",
		"Immunization?patient=p77&status=completed",
		// compartment search
		"Patient/p77/Immunization",
	} {
		t.Run(q, func(t *testing.T) {
			path, raw, _ := strings.Cut(q, "?")
			typ, compartment := path, ""
			if parts := strings.Split(path, "/"); len(parts) == 3 {
				typ, compartment = parts[2], parts[1]
			}
			vals, err := url.ParseQuery(raw)
			if err != nil {
				t.Fatal(err)
			}
			query, err := reg.Parse(typ, vals, search.Strict)
			if err != nil {
				t.Fatal(err)
			}
			query.Compartment = compartment
			stmt, err := comp.Page(query)
			if err != nil {
				t.Fatal(err)
			}
			var plan []byte
			if err := db.QueryRowContext(ctx, "EXPLAIN (FORMAT JSON) "+stmt.SQL, stmt.Args...).Scan(&plan); err != nil {
				t.Fatal(err)
			}
			var tree []struct{ Plan planNode }
			if err := json.Unmarshal(plan, &tree); err != nil {
				t.Fatal(err)
			}
			if seq := tree[0].Plan.seqScans(); len(seq) > 0 {
				t.Errorf("sequential scan of %v in the plan of %s:\n%s", seq, q, plan)
			}
		})
	}
}

type planNode struct {
	NodeType string     `json:"Node Type"`
	Relation string     `json:"Relation Name"`
	Plans    []planNode `json:"Plans"`
}

func (n planNode) seqScans() []string {
	var out []string
	if n.NodeType == "Seq Scan" {
		out = append(out, n.Relation)
	}
	for _, c := range n.Plans {
		out = append(out, c.seqScans()...)
	}
	return out
}
