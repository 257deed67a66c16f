package bulk

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/store"
)

// failingScans fails every scan, as a database in trouble would.
type failingScans struct{ Backend }

func (failingScans) Scan(context.Context, store.BulkScan, func(*store.BulkRow) error) error {
	return errors.New("disk on fire")
}

// A job that keeps failing is retried, then reported failed: a 500
// OperationOutcome that does not leak the cause, which goes to the log.
func TestFailedJob(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		e.seed(2, 0)
		a := e.kickOff(&KickOff{})
		e.m.Store = failingScans{e.m.Store}
		e.runJobs()
		deadline := time.Now().Add(30 * time.Second)
		for {
			st, err := e.m.Status(e.ctx, a.ID, "")
			if err != nil {
				t.Fatal(err)
			}
			if st.Failure != nil {
				if st.Failure.Kind != fhir.KindInternal || strings.Contains(st.Failure.Error(), "fire") || st.Expires.IsZero() {
					t.Errorf("failure %+v", st.Failure)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("not failed after 30 s: %+v", st)
			}
			time.Sleep(20 * time.Millisecond)
		}
		j, err := e.m.Store.Job(e.ctx, a.ID)
		if err != nil || j.Attempts != maxAttempts-1 || !strings.Contains(j.Error, "disk on fire") {
			t.Errorf("job %+v %v", j, err)
		}
	})
}
