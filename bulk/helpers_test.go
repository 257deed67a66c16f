package bulk

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/internal/testdb"
	"github.com/immunis/immunis/search"
	"github.com/immunis/immunis/store"
)

// The tests run the package over real databases: the embedded store in a
// temporary file, and a fresh PostgreSQL database (skipped when there is
// none, except in CI).

var testTypes = []string{"Patient", "Immunization", "Group", "Organization", "Provenance"}

type env struct {
	t     *testing.T
	owner string // the client polling and downloading
	db    *store.DB
	m     *Manager
	x     *search.Extractor
	ctx   context.Context
}

func forEachStore(t *testing.T, f func(t *testing.T, e *env)) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			f(t, newEnv(t, kind, Config{}))
		})
	}
}

func newEnv(t *testing.T, kind string, cfg Config) *env {
	t.Helper()
	ctx := context.Background()
	var db *store.DB
	var err error
	switch kind {
	case "sqlite":
		db, err = store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "db.sqlite"))
	case "postgres":
		db, err = store.OpenPostgres(ctx, testdb.New(t), 8)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	reg, err := search.NewRegistry(testTypes)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://example.test/fhir"
	x := &search.Extractor{Registry: reg, Location: time.UTC, BaseURL: base}
	if cfg.Poll == 0 {
		cfg.Poll = 20 * time.Millisecond
	}
	m := &Manager{
		Store:            db.Bulk(),
		Registry:         reg,
		Compiler:         &search.Compiler{Dialect: db.Dialect(), BaseURL: base, Location: time.UTC},
		Extractor:        x,
		CompartmentTypes: []string{"Patient", "Immunization", "Group", "Provenance"},
		BaseURL:          base,
		StatusURL:        "http://example.test/bulk",
		Config:           cfg,
		Log:              slog.New(slog.NewTextHandler(io.Discard, nil)),
		// Pages of three rows: every test crosses page boundaries, with
		// current and changed resources interleaved.
		scanPage: 3,
	}
	return &env{t: t, db: db, m: m, x: x, ctx: ctx}
}

// with returns e reporting to t (a subtest).
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// put writes the next version of a resource (created when new).
func (e *env) put(typ, id string, obj fhir.Object) {
	e.t.Helper()
	if err := e.tryPut(typ, id, obj); err != nil {
		e.t.Fatal(err)
	}
}

// del writes a deletion.
func (e *env) del(typ, id string) {
	e.t.Helper()
	if err := e.tryDel(typ, id); err != nil {
		e.t.Fatal(err)
	}
}

// tryPut is put for other goroutines: it returns the error. The stamp is
// read inside the transaction, as the server does, so a retry restamps.
func (e *env) tryPut(typ, id string, obj fhir.Object) error {
	obj["resourceType"] = typ
	err := e.db.Write(e.ctx, func(tx store.Tx) error {
		if err := tx.Lock(e.ctx, "res:"+typ+"/"+id); err != nil {
			return err
		}
		prev, err := tx.Current(e.ctx, typ, id)
		if err != nil {
			return err
		}
		v := int64(1)
		if prev != nil {
			v = prev.Version + 1
		}
		at := time.Now().UTC().Truncate(time.Microsecond)
		body, err := fhir.Stamp(obj, id, v, at)
		if err != nil {
			return err
		}
		ix := e.x.Extract(typ, obj)
		return tx.Put(e.ctx, &store.Version{New: &fhir.Resource{Type: typ, ID: id, Version: v, LastUpdated: at, Body: body, Method: "PUT"}, Prev: prev, Index: &ix})
	})
	if err != nil {
		return fmt.Errorf("put %s/%s: %w", typ, id, err)
	}
	return nil
}

// tryDel deletes a live resource (nothing when it is not).
func (e *env) tryDel(typ, id string) error {
	err := e.db.Write(e.ctx, func(tx store.Tx) error {
		if err := tx.Lock(e.ctx, "res:"+typ+"/"+id); err != nil {
			return err
		}
		prev, err := tx.Current(e.ctx, typ, id)
		if err != nil || prev == nil || prev.Deleted {
			return err
		}
		at := time.Now().UTC().Truncate(time.Microsecond)
		return tx.Put(e.ctx, &store.Version{New: &fhir.Resource{Type: typ, ID: id, Version: prev.Version + 1, LastUpdated: at, Deleted: true, Method: "DELETE"}, Prev: prev})
	})
	if err != nil {
		return fmt.Errorf("delete %s/%s: %w", typ, id, err)
	}
	return nil
}

