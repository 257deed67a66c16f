package bulk

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/store"
)

// Writes after the kick-off must not show, whatever they change: content,
// the search values _typeFilter looks at, compartment membership, Group
// membership. Files regenerated later read the same.
func TestChangesAfterKickOffDoNotShow(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		e.seed(4, 4) // i0 completed p0, i1 not-done p1, i2 completed p2, i3 not-done p3
		e.put("Group", "g", group("Patient/p0", "Patient/p1"))
		filtered := e.kickOff(&KickOff{Params: []Param{{"_type", "Immunization"}, {"_typeFilter", "Immunization?status=completed"}}})
		grouped := e.kickOff(&KickOff{Level: LevelGroup, GroupID: "g", Params: []Param{{"_type", "Immunization"}}})
		since := e.kickOff(&KickOff{Params: []Param{{"_type", "Immunization"}, {"_since", "2000-01-01T00:00:00Z"}, {"_typeFilter", "Immunization?status=completed"}}})

		e.put("Immunization", "i0", immunization("p0", "not-done", "08"))  // matched at T
		e.put("Immunization", "i1", immunization("p1", "completed", "08")) // did not
		e.put("Immunization", "i2", immunization("p1", "completed", "08")) // p2 → p1
		e.put("Immunization", "i3", immunization("p0", "not-done", "08"))  // p3 → p0
		e.put("Immunization", "i9", immunization("p0", "completed", "08")) // new
		e.put("Group", "g", group("Patient/p0", "Patient/p1", "Patient/p2"))
		e.runJobs()

		r := e.wait(filtered.ID)
		if got := sorted(r.ids["Immunization"]); !slices.Equal(got, []string{"i0", "i2"}) {
			t.Errorf("filtered: %v", got)
		}
		for _, im := range r.lines["Immunization"] {
			if v := fhir.Str(fhir.Obj(im, "meta"), "versionId"); v != "1" || fhir.Str(im, "status") != "completed" {
				t.Errorf("not the version of the snapshot: %v", im)
			}
		}
		if got := sorted(e.wait(grouped.ID).ids["Immunization"]); !slices.Equal(got, []string{"i0", "i1"}) {
			t.Errorf("group: %v", got)
		}
		if got := sorted(e.wait(since.ID).ids["Immunization"]); !slices.Equal(got, []string{"i0", "i2"}) {
			t.Errorf("since: %v", got)
		}

		// Later downloads regenerate the same files.
		e.put("Immunization", "i2", immunization("p3", "not-done", "08"))
		e.del("Immunization", "i0")
		if got := sorted(e.wait(filtered.ID).ids["Immunization"]); !slices.Equal(got, []string{"i0", "i2"}) {
			t.Errorf("filtered, downloaded again: %v", got)
		}
	})
}

// Under concurrent creates, updates and deletes, an export holds, for
// every resource, exactly the version its history says was current at the
// transaction time, and nothing else.
func TestSnapshotUnderConcurrentWrites(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		e.m.Config.FileResources = 7
		e.seed(40, 0)
		var created atomic.Int64
		created.Store(40)
		ctx, stop := context.WithCancel(e.ctx)
		var wg sync.WaitGroup
		var werr atomic.Value
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(w), 1))
				for ctx.Err() == nil {
					if err := e.writeOne(rng, &created); err != nil && ctx.Err() == nil {
						werr.Store(err)
						return
					}
				}
			}()
		}
		time.Sleep(100 * time.Millisecond)
		a := e.kickOff(&KickOff{Params: []Param{{"_type", "Patient"}}})
		time.Sleep(100 * time.Millisecond)
		stop()
		wg.Wait()
		if err, _ := werr.Load().(error); err != nil {
			t.Fatal(err)
		}
		e.runJobs()
		r := e.wait(a.ID)
		at, err := time.Parse(time.RFC3339Nano, r.manifest.TransactionTime)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, p := range r.lines["Patient"] {
			id := fhir.Str(p, "id")
			if _, dup := got[id]; dup {
				t.Errorf("Patient/%s exported twice", id)
			}
			got[id] = fhir.Str(fhir.Obj(p, "meta"), "versionId")
		}
		want := map[string]string{}
		for i := range int(created.Load()) {
			id := fmt.Sprintf("p%d", i)
			if v := e.versionAt(id, at); v != "" {
				want[id] = v
			}
		}
		if len(want) < 30 {
			t.Fatalf("only %d patients at T", len(want))
		}
		for id, v := range want {
			if got[id] != v {
				t.Errorf("Patient/%s: exported version %q, history says %q at T", id, got[id], v)
			}
		}
		for id := range got {
			if _, ok := want[id]; !ok {
				t.Errorf("Patient/%s exported, not live at T", id)
			}
		}
	})
}

