package e2e

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Writers update, create and delete Patients over HTTP while an export is
// kicked off. The export must hold, for every Patient, exactly the
// version that its _history says was current at transactionTime — not a
// later one, not a missing one, none twice.
func TestBulkSnapshotConcurrency(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Server) {
		pids, _ := seedBulk(t, s, 30, 0)
		var created atomic.Int64
		created.Store(int64(len(pids)))
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var writes atomic.Int64
		for w := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(w), 7))
				for {
					select {
					case <-stop:
						return
					default:
					}
					var id string
					switch n := rng.IntN(10); {
					case n < 3:
						id = fmt.Sprintf("bp%d", created.Add(1)-1)
					default:
						id = fmt.Sprintf("bp%d", rng.IntN(int(created.Load())))
					}
					method, body := "PUT", withID(patient(fmt.Sprintf("W%d", rng.IntN(1e6))), id)
					if rng.IntN(10) == 0 {
						method, body = "DELETE", ""
					}
					var b any
					if body != "" {
						b = body
					}
					r := s.Do(t, method, "Patient/"+id, b)
					if r.Status >= 500 {
						t.Errorf("%s Patient/%s: %d %s", method, id, r.Status, r.Body)
						return
					}
					writes.Add(1)
				}
			}()
		}
		time.Sleep(300 * time.Millisecond)
		c := exportClient{s: s}
		status := c.kickOff(t, "GET", "$export?_type=Patient", nil)
		time.Sleep(300 * time.Millisecond)
		close(stop)
		wg.Wait()
		m, _ := c.wait(t, status)
		at, err := time.Parse(time.RFC3339Nano, m.TransactionTime)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, it := range m.Output {
			for _, p := range c.download(t, it.URL, false) {
				id := fmt.Sprint(p["id"])
				if _, dup := got[id]; dup {
					t.Errorf("Patient/%s exported twice", id)
				}
				got[id] = fmt.Sprint(p["meta"].(map[string]any)["versionId"])
			}
		}
		live := 0
		for i := range int(created.Load()) {
			id := fmt.Sprintf("bp%d", i)
			want := versionAt(t, s, id, at)
			if want != "" {
				live++
			}
			if got[id] != want {
				t.Errorf("Patient/%s: exported version %q, _history says %q was current at %s", id, got[id], want, m.TransactionTime)
			}
		}
		t.Logf("%d writes, %d patients live at the transaction time", writes.Load(), live)
		if live < 20 || writes.Load() < 20 {
			t.Errorf("too little happened to test anything: %d writes, %d live", writes.Load(), live)
		}
	})
}

// versionAt reads Patient/id's history and returns the versionId of the
// version current at t ("" when it did not exist or was deleted then).
func versionAt(t *testing.T, s *Server, id string, at time.Time) string {
	t.Helper()
	r := s.Do(t, "GET", "Patient/"+id+"/_history?_count=1000", nil)
	if r.Status == 404 {
		return ""
	}
	b := r.Expect(t, 200).JSON(t)
	best, bestV := "", -1
	entries, _ := b["entry"].([]any)
	for _, e := range entries {
		e := e.(map[string]any)
		var v int
		var lu time.Time
		deleted := false
		if res, ok := e["resource"].(map[string]any); ok {
			meta := res["meta"].(map[string]any)
			fmt.Sscan(fmt.Sprint(meta["versionId"]), &v)
			lu, _ = time.Parse(time.RFC3339Nano, fmt.Sprint(meta["lastUpdated"]))
		} else {
			// A deletion: its version and time are in the entry's response.
			resp := e["response"].(map[string]any)
			var etag string
			fmt.Sscan(fmt.Sprint(resp["etag"]), &etag)
			fmt.Sscanf(etag, `W/"%d"`, &v)
			lu, _ = time.Parse(time.RFC3339Nano, fmt.Sprint(resp["lastModified"]))
			deleted = true
		}
		if !lu.After(at) && v > bestV {
			bestV = v
			best = fmt.Sprint(v)
			if deleted {
				best = ""
			}
		}
	}
	return best
}