func patient(family, gender string) fhir.Object {
	return fhir.Object{"name": []any{fhir.Object{"family": family}}, "gender": gender, "birthDate": "2020-01-02"}
}

func immunization(pid, status, cvx string) fhir.Object {
	return fhir.Object{
		"status":             status,
		"vaccineCode":        fhir.Object{"coding": []any{fhir.Object{"system": "http://hl7.org/fhir/sid/cvx", "code": cvx}}},
		"patient":            fhir.Object{"reference": "Patient/" + pid},
		"occurrenceDateTime": "2021-03-04",
	}
}

// runJobs starts workers until the test ends.
func (e *env) runJobs() {
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan struct{})
	if e.m.Config.Workers == 0 {
		e.m.Config.Workers = 1
	}
	go func() { defer close(done); e.m.Run(ctx) }()
	e.t.Cleanup(func() { cancel(); <-done })
}

func (e *env) kickOff(k *KickOff) *Accepted {
	e.t.Helper()
	if k.Level == "" {
		k.Level = LevelSystem
	}
	if k.Method == "" {
		k.Method = "GET"
	}
	a, err := e.m.KickOff(e.ctx, k)
	if err != nil {
		e.t.Fatalf("kick-off: %v", err)
	}
	return a
}

// result is a finished export as a client sees it.
type result struct {
	manifest manifest
	// lines per output type, "deleted" and "error"
	lines map[string][]fhir.Object
	ids   map[string][]string // ids per output type, in file order
}

// wait polls until the export completes and downloads every file.
func (e *env) wait(id string) *result {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := e.m.Status(e.ctx, id, e.owner)
		if err != nil {
			e.t.Fatalf("status: %v", err)
		}
		if st.Failure != nil {
			e.t.Fatalf("export failed: %v", st.Failure)
		}
		if st.Manifest != nil {
			r := &result{lines: map[string][]fhir.Object{}, ids: map[string][]string{}}
			if err := json.Unmarshal(st.Manifest, &r.manifest); err != nil {
				e.t.Fatal(err)
			}
			groups := []struct {
				key   string
				items []manifestItem
			}{{"", r.manifest.Output}, {"error", r.manifest.Error}, {"deleted", deref(r.manifest.Deleted)}}
			for _, g := range groups {
				for _, it := range g.items {
					lines := e.download(id, it)
					if int64(len(lines)) != it.Count {
						e.t.Fatalf("%s: %d lines, manifest count %d", it.URL, len(lines), it.Count)
					}
					key := g.key
					if key == "" {
						key = it.Type
					}
					r.lines[key] = append(r.lines[key], lines...)
					for _, l := range lines {
						r.ids[key] = append(r.ids[key], fhir.Str(l, "id"))
					}
				}
			}
			return r
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("export %s not complete after 60s: %s", id, st.Progress)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func deref(p *[]manifestItem) []manifestItem {
	if p == nil {
		return nil
	}
	return *p
}

func (e *env) download(id string, it manifestItem) []fhir.Object {
	e.t.Helper()
	i := strings.LastIndex(it.URL, "/")
	var seq int
	fmt.Sscan(it.URL[i+1:], &seq)
	f, err := e.m.OpenFile(e.ctx, id, seq, e.owner)
	if err != nil {
		e.t.Fatalf("open %s: %v", it.URL, err)
	}
	var buf bytes.Buffer
	if err := f.WriteTo(e.ctx, &buf); err != nil && !errors.Is(err, ErrCountMismatch) {
		e.t.Fatalf("write %s: %v", it.URL, err)
	}
	var out []fhir.Object
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var o fhir.Object
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			e.t.Fatalf("%s: line is not JSON: %v\n%s", it.URL, err, sc.Bytes())
		}
		out = append(out, o)
	}
	return out
}
