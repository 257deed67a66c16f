package search

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/immunis/immunis/fhir"
)

// TestExtract renders the index rows of each example resource under
// testdata/examples into testdata/extract/<name>.golden.
func TestExtract(t *testing.T) {
	r := testRegistry(t)
	x := &Extractor{Registry: r, Location: time.UTC, BaseURL: "http://example.org/fhir"}
	files, err := filepath.Glob("testdata/examples/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	names := paramNames(r)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			obj, err := fhir.DecodeStrict(raw)
			if err != nil {
				t.Fatal(err)
			}
			ix := x.Extract(fhir.Str(obj, "resourceType"), obj)
			golden(t, "extract", name, describeIndex(ix, names))
		})
	}
}

// paramNames maps every param id (plain and derived forms) to a name.
func paramNames(r *Registry) map[int32]string {
	m := map[int32]string{}
	for _, typ := range r.Types() {
		for _, p := range r.Params(typ) {
			m[p.ID] = typ + "." + p.Code
			m[p.TextID] = typ + "." + p.Code + ":text"
			m[p.OfTypeID] = typ + "." + p.Code + ":of-type"
			m[p.IdentifierID] = typ + "." + p.Code + ":identifier"
		}
	}
	return m
}

func describeIndex(ix Index, names map[int32]string) string {
	name := func(id int32) string {
		if n, ok := names[id]; ok {
			return n
		}
		return fmt.Sprintf("composite#%d", id)
	}
	bound := func(v int64) string {
		switch v {
		case math.MinInt64:
			return "-inf"
		case math.MaxInt64:
			return "+inf"
		}
		return time.UnixMicro(v).UTC().Format("2006-01-02T15:04:05.999999Z")
	}
	var lines []string
	for _, r := range ix.Tokens {
		lines = append(lines, fmt.Sprintf("token %s system=%q code=%q", name(r.Param), r.System, r.Code))
	}
	for _, r := range ix.Strings {
		lines = append(lines, fmt.Sprintf("string %s norm=%q exact=%q", name(r.Param), r.Norm, r.Exact))
	}
	for _, r := range ix.Dates {
		lines = append(lines, fmt.Sprintf("date %s [%s, %s]", name(r.Param), bound(r.Lo), bound(r.Hi)))
	}
	for _, r := range ix.Refs {
		lines = append(lines, fmt.Sprintf("ref %s type=%q id=%q url=%q", name(r.Param), r.Type, r.ID, r.URL))
	}
	for _, r := range ix.Numbers {
		lines = append(lines, fmt.Sprintf("number %s %v [%v, %v)", name(r.Param), r.Value, r.Lo, r.Hi))
	}
	for _, r := range ix.Quantities {
		lines = append(lines, fmt.Sprintf("quantity %s %v [%v, %v) system=%q code=%q", name(r.Param), r.Value, r.Lo, r.Hi, r.System, r.Code))
	}
	for _, r := range ix.URIs {
		lines = append(lines, fmt.Sprintf("uri %s %q", name(r.Param), r.URI))
	}
	sort.Strings(lines)
	lines = append(lines, fmt.Sprintf("compartments %v", ix.Compartments))
	return strings.Join(lines, "\n") + "\n"
}