// writeOne makes one random change: create, update or delete a patient.
func (e *env) writeOne(rng *rand.Rand, created *atomic.Int64) error {
	switch n := rng.IntN(10); {
	case n < 3:
		id := fmt.Sprintf("p%d", created.Add(1)-1)
		return e.tryPut("Patient", id, patient("New", "female"))
	case n < 9:
		id := fmt.Sprintf("p%d", rng.IntN(int(created.Load())))
		return e.tryPut("Patient", id, patient(fmt.Sprintf("Up%d", rng.IntN(1000)), "male"))
	default:
		id := fmt.Sprintf("p%d", rng.IntN(int(created.Load())))
		return e.tryDel("Patient", id)
	}
}

// versionAt is the versionId of the live version of Patient/id at t,
// from the store's history ("" when not live then).
func (e *env) versionAt(id string, t time.Time) string {
	e.t.Helper()
	hist, err := e.db.History(e.ctx, store.HistoryQuery{Type: "Patient", ID: id, Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	var best *fhir.Resource
	for _, v := range hist {
		if !v.LastUpdated.After(t) && (best == nil || v.Version > best.Version) {
			best = v
		}
	}
	if best == nil || best.Deleted {
		return ""
	}
	return fmt.Sprint(best.Version)
}

// A job whose worker dies is resumed by another from its last checkpoint:
// every resource once, in the same files.
func TestResumeAfterWorkerDeath(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		e.m.Config.FileResources = 3
		e.m.Config.Lease = 300 * time.Millisecond
		e.seed(20, 0)
		a := e.kickOff(&KickOff{Params: []Param{{"_type", "Patient"}}})

		// A worker that dies after committing two files.
		dying := *e.m
		dying.Store = &dieAfter{Backend: e.m.Store, n: 2}
		now := time.Now()
		job, err := e.m.Store.Claim(e.ctx, "dead", now, now.Add(e.m.Config.Lease))
		if err != nil || job == nil {
			t.Fatalf("claim: %v %v", job, err)
		}
		if err := dying.process(e.ctx, "dead", job); !errors.Is(err, errDied) {
			t.Fatalf("dying worker: %v", err)
		}
		files, err := e.m.Store.Files(e.ctx, a.ID)
		if err != nil || len(files) != 2 {
			t.Fatalf("files before the takeover: %v %v", files, err)
		}

		e.runJobs() // another worker, once the lease has run out
		r := e.wait(a.ID)
		if got := sorted(r.ids["Patient"]); len(got) != 20 || len(slices.Compact(got)) != 20 {
			t.Errorf("after the takeover: %v", got)
		}
		if len(r.manifest.Output) != 7 {
			t.Errorf("%d files, want 7", len(r.manifest.Output))
		}
	})
}

var errDied = errors.New("worker died")

// dieAfter lets n checkpoints through, then fails like a dead process
// would: nothing more is committed.
type dieAfter struct {
	Backend
	n int
}

func (d *dieAfter) Checkpoint(ctx context.Context, c store.BulkCheckpoint) error {
	if d.n == 0 {
		return errDied
	}
	d.n--
	return d.Backend.Checkpoint(ctx, c)
}

func TestCancelExpiryAndTooMany(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		e.seed(5, 0)
		e.m.Config.MaxJobs = 2
		a := e.kickOff(&KickOff{})
		e.kickOff(&KickOff{})
		_, err := e.m.KickOff(e.ctx, &KickOff{Level: LevelSystem, Method: "GET"})
		if fe, ok := err.(*fhir.Error); !ok || fe.Kind != fhir.KindTooManyRequests || fe.Header["Retry-After"] == "" {
			t.Fatalf("third kick-off: %v", err)
		}
		if err := e.m.Cancel(e.ctx, a.ID, "someone else"); !fhir.IsKind(err, fhir.KindForbidden) {
			t.Errorf("cancel by another client: %v", err)
		}
		if err := e.m.Cancel(e.ctx, a.ID, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := e.m.Status(e.ctx, a.ID, ""); !fhir.IsKind(err, fhir.KindNotFound) {
			t.Errorf("status after cancel: %v", err)
		}
		b := e.kickOff(&KickOff{}) // room again

		// Expiry, on a clock moved past it.
		e.m.Config.Expiry = time.Minute
		e.runJobs()
		r := e.wait(b.ID)
		var later atomic.Int64
		e.m.Now = func() time.Time { return time.Now().Add(time.Duration(later.Load())) }
		later.Store(int64(2 * time.Minute))
		if _, err := e.m.Status(e.ctx, b.ID, ""); !fhir.IsKind(err, fhir.KindNotFound) {
			t.Errorf("status after expiry: %v", err)
		}
		if _, err := e.m.OpenFile(e.ctx, b.ID, 1, ""); !fhir.IsKind(err, fhir.KindNotFound) {
			t.Errorf("file after expiry: %v", err)
		}
		if n, err := e.m.Store.Expire(e.ctx, e.m.now()); err != nil || n < 1 {
			t.Errorf("expire: %d %v", n, err)
		}
		if files, _ := e.m.Store.Files(e.ctx, b.ID); len(files) != 0 || len(r.manifest.Output) == 0 {
			t.Errorf("files left after expiry: %v", files)
		}
	})
}

