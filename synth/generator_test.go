package synth

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// collected is everything one stream produced, for small populations.
type collected struct {
	types     []string
	resources [][]byte
	truth     [][]byte
	sum       *Summary
}

func (c *collected) Resource(typ string, b []byte) error {
	c.types = append(c.types, typ)
	c.resources = append(c.resources, bytes.Clone(b))
	return nil
}

func (c *collected) Truth(b []byte) error {
	c.truth = append(c.truth, bytes.Clone(b))
	return nil
}

func generate(t *testing.T, cfg Config) *collected {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &collected{}
	if c.sum, err = g.Stream(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

func smallConfig(n int) Config {
	cfg := DefaultConfig()
	cfg.Patients = n
	return cfg
}

func TestDeterministic(t *testing.T) {
	tests := []struct {
		name     string
		a, b     func(*Config)
		wantSame bool
	}{
		{"same seed, one worker vs four", func(c *Config) { c.Workers = 1 }, func(c *Config) { c.Workers = 4 }, true},
		{"different seed", func(c *Config) {}, func(c *Config) { c.Seed = 2 }, false},
		{"different as-of", func(c *Config) {}, func(c *Config) { c.AsOf = MakeDate(2025, 1, 1) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca, cb := smallConfig(700), smallConfig(700)
			tt.a(&ca)
			tt.b(&cb)
			da, db := t.TempDir(), t.TempDir()
			for _, x := range []struct {
				cfg Config
				dir string
			}{{ca, da}, {cb, db}} {
				g, err := New(x.cfg)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := g.WriteDir(context.Background(), x.dir, false); err != nil {
					t.Fatal(err)
				}
			}
			same := true
			for _, f := range []string{"Organization.ndjson", "Practitioner.ndjson", "Patient.ndjson", "Immunization.ndjson", TruthFile, ManifestFile} {
				a, _ := os.ReadFile(filepath.Join(da, f))
				b, _ := os.ReadFile(filepath.Join(db, f))
				if len(a) == 0 {
					t.Fatalf("%s is empty", f)
				}
				same = same && bytes.Equal(a, b)
			}
			if same != tt.wantSame {
				t.Errorf("identical output = %v, want %v", same, tt.wantSame)
			}
		})
	}
}

func TestGzipMatchesPlain(t *testing.T) {
	tests := []struct {
		name     string
		patients int
	}{{"no people", 0}, {"one chunk", 10}, {"many chunks", 500}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plain, one, two := t.TempDir(), t.TempDir(), t.TempDir()
			for _, x := range []struct {
				dir     string
				gz      bool
				workers int
			}{{plain, false, 2}, {one, true, 1}, {two, true, 2}} {
				cfg := smallConfig(tt.patients)
				cfg.Workers = x.workers
				g, err := New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := g.WriteDir(t.Context(), x.dir, x.gz); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range []string{"Organization.ndjson", "Patient.ndjson", "Immunization.ndjson", TruthFile} {
				want, _ := os.ReadFile(filepath.Join(plain, f))
				z1, _ := os.ReadFile(filepath.Join(one, f+".gz"))
				z2, _ := os.ReadFile(filepath.Join(two, f+".gz"))
				if !bytes.Equal(z1, z2) {
					t.Errorf("%s.gz differs between one and two workers", f)
				}
				zr, err := gzip.NewReader(bytes.NewReader(z1))
				if err != nil {
					t.Fatalf("%s.gz: %v", f, err)
				}
				got, err := io.ReadAll(zr)
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s.gz does not decompress to %s (%d vs %d bytes, %v)", f, f, len(got), len(want), err)
				}
			}
			var m Manifest
			b, _ := os.ReadFile(filepath.Join(one, ManifestFile))
			json.Unmarshal(b, &m)
			for _, f := range m.Output {
				if !strings.HasSuffix(f.URL, ".ndjson.gz") || f.Count != m.Summary.Counts[f.Type] {
					t.Errorf("manifest output %+v, summary count %d", f, m.Summary.Counts[f.Type])
				}
			}
		})
	}
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)

