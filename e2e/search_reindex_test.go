package e2e

import (
	"database/sql"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // to damage the embedded database's index

	"github.com/immunis/immunis/internal/testdb"
)

// TestReindex: `immunis reindex` rebuilds index rows from stored content
// (here after they were thrown away), records the index version, and has
// nothing to do when run again.
func TestReindex(t *testing.T) {
	for _, kind := range stores {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			var args []string
			var driver, dsn string
			switch kind {
			case "sqlite":
				dir := t.TempDir()
				args = []string{"--data-dir", dir}
				driver, dsn = "sqlite", filepath.Join(dir, "immunis.db")
			case "postgres":
				u := testdb.New(t)
				args = []string{"--database-url", u}
				driver, dsn = "postgres", u
			}
			s := Start(t, kind, args)
			tx := `{"resourceType":"Bundle","type":"transaction","entry":[
			  {"resource":{"resourceType":"Patient","id":"rx-1","identifier":[{"system":"urn:mrn","value":"R1"}],"name":[{"family":"Reindex"}]},"request":{"method":"PUT","url":"Patient/rx-1"}},
			  {"resource":` + immunization("Patient/rx-1", "08", "2024-05-01") + `,"request":{"method":"POST","url":"Immunization"}},
			  {"resource":` + immunization("Patient/rx-1", "08", "2024-06-01") + `,"request":{"method":"POST","url":"Immunization"}},
			  {"resource":` + immunization("Patient/rx-1", "20", "2024-06-01") + `,"request":{"method":"POST","url":"Immunization"}}]}`
			s.Do(t, "POST", "", tx).Expect(t, 200)
			queries := map[string]float64{
				"Immunization?vaccine-code=08":                   2,
				"Immunization?patient.identifier=urn:mrn|R1":     3,
				"Patient?name=reind":                             1,
				"Patient?_has:Immunization:patient:date=2024-06": 1,
			}
			check := func(s *Server) {
				for q, want := range queries {
					if got := s.Do(t, "GET", q, nil).Expect(t, 200).JSON(t)["total"]; got != want {
						t.Errorf("%s: total %v, want %v", q, got, want)
					}
				}
			}
			check(s)
			s.Stop()

			db, err := sql.Open(driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for _, q := range []string{`DELETE FROM idx_token`, `DELETE FROM idx_string`, `DELETE FROM idx_ref`, `DELETE FROM setting`} {
				if _, err := db.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			reindex := func() string {
				out, err := exec.Command(binary(t), append([]string{"reindex", "--log-level", "warn", "--batch", "2"}, args...)...).CombinedOutput()
				if err != nil {
					t.Fatalf("immunis reindex: %v\n%s", err, out)
				}
				return string(out)
			}
			if out := reindex(); !strings.Contains(out, "reindexed 4 resources") {
				t.Errorf("first run: %s", out)
			}
			if out := reindex(); !strings.Contains(out, "is current") {
				t.Errorf("second run: %s", out)
			}
			var version string
			if err := db.QueryRow(`SELECT value FROM setting WHERE key = 'index_version'`).Scan(&version); err != nil || version == "" {
				t.Errorf("index_version not recorded: %v", err)
			}
			db.Close()
			check(Start(t, kind, args))
		})
	}
}