func TestAccess(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		e.runJobs()
		e.seed(2, 4)
		e.put("Organization", "o1", fhir.Object{"name": "Clinic"})
		e.owner = "c1"
		access := &Access{Types: map[string][]Clause{
			"Patient":      {{}},
			"Immunization": {{Query: "status=completed"}, {Query: "_id=i1"}},
		}}
		a := e.kickOff(&KickOff{Access: access, Owner: "c1", RequiresAccessToken: true})
		r := e.wait(a.ID)
		want := map[string][]string{"Patient": ids("p", 0, 1), "Immunization": ids("i", 0, 1, 2)}
		for _, typ := range testTypes {
			if got := sorted(r.ids[typ]); !slices.Equal(got, want[typ]) {
				t.Errorf("%s: %v, want %v", typ, got, want[typ])
			}
		}
		if !r.manifest.RequiresAccessToken {
			t.Error("requiresAccessToken false")
		}
		if _, err := e.m.Status(e.ctx, a.ID, "c2"); !fhir.IsKind(err, fhir.KindForbidden) {
			t.Errorf("another client's status: %v", err)
		}
		if _, err := e.m.OpenFile(e.ctx, a.ID, 1, "c2"); !fhir.IsKind(err, fhir.KindForbidden) {
			t.Errorf("another client's file: %v", err)
		}
		_, err := e.m.KickOff(e.ctx, &KickOff{Level: LevelSystem, Method: "GET", Access: access, Params: []Param{{"_type", "Organization"}}})
		if !fhir.IsKind(err, fhir.KindForbidden) {
			t.Errorf("a type the client may not read: %v", err)
		}
	})
}

// A replica that shuts down gives its job back at once: another claims it
// without waiting for the lease to run out, and resumes it.
func TestShutdownReleasesJob(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		e.m.Config.MaxRate = 50
		e.m.Config.Lease = time.Hour
		e.m.Config.FileResources = 5
		e.seed(30, 0)
		a := e.kickOff(&KickOff{Params: []Param{{"_type", "Patient"}}})
		ctx, cancel := context.WithCancel(e.ctx)
		done := make(chan struct{})
		m := *e.m
		m.Config.Workers = 1
		go func() { defer close(done); m.Run(ctx) }()
		for {
			files, err := e.m.Store.Files(e.ctx, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(files) > 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		<-done
		now := time.Now()
		job, err := e.m.Store.Claim(e.ctx, "next", now, now.Add(time.Minute))
		if err != nil || job == nil || job.ID != a.ID || len(job.Cursor) == 0 || job.Attempts != 0 {
			t.Fatalf("claim after shutdown: %+v %v", job, err)
		}
	})
}

// After a kick-off, no version stamped at or before its transaction time
// can be written any more, whatever the writer's clock says; later stamps
// go through.
func TestBarrierRefusesStaleStamps(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		at, err := e.m.Store.Barrier(e.ctx, time.Now)
		if err != nil {
			t.Fatal(err)
		}
		write := func(id string, stamp time.Time) error {
			return e.db.Write(e.ctx, func(tx store.Tx) error {
				obj := patient("Late", "female")
				obj["resourceType"] = "Patient"
				body, err := fhir.Stamp(obj, id, 1, stamp)
				if err != nil {
					return err
				}
				ix := e.x.Extract("Patient", obj)
				return tx.Put(e.ctx, &store.Version{New: &fhir.Resource{Type: "Patient", ID: id, Version: 1, LastUpdated: stamp, Body: body, Method: "PUT"}, Index: &ix})
			})
		}
		for _, stamp := range []time.Time{at, at.Add(-time.Second)} {
			if err := write("stale", stamp); err == nil || !strings.Contains(err.Error(), "watermark") {
				t.Errorf("stamp %v (T %v) written: %v", stamp, at, err)
			}
		}
		if err := write("fresh", at.Add(time.Microsecond)); err != nil {
			t.Errorf("stamp after T refused: %v", err)
		}
	})
}
