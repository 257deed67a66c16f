package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/internal/testdb"
	"github.com/immunis/immunis/search"
	"github.com/immunis/immunis/store"
)

func newVersion(typ, id, body string) *store.Version {
	return &store.Version{
		New: &fhir.Resource{Type: typ, ID: id, Version: 1, LastUpdated: time.Now(), Method: "POST", Body: []byte(body)},
		Index: &search.Index{
			Refs:         []search.RefRow{{Param: 1, Type: "Patient", ID: "p1"}},
			Compartments: []string{"p1"},
		},
	}
}

func put(t *testing.T, db *store.DB, v *store.Version) {
	t.Helper()
	if err := db.Write(context.Background(), func(tx store.Tx) error { return tx.Put(context.Background(), v) }); err != nil {
		t.Fatal(err)
	}
}

// CreateChecked writes only when every referenced resource is live, and
// reports which are; on both stores alike.
func TestCreateChecked(t *testing.T) {
	ctx := context.Background()
	for name, db := range openBoth(t) {
		t.Run(name, func(t *testing.T) {
			put(t, db, newVersion("Patient", "p1", `{"resourceType":"Patient","id":"p1"}`))
			gone := newVersion("Patient", "gone", `{"resourceType":"Patient","id":"gone"}`)
			put(t, db, gone)
			tomb := &fhir.Resource{Type: "Patient", ID: "gone", Version: 2, LastUpdated: time.Now(), Method: "DELETE", Deleted: true}
			put(t, db, &store.Version{New: tomb, Prev: gone.New})

			for i, tc := range []struct {
				refs     map[string][]string
				created  bool
				wantLive []string
			}{
				{nil, true, nil},
				{map[string][]string{"Patient": {"p1", "p1"}}, true, []string{"Patient/p1"}},
				{map[string][]string{"Patient": {"p1", "missing"}}, false, []string{"Patient/p1"}},
				{map[string][]string{"Patient": {"gone"}}, false, nil},
				{map[string][]string{"Patient": {"p1"}, "Practitioner": {"nobody"}}, false, []string{"Patient/p1"}},
			} {
				id := fmt.Sprintf("imm-%d", i)
				live, created, err := db.CreateChecked(ctx, newVersion("Immunization", id, `{"resourceType":"Immunization","id":"`+id+`"}`), tc.refs)
				if err != nil {
					t.Fatalf("case %d: %v", i, err)
				}
				if created != tc.created {
					t.Errorf("case %d: created = %v, want %v", i, created, tc.created)
				}
				if len(live) != len(tc.wantLive) {
					t.Errorf("case %d: live = %v, want %v", i, live, tc.wantLive)
				}
				for _, k := range tc.wantLive {
					if !live[k] {
						t.Errorf("case %d: live = %v, want %v", i, live, tc.wantLive)
					}
				}
				r, err := db.Read(ctx, "Immunization", id)
				switch {
				case tc.created && err != nil:
					t.Errorf("case %d: created, but read: %v", i, err)
				case !tc.created && !errors.Is(err, store.ErrNotFound):
					t.Errorf("case %d: not created, but read gives %v, %v", i, r, err)
				}
			}
			// The index rows came with the resource.
			var refs int
			if err := db.Write(ctx, func(tx store.Tx) error {
				by, err := tx.ReferencedBy(ctx, "Patient", "p1")
				if by != "" {
					refs = 1
				}
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if refs != 1 {
				t.Error("no index row references Patient/p1 after the checked creates")
			}
		})
	}
}

// A delete of the referenced resource that races the checked create never
// leaves a dangling reference: either the create saw the Patient live and
// the delete sees the new referrer, or the create refused. The delete is
// written as interaction's is: the tombstone first (it waits for the
// create's share lock), then the look for referrers.
func TestCreateCheckedRacesDelete(t *testing.T) {
	ctx := context.Background()
	for name, db := range openBoth(t) {
		t.Run(name, func(t *testing.T) {
			for round := range 20 {
				pid := fmt.Sprintf("p%d", round)
				pv := newVersion("Patient", pid, `{"resourceType":"Patient"}`)
				pv.Index = &search.Index{}
				put(t, db, pv)
				created := make(chan bool, 1)
				go func() {
					v := newVersion("Immunization", fmt.Sprintf("imm%d", round), `{"resourceType":"Immunization"}`)
					v.Index.Refs[0].ID = pid
					_, ok, err := db.CreateChecked(ctx, v, map[string][]string{"Patient": {pid}})
					if err != nil {
						t.Error(err)
					}
					created <- ok
				}()
				errReferenced := errors.New("referenced")
				err := db.Write(ctx, func(tx store.Tx) error {
					cur, err := tx.Current(ctx, "Patient", pid)
					if err != nil {
						return err
					}
					tomb := &fhir.Resource{Type: "Patient", ID: pid, Version: cur.Version + 1, LastUpdated: time.Now(), Method: "DELETE", Deleted: true}
					if err := tx.Put(ctx, &store.Version{New: tomb, Prev: cur}); err != nil {
						return err
					}
					by, err := tx.ReferencedBy(ctx, "Patient", pid)
					if err == nil && by != "" {
						err = errReferenced
					}
					return err
				})
				if err != nil && !errors.Is(err, errReferenced) {
					t.Fatal(err)
				}
				deleted := err == nil
				if <-created && deleted {
					t.Fatalf("round %d: the Immunization was created and its Patient deleted", round)
				}
			}
		})
	}
}

// A write transaction never waits for a second connection: with one
// connection in the pool, held by the transaction, statements it meets for
// the first time are still prepared (on its own connection) and it ends.
func TestWriteWithOneConnection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := store.OpenPostgres(ctx, testdb.New(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // the first round prepares, later ones reuse
		err := db.Write(ctx, func(tx store.Tx) error {
			p := newVersion("Patient", fmt.Sprintf("one-%d", i), `{"resourceType":"Patient"}`)
			if err := tx.Put(ctx, p); err != nil {
				return err
			}
			live, err := tx.LiveMany(ctx, "Patient", []string{p.New.ID})
			if err != nil {
				return err
			}
			if !live[p.New.ID] {
				return fmt.Errorf("Patient/%s is not live in its own transaction", p.New.ID)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
	}
}

// When the request's context ends as the one-statement create commits, the
// driver reports the cancellation; CreateChecked then asks the database
// and reports what happened. Here the row is already there (as if the
// statement had committed) and the context is cancelled before the call.
func TestCreateCheckedCancelledButCommitted(t *testing.T) {
	ctx := context.Background()
	dbs := openBoth(t)
	db := dbs["postgres"]
	v := newVersion("Immunization", "late", `{"resourceType":"Immunization","id":"late"}`)
	v.Index = &search.Index{}
	put(t, db, v)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, created, err := db.CreateChecked(cancelled, v, nil); err != nil || !created {
		t.Errorf("committed row, cancelled context: created %v, err %v; want created", created, err)
	}
	other := newVersion("Immunization", "never", `{"resourceType":"Immunization","id":"never"}`)
	if _, created, err := db.CreateChecked(cancelled, other, nil); err == nil || created {
		t.Errorf("nothing written, cancelled context: created %v, err %v; want an error", created, err)
	}
}

// PutMany's creates keep every body as it was sent, whatever characters it
// holds (the contents travel as one JSON array on PostgreSQL), each with its
// own row and index rows.
func TestPutManyKeepsBodies(t *testing.T) {
	ctx := context.Background()
	bodies := []string{
		`{"resourceType":"Patient","id":"a","name":[{"text":"quote \" backslash \\ slash \/ tab \t"}]}`,
		`{"resourceType":"Patient","id":"b","name":[{"text":"ünïcödé \u00e9 \ud83d\ude00 中文"}]}`,
		`{"resourceType":"Patient","id":"c","extension":[{"url":"u","valueString":"[1,2],{}"}],"active":true}`,
		`{"resourceType":"Patient","id":"d"}`,
	}
	for name, db := range openBoth(t) {
		t.Run(name, func(t *testing.T) {
			var vs []*store.Version
			for i, b := range bodies {
				v := newVersion("Patient", string(rune('a'+i)), b)
				v.Index = &search.Index{Compartments: []string{"c-" + string(rune('a'+i))}}
				vs = append(vs, v)
			}
			if err := db.Write(ctx, func(tx store.Tx) error { return tx.PutMany(ctx, vs) }); err != nil {
				t.Fatal(err)
			}
			for i, b := range bodies {
				id := string(rune('a' + i))
				r, err := db.Read(ctx, "Patient", id)
				if err != nil {
					t.Fatalf("read %s: %v", id, err)
				}
				var want, got any
				if err := json.Unmarshal([]byte(b), &want); err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(r.Body, &got); err != nil {
					t.Fatalf("stored body of %s is not JSON: %v", id, err)
				}
				if !reflect.DeepEqual(want, got) {
					t.Errorf("%s: stored %s, want %s", id, r.Body, b)
				}
			}
			// Each row took its own index rows: its compartment names it.
			_, pool := db.Pools()
			for i := range bodies {
				id := string(rune('a' + i))
				var got string
				q := "SELECT r.id FROM compartment c JOIN resource r ON r.rid = c.rid WHERE c.patient_id = 'c-" + id + "'"
				if err := pool.QueryRowContext(ctx, q).Scan(&got); err != nil || got != id {
					t.Errorf("compartment c-%s belongs to %q (%v), want %s", id, got, err, id)
				}
			}
		})
	}
}
