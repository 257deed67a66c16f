package store

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/internal/testdb"
	"github.com/immunis/immunis/search"
)

func openGroupTestDB(t *testing.T, conns int) (*DB, *postgres) {
	t.Helper()
	ctx := context.Background()
	db, err := OpenPostgres(ctx, testdb.New(t), conns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db, db.dialect.(*postgres)
}

// groupCase is a create and the references it makes.
type groupCase struct {
	name string
	refs map[string][]string
}

// An index with rows in every table, so each of the group statement's
// index inserts is exercised.
func fullIndex(patient string) *search.Index {
	return &search.Index{
		Tokens:       []search.TokenRow{{Param: 1, System: "http://hl7.org/fhir/sid/cvx", Code: "08", Text: "Hep B"}},
		Strings:      []search.StringRow{{Param: 2, Norm: "lot1", Exact: "LOT1"}},
		Dates:        []search.DateRow{{Param: 3, Lo: 100, Hi: 200}},
		Refs:         []search.RefRow{{Param: 4, Type: "Patient", ID: patient}},
		Numbers:      []search.NumberRow{{Param: 5, Value: 1, Lo: 0.5, Hi: 1.5}},
		Quantities:   []search.QuantityRow{{Param: 6, System: "http://unitsofmeasure.org", Code: "mL", Value: 0.5, Lo: 0.45, Hi: 0.55}},
		URIs:         []search.URIRow{{Param: 7, URI: "urn:x"}},
		Compartments: []string{patient},
	}
}

func groupVersion(id string) *Version {
	return &Version{
		New:   &fhir.Resource{Type: "Immunization", ID: id, Version: 1, LastUpdated: time.UnixMicro(1_700_000_000_000_000), Method: "POST", Body: []byte(`{"resourceType":"Immunization","id":"` + id + `"}`)},
		Index: fullIndex("p1"),
	}
}

var groupCases = []groupCase{
	{"no references", nil},
	{"a live reference", map[string][]string{"Patient": {"p1"}}},
	{"the same reference twice", map[string][]string{"Patient": {"p1", "p1"}}},
	{"one missing of two", map[string][]string{"Patient": {"p1", "missing"}}},
	{"a deleted resource", map[string][]string{"Patient": {"gone"}}},
	{"two types, one missing", map[string][]string{"Patient": {"p1", "p2"}, "Practitioner": {"nobody"}}},
	{"two types, all live", map[string][]string{"Patient": {"p2"}, "Practitioner": {"dr"}}},
}

func seedGroupTargets(t *testing.T, db *DB) {
	t.Helper()
	ctx := context.Background()
	for _, k := range []string{"Patient/p1", "Patient/p2", "Practitioner/dr", "Patient/gone"} {
		typ, id, _ := strings.Cut(k, "/")
		v := &Version{New: &fhir.Resource{Type: typ, ID: id, Version: 1, LastUpdated: time.Now(), Method: "PUT", Body: []byte(`{"resourceType":"` + typ + `"}`)}, Index: &search.Index{}}
		if err := db.Write(ctx, func(tx Tx) error { return tx.Put(ctx, v) }); err != nil {
			t.Fatal(err)
		}
		if id == "gone" {
			tomb := &fhir.Resource{Type: typ, ID: id, Version: 2, LastUpdated: time.Now(), Method: "DELETE", Deleted: true}
			if err := db.Write(ctx, func(tx Tx) error { return tx.Put(ctx, &Version{New: tomb, Prev: v.New}) }); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// indexRows counts a resource's rows in each index table.
func indexRows(t *testing.T, db *DB, id string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, tab := range pgIndexTables {
		var n int
		q := `SELECT count(*) FROM ` + tab.name + ` x JOIN resource r ON r.rid = x.rid WHERE r.type = 'Immunization' AND r.id = $1`
		if err := db.read.QueryRow(q, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[tab.name] = n
	}
	return out
}

// One statement for many creates gives each create what the one-row
// statement gives it alone: written or not, the same live references, the
// same index rows.
func TestCreateGroupMatchesCreateOne(t *testing.T) {
	ctx := context.Background()
	db, p := openGroupTestDB(t, 4)
	seedGroupTargets(t, db)
	var group []*groupCreate
	for i, tc := range groupCases {
		group = append(group, &groupCreate{ctx: ctx, v: groupVersion(fmt.Sprintf("g%d", i)), refs: tc.refs})
	}
	got, err := p.createGroup(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range groupCases {
		live, created, err := p.createOne(ctx, groupVersion(fmt.Sprintf("one%d", i)), tc.refs, true)
		if err != nil {
			t.Fatalf("%s: createOne: %v", tc.name, err)
		}
		if got[i].created != created {
			t.Errorf("%s: grouped created = %v, alone %v", tc.name, got[i].created, created)
		}
		if !created && !maps.Equal(got[i].live, live) {
			t.Errorf("%s: grouped live = %v, alone %v", tc.name, got[i].live, live)
		}
		gi, oi := indexRows(t, db, fmt.Sprintf("g%d", i)), indexRows(t, db, fmt.Sprintf("one%d", i))
		if !maps.Equal(gi, oi) {
			t.Errorf("%s: grouped index rows %v, alone %v", tc.name, gi, oi)
		}
		if created && gi["idx_quantity"] != 1 {
			t.Errorf("%s: written without its index rows: %v", tc.name, gi)
		}
	}
	// What the group wrote reads back as what the one-row statement wrote.
	g, err := db.Read(ctx, "Immunization", "g1")
	if err != nil {
		t.Fatal(err)
	}
	o, err := db.Read(ctx, "Immunization", "one1")
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(string(o.Body), "one1", "g1", 1); string(g.Body) != want || g.Version != o.Version || !g.LastUpdated.Equal(o.LastUpdated) || g.Method != o.Method {
		t.Errorf("read back: grouped %+v, alone %+v", g, o)
	}
}

// Many creates at once through CreateChecked: some go in groups (the test
// checks that some did), and every caller gets its own outcome.
func TestConcurrencyGroupCommit(t *testing.T) {
	ctx := context.Background()
	db, p := openGroupTestDB(t, 8)
	seedGroupTargets(t, db)
	const clients, each = 32, 8
	var wg sync.WaitGroup
	errs := make(chan error, clients*each)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				tc := groupCases[(c+j)%len(groupCases)]
				id := fmt.Sprintf("c%d-%d", c, j)
				_, created, err := db.CreateChecked(ctx, groupVersion(id), tc.refs)
				if err != nil {
					errs <- fmt.Errorf("%s: %w", id, err)
					continue
				}
				want := !slices.ContainsFunc([]string{"one missing of two", "a deleted resource", "two types, one missing"}, func(n string) bool { return n == tc.name })
				if created != want {
					errs <- fmt.Errorf("%s (%s): created = %v, want %v", id, tc.name, created, want)
				}
				if _, err := db.Read(ctx, "Immunization", id); (err == nil) != want {
					errs <- fmt.Errorf("%s (%s): read after create: %v", id, tc.name, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if p.group.grouped.Load() == 0 {
		t.Fatal("no create went in a group: the test did not exercise group commit")
	}
	t.Logf("%d group statements", p.group.grouped.Load())
}

// A caller whose context ends while its create waits in the queue is
// answered at once, and the create is never written.
func TestGroupCreateAbandoned(t *testing.T) {
	ctx := context.Background()
	db, p := openGroupTestDB(t, 2)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, created, err := p.group.create(cancelled, groupVersion("abandoned"), nil); err == nil || created {
		t.Fatalf("cancelled before it was queued: created %v, err %v", created, err)
	}
	if _, err := db.Read(ctx, "Immunization", "abandoned"); err == nil {
		t.Fatal("a create whose caller had gone was written")
	}
}

// The committer never waits for a row lock: while another transaction
// holds a referenced Patient, creates that reference it wait on their own,
// and creates that do not are written meanwhile.
func TestGroupCommitDoesNotWaitBehindALock(t *testing.T) {
	ctx := context.Background()
	db, p := openGroupTestDB(t, 8)
	seedGroupTargets(t, db)
	holder, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback()
	if _, err := holder.ExecContext(ctx, `SELECT 1 FROM resource WHERE type = 'Patient' AND id = 'p1' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		created bool
		err     error
	}
	blocked := make(chan outcome, 4)
	for i := range 4 {
		go func() {
			_, created, err := db.CreateChecked(ctx, groupVersion(fmt.Sprintf("locked%d", i)), map[string][]string{"Patient": {"p1"}})
			blocked <- outcome{created, err}
		}()
	}
	time.Sleep(200 * time.Millisecond) // they reach the lock
	for i := range 5 {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, created, err := db.CreateChecked(wctx, groupVersion(fmt.Sprintf("free%d", i)), map[string][]string{"Patient": {"p2"}})
		cancel()
		if err != nil || !created {
			t.Fatalf("a create of an unlocked reference, while another is locked: created %v, err %v", created, err)
		}
	}
	select {
	case o := <-blocked:
		t.Fatalf("a create returned (%+v) while the Patient it references was locked", o)
	default:
	}
	if p.group.alone.Load() == 0 {
		t.Fatal("no create went on its own: the lock was not met")
	}
	if err := holder.Rollback(); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if o := <-blocked; o.err != nil || !o.created {
			t.Errorf("after the lock was released: created %v, err %v", o.created, o.err)
		}
	}
}

// A create that reaches a closed store is answered, not left waiting.
func TestGroupCreateAfterClose(t *testing.T) {
	db, _ := openGroupTestDB(t, 2)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, created, err := db.CreateChecked(ctx, groupVersion("late"), nil); err == nil || created || ctx.Err() != nil {
		t.Fatalf("after Close: created %v, err %v (context: %v)", created, err, ctx.Err())
	}
}
