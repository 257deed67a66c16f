package e2e

import (
	"strings"
	"sync"
	"testing"

	"github.com/immunis/immunis/internal/testdb"
)

// TestOpsEndpoints: health, readiness and Prometheus metrics outside /fhir.
func TestOpsEndpoints(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Server) {
		s.Do(t, "GET", s.Root+"/healthz", nil).Expect(t, 200)
		s.Do(t, "GET", s.Root+"/readyz", nil).Expect(t, 200)
		s.Do(t, "POST", "Patient", patient("Metric")).Expect(t, 201)
		s.Do(t, "GET", "Patient/nope", nil).Expect(t, 404)
		m := string(s.Do(t, "GET", s.Root+"/metrics", nil).Expect(t, 200).Body)
		for _, want := range []string{
			`immunis_http_request_duration_seconds_count{method="POST",route="/fhir/:type",status="201",type="Patient"} 1`,
			`immunis_http_request_duration_seconds_count{method="GET",route="/fhir/:type/:id",status="404",type="Patient"} 1`,
			`go_goroutines`,
			`go_sql_open_connections{db_name="read"}`,
		} {
			if !strings.Contains(m, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})
}

// TestReplicasMigrateTogether: several servers starting at once on one
// empty PostgreSQL database migrate it exactly once and all serve.
func TestReplicasMigrateTogether(t *testing.T) {
	db := testdb.New(t)
	const n = 3
	servers := make([]*Server, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			servers[i] = StartWith(t, []string{"--database-url", db, "--data-dir", t.TempDir()})
		}(i)
	}
	wg.Wait()
	pid := id(t, servers[0].Do(t, "POST", "Patient", patient("Replica")).Expect(t, 201))
	for _, s := range servers {
		s.Do(t, "GET", "Patient/"+pid, nil).Expect(t, 200)
	}
}
