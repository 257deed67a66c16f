package auth_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPackagesImportNoProjectPackage holds the layering: auth and its
// sub-packages import no package of the project (DESIGN.md: auth may import
// only fhir, and needs nothing from it yet), and every package says in its
// doc comment what it is for and who may import it.
func TestPackagesImportNoProjectPackage(t *testing.T) {
	const project = "github.com/immunis/immunis/"
	docs := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		dir := filepath.Dir(path)
		if _, ok := docs[dir]; !ok {
			docs[dir] = false
		}
		if f.Doc != nil && strings.HasPrefix(f.Doc.Text(), "Package "+f.Name.Name+" ") {
			docs[dir] = true
			if !strings.Contains(f.Doc.Text(), "import") {
				t.Errorf("%s: package doc does not say who may import it", path)
			}
		}
		if strings.HasSuffix(path, "_test.go") {
			return nil
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, project) && p != project+"auth" {
				t.Errorf("%s imports %s", path, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for dir, ok := range docs {
		if !ok {
			t.Errorf("package in %s has no package doc comment", dir)
		}
	}
}
