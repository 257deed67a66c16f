package e2e

import (
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/immunis/immunis/internal/testdb"
)

// Two replicas on one PostgreSQL: the one running an export is killed
// (SIGKILL, no shutdown), and the other resumes the job from its last
// checkpoint once the lease runs out — every resource exactly once.
func TestBulkReplicaKilledMidExport(t *testing.T) {
	url := testdb.New(t)
	args := func() []string {
		return []string{"--database-url", url, "--data-dir", t.TempDir(), "--log-level", "info",
			"--bulk-workers", "1", "--bulk-file-resources", "50", "--bulk-lease", "2s",
			// Slow enough to be caught in the middle.
			"--bulk-max-rate", "300"}
	}
	a := StartWith(t, args())
	b := StartWith(t, args())
	pids, iids := seedBulk(t, a, 150, 3) // 600 resources: about 2 s of work

	status := exportClient{s: a}.kickOff(t, "GET", "$export?_type=Patient,Immunization", nil)
	job := status[strings.LastIndex(status, "/")+1:]
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	// Wait until some files are committed, then kill whichever replica runs it.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var files int
		if err := db.QueryRow(`SELECT count(*) FROM bulk_file WHERE job_id = $1`, job).Scan(&files); err != nil {
			t.Fatal(err)
		}
		if files >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no file committed in 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	running := `msg="bulk: running job" job=` + job
	runner, survivor := a, b
	if strings.Contains(b.Logs(), running) {
		runner, survivor = b, a
	}
	if !strings.Contains(runner.Logs(), running) {
		t.Fatalf("no replica says it runs %s:\n%s\n%s", job, a.Logs(), b.Logs())
	}
	if err := runner.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = runner.cmd.Wait()
	var before int
	if err := db.QueryRow(`SELECT count(*) FROM bulk_file WHERE job_id = $1`, job).Scan(&before); err != nil {
		t.Fatal(err)
	}

	c := exportClient{s: survivor}
	m, _ := c.wait(t, strings.Replace(status, a.Root, survivor.Root, 1))
	if !strings.Contains(survivor.Logs(), "resume=true") {
		t.Errorf("the survivor did not resume the job:\n%s", survivor.Logs())
	}
	got := c.all(t, m) // fails on any resource exported twice
	for typ, want := range map[string][]string{"Patient": pids, "Immunization": iids} {
		if len(got[typ]) != len(want) {
			t.Errorf("%s: %d exported, %d stored", typ, len(got[typ]), len(want))
		}
	}
	if len(m.Output) <= before {
		t.Errorf("%d files after the takeover, %d before it", len(m.Output), before)
	}
	t.Logf("killed the runner after %d of %d files", before, len(m.Output))
}
