// Package arch holds tests of the code's shape: the one-way flow of
// ../shared/DESIGN.md (server → interaction → search/store/forecast/bulk →
// database) and a doc comment on every package.
package arch

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/immunis/immunis/"

// allowed lists, per package, the project packages it may import. A package
// not listed may import anything except cmd (only the program wires).
var allowed = map[string][]string{
	"fhir":        {},
	"forecast":    {},
	"migrations":  {},
	"auth":        {},
	"synth":       {},
	"profiles":    {"fhir"},
	"search":      {"fhir", "profiles"},
	"store":       {"fhir", "search", "migrations", "auth"}, // auth: SQL implementations of its ClientStore and ReplayCache
	"bulk":        {"fhir", "search", "store"},
	"conformance": {"fhir", "search", "profiles", "auth"},
	"interaction": {"fhir", "profiles", "search", "store", "forecast", "auth", "bulk"},
	"server":      {"interaction", "auth", "conformance", "fhir"},
	"loader":      {"fhir", "interaction"},
	"forecastcli": {"forecast"},
	"synthcli":    {"synth"},
}

// imports returns the project packages imported by the non-test files of dir.
func imports(t *testing.T, dir string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	fs := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fs, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, imp := range af.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if strings.HasPrefix(p, module) {
				out[strings.TrimPrefix(p, module)] = true
			}
		}
	}
	return out
}

func root(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(wd, "..", "..")
}

func TestOneWayFlow(t *testing.T) {
	r := root(t)
	for pkg, ok := range allowed {
		dir := filepath.Join(r, pkg)
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		okSet := map[string]bool{}
		for _, p := range ok {
			okSet[p] = true
		}
		var bad []string
		for imp := range imports(t, dir) {
			top := strings.Split(imp, "/")[0]
			if !okSet[imp] && !okSet[top] && !(strings.HasPrefix(imp, pkg+"/")) {
				bad = append(bad, imp)
			}
		}
		sort.Strings(bad)
		if len(bad) > 0 {
			t.Errorf("package %s imports %v; it may import only %v", pkg, bad, ok)
		}
	}
	// nothing imports the program
	err := filepath.WalkDir(r, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() || strings.Contains(path, "node_modules") || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		for imp := range imports(t, path) {
			if strings.HasPrefix(imp, "cmd/") {
				t.Errorf("%s imports %s: only the program wires packages", path, imp)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPackageDocs: every package says what it is for in a doc comment.
func TestPackageDocs(t *testing.T) {
	r := root(t)
	err := filepath.WalkDir(r, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		name := d.Name()
		if strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules" || name == "tools" {
			return filepath.SkipDir
		}
		files, _ := filepath.Glob(filepath.Join(path, "*.go"))
		var src []string
		for _, f := range files {
			if !strings.HasSuffix(f, "_test.go") {
				src = append(src, f)
			}
		}
		if len(src) == 0 {
			return nil
		}
		fs := token.NewFileSet()
		for _, f := range src {
			af, err := parser.ParseFile(fs, f, nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				return err
			}
			if af.Doc != nil && len(strings.TrimSpace(af.Doc.Text())) > 20 {
				return nil
			}
		}
		rel, _ := filepath.Rel(r, path)
		t.Errorf("package %s has no doc comment saying what it is for", rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