// TestValidity checks every resource against the rules the server enforces.
func TestValidity(t *testing.T) {
	cfg := smallConfig(3000)
	c := generate(t, cfg)
	tb, err := loadTables()
	if err != nil {
		t.Fatal(err)
	}
	sharedCVX := readSharedCodes(t, "cvx.tsv")
	ids := map[string]bool{}
	var refs []string
	statuses := map[string]int{}
	for i, b := range c.resources {
		var r map[string]any
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("resource %d is not JSON: %v", i, err)
		}
		typ, _ := r["resourceType"].(string)
		id, _ := r["id"].(string)
		if typ != c.types[i] || !idPattern.MatchString(id) {
			t.Fatalf("resource %d: type %q (streamed as %q), id %q", i, typ, c.types[i], id)
		}
		key := typ + "/" + id
		if ids[key] {
			t.Fatalf("%s appears twice", key)
		}
		ids[key] = true
		if typ != TypeImmunization {
			continue
		}
		status, _ := r["status"].(string)
		statuses[status]++
		switch status {
		case "completed":
		case "not-done":
			if r["statusReason"] == nil {
				t.Errorf("%s: not-done without statusReason", key)
			}
		default:
			t.Errorf("%s: status %q", key, status)
		}
		if _, ok := r["primarySource"].(bool); !ok {
			t.Errorf("%s: primarySource missing", key)
		}
		occ, _ := r["occurrenceDateTime"].(string)
		d, err := ParseDate(occ)
		if err != nil || d < cfg.RecordsSince || d > cfg.AsOf {
			t.Errorf("%s: occurrenceDateTime %q outside %s…%s", key, occ, cfg.RecordsSince, cfg.AsOf)
		}
		codings := r["vaccineCode"].(map[string]any)["coding"].([]any)
		cvxFound := false
		for _, x := range codings {
			cd := x.(map[string]any)
			if cd["system"] == SystemCVX {
				code := cd["code"].(string)
				_, inTable := tb.cvx[code]
				_, inShared := sharedCVX[code]
				if !inTable || (sharedCVX != nil && !inShared) {
					t.Errorf("%s: CVX %s not in the CVX table", key, code)
				}
				cvxFound = true
			}
		}
		if !cvxFound {
			t.Errorf("%s: no CVX coding", key)
		}
		if m, ok := r["manufacturer"].(map[string]any); ok {
			mv := m["identifier"].(map[string]any)
			if _, ok := tb.mvx[mv["value"].(string)]; !ok || mv["system"] != SystemMVX {
				t.Errorf("%s: manufacturer %v", key, mv)
			}
		}
		refs = append(refs, r["patient"].(map[string]any)["reference"].(string))
		for _, p := range r["performer"].([]any) {
			refs = append(refs, p.(map[string]any)["actor"].(map[string]any)["reference"].(string))
		}
		if r["location"] != nil {
			t.Errorf("%s: location set but no Location is generated", key)
		}
	}
	for _, ref := range refs {
		if !ids[ref] {
			t.Fatalf("reference %s does not resolve", ref)
		}
	}
	if statuses["not-done"] == 0 || statuses["completed"] == 0 {
		t.Errorf("statuses %v: want both completed and not-done", statuses)
	}
	for _, typ := range resourceTypes {
		if c.sum.Counts[typ] == 0 {
			t.Errorf("no %s generated", typ)
		}
	}
}

// readSharedCodes reads a CDC code table from ../../shared/cdsi when present (CI lays shared/
// beside the clone); nil when absent.
func readSharedCodes(t *testing.T, name string) map[string]bool {
	f, err := os.Open(filepath.Join("..", "..", "shared", "cdsi", name))
	if err != nil {
		t.Logf("shared %s not found; checking the embedded copy only", name)
		return nil
	}
	defer f.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		code, _, _ := strings.Cut(sc.Text(), "\t")
		out[code] = true
	}
	return out
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"negative patients", func(c *Config) { c.Patients = -1 }},
		{"as-of too early", func(c *Config) { c.AsOf = MakeDate(1950, 1, 1) }},
		{"records after as-of", func(c *Config) { c.RecordsSince = c.AsOf + 1 }},
		{"bad zip", func(c *Config) { c.ZIPs = []string{"5510"} }},
		{"zip of no state", func(c *Config) { c.ZIPs = []string{"00099"} }},
		{"rate above one", func(c *Config) { c.DuplicateDoseRate = 1.5 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.mod(&cfg)
			if _, err := New(cfg); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestCustomZIPs(t *testing.T) {
	cfg := smallConfig(100)
	cfg.ZIPs = []string{"97201", "10001"}
	c := generate(t, cfg)
	for i, b := range c.resources {
		if c.types[i] != TypePatient {
			continue
		}
		var p struct {
			Address []struct {
				State, PostalCode string
			}
		}
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		a := p.Address[0]
		if !(a.PostalCode == "97201" && a.State == "OR") && !(a.PostalCode == "10001" && a.State == "NY") {
			t.Fatalf("address %+v outside the configured ZIP codes", a)
		}
	}
}

func TestStreamStopsOnError(t *testing.T) {
	g, err := New(smallConfig(2000))
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	n := 0
	_, err = g.Each(context.Background(), func(typ string, b []byte) error {
		if n++; n == 5000 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 5000 {
		t.Fatalf("err %v after %d resources; want stop after 5000", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.Each(ctx, func(string, []byte) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled stream returned %v", err)
	}
}

// TestHandlerMayKeepSlices: a loader queues bodies without copying; they must not change later.
func TestHandlerMayKeepSlices(t *testing.T) {
	g, err := New(smallConfig(1500))
	if err != nil {
		t.Fatal(err)
	}
	var kept, copied [][]byte
	if _, err := g.Each(t.Context(), func(_ string, b []byte) error {
		kept = append(kept, b)
		copied = append(copied, bytes.Clone(b))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i := range kept {
		if !bytes.Equal(kept[i], copied[i]) {
			t.Fatalf("resource %d changed after it was handed over", i)
		}
	}
}
