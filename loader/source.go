package loader

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/immunis/immunis/fhir"
)

// Item is one resource read from an input, not yet validated.
type Item struct {
	Source string // where it came from, for messages: file:line or file#entry[i]
	Body   []byte // the resource JSON (Bundle-local references already rewritten)
	// FullURL is the Bundle entry's fullUrl; its urn:uuid gives an id
	// when the resource has none.
	FullURL string
	// IfNoneExist is a Bundle entry's request.ifNoneExist, or the criteria
	// of its conditional update (PUT Type?criteria).
	IfNoneExist string
	// Problem is set when the reader already knows the item cannot be
	// loaded (a Bundle entry without a resource, such as a DELETE); the
	// loader rejects it with this outcome instead of dropping it unseen.
	Problem *fhir.Error
}

// typeRank orders NDJSON files so referenced types load before the types
// that reference them (Organizations before Patients before
// Immunizations). Anything still out of order is retried at the end.
var typeRank = map[string]int{
	"Organization": 0, "Location": 1, "Practitioner": 2, "PractitionerRole": 3,
	"Patient": 4, "RelatedPerson": 5, "Group": 6, "Immunization": 7,
	"ImmunizationEvaluation": 8, "ImmunizationRecommendation": 9, "Provenance": 10,
}

// files expands paths (files or directories, recursively) into the input
// files in load order: supporting data first, then by type rank, then name.
func files(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", p, err)
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && isInput(path) {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", p, err)
		}
		sort.SliceStable(found, func(i, j int) bool {
			ri, rj := fileRank(found[i]), fileRank(found[j])
			if ri != rj {
				return ri < rj
			}
			return found[i] < found[j]
		})
		out = append(out, found...)
	}
	return out, nil
}

func isInput(path string) bool {
	base := strings.TrimSuffix(strings.ToLower(filepath.Base(path)), ".gz")
	if base == "log.ndjson" || base == "manifest.json" || base == "truth.ndjson" {
		return false
	}
	return strings.HasSuffix(base, ".json") || strings.HasSuffix(base, ".ndjson")
}

// fileRank puts Synthea's hospital and practitioner bundles, and NDJSON of
// supporting types, first.
func fileRank(path string) int {
	base := filepath.Base(path)
	if strings.HasPrefix(base, "hospitalInformation") || strings.HasPrefix(base, "practitionerInformation") {
		return -1
	}
	typ, _, _ := strings.Cut(base, ".")
	if r, ok := typeRank[typ]; ok {
		return r
	}
	return len(typeRank)
}

// countingReader counts bytes for the progress display.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// readFile streams the items of one file to emit. Bundles (transaction,
// batch, collection, searchset) yield their entries' resources with
// Bundle-local references resolved (bundle.go); NDJSON yields one resource
// per line; any other JSON file is one resource.
func readFile(path string, read *atomic.Int64, emit func(Item) error) error {
	if isNDJSON(path) {
		r, done, err := openInput(path, read)
		if err != nil {
			return err
		}
		defer done()
		return readNDJSON(path, r, emit)
	}
	return readJSONFile(path, read, emit)
}

// isNDJSON reports whether path is NDJSON (one resource per line), gzipped
// or not.
func isNDJSON(path string) bool {
	return strings.HasSuffix(strings.TrimSuffix(strings.ToLower(path), ".gz"), ".ndjson")
}

// openInput opens path for reading, unzipping .gz. When read is not nil it
// counts the file's bytes as they are consumed, for the progress display.
func openInput(path string, read *atomic.Int64) (io.Reader, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	var r io.Reader = f
	if read != nil {
		r = countingReader{f, read}
	}
	if !strings.HasSuffix(strings.ToLower(path), ".gz") {
		return r, func() { f.Close() }, nil
	}
	gz, err := gzip.NewReader(r)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return gz, func() { gz.Close(); f.Close() }, nil
}

func readNDJSON(path string, r io.Reader, emit func(Item) error) error {
	br := bufio.NewReaderSize(r, 1<<20)
	line := 0
	for {
		b, err := br.ReadBytes('\n')
		if len(b) > 0 {
			line++
			if t := bytes.TrimSpace(b); len(t) > 0 {
				if err := emit(Item{Source: fmt.Sprintf("%s:%d", path, line), Body: append([]byte(nil), t...)}); err != nil {
					return err
				}
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
	}
}

// idFromFullURL takes the id a fullUrl implies: the UUID of urn:uuid:, or
// the last path segment of a RESTful URL.
func idFromFullURL(full string) string {
	if strings.HasPrefix(full, "urn:uuid:") {
		if id := strings.TrimPrefix(full, "urn:uuid:"); fhir.ValidID(id) {
			return id
		}
		return ""
	}
	if r := fhir.ParseReference(full, ""); r.ID != "" {
		return r.ID
	}
	return ""
}

// rewrite replaces Bundle-local references in a resource tree.
func rewrite(v any, ids map[string]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "reference" {
				if to, ok := ids[s]; ok {
					v[k] = to
				}
				continue
			}
			rewrite(x, ids)
		}
	case []any:
		for _, x := range v {
			rewrite(x, ids)
		}
	}
}
