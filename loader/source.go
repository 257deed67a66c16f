package loader

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
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
	// IfNoneExist is a Bundle entry's request.ifNoneExist.
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
// Bundle-local references resolved; NDJSON yields one resource per line;
// any other JSON file is one resource.
func readFile(path string, read *atomic.Int64, emit func(Item) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	var r io.Reader = countingReader{f, read}
	name := path
	if strings.HasSuffix(strings.ToLower(path), ".gz") {
		gz, err := gzip.NewReader(r)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		defer gz.Close()
		r = gz
		name = strings.TrimSuffix(path, filepath.Ext(path))
	}
	if strings.HasSuffix(strings.ToLower(name), ".ndjson") {
		return readNDJSON(path, r, emit)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return readJSON(path, data, emit)
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

func readJSON(path string, data []byte, emit func(Item) error) error {
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		// Let validation report it against this file.
		return emit(Item{Source: path, Body: data})
	}
	if head.ResourceType != "Bundle" {
		return emit(Item{Source: path, Body: data})
	}
	return readBundle(path, data, emit)
}

// readBundle resolves references between entries the way a transaction
// does: an entry's fullUrl (urn:uuid:…) stands for Type/id, where id is the
// resource's own id, else the UUID. References to entries of types this
// server does not store become Type/id too, and are kept as such.
func readBundle(path string, data []byte, emit func(Item) error) error {
	obj, err := fhir.DecodeStrict(data)
	if err != nil {
		return emit(Item{Source: path, Body: data})
	}
	entries := fhir.Arr(obj, "entry")
	ids := map[string]string{}
	for _, e := range entries {
		m, _ := e.(map[string]any)
		res := fhir.Obj(m, "resource")
		full := fhir.Str(m, "fullUrl")
		if res == nil || full == "" {
			continue
		}
		typ, id := fhir.Str(res, "resourceType"), fhir.Str(res, "id")
		if id == "" {
			id = idFromFullURL(full)
		}
		if typ != "" && id != "" {
			ids[full] = typ + "/" + id
		}
	}
	for i, e := range entries {
		m, _ := e.(map[string]any)
		res := fhir.Obj(m, "resource")
		if res == nil {
			if err := emit(entryWithoutResource(path, i, m)); err != nil {
				return err
			}
			continue
		}
		rewrite(res, ids)
		body, err := fhir.Marshal(res)
		if err != nil {
			return fmt.Errorf("%s entry %d: %w", path, i, err)
		}
		item := Item{Source: fmt.Sprintf("%s#entry[%d]", path, i), Body: body, FullURL: fhir.Str(m, "fullUrl")}
		if req := fhir.Obj(m, "request"); req != nil {
			item.IfNoneExist = fhir.Str(req, "ifNoneExist")
		}
		if err := emit(item); err != nil {
			return err
		}
	}
	return nil
}

// entryWithoutResource is the item for a Bundle entry that holds no
// resource: a transaction's DELETE or GET, a response entry, an empty one.
// A load writes resources only, so the entry is rejected with the reason,
// and the load's exit status says that part of the input was not applied.
func entryWithoutResource(path string, i int, entry map[string]any) Item {
	what := "no request"
	if req := fhir.Obj(entry, "request"); req != nil {
		what = "request " + strings.TrimSpace(fhir.Str(req, "method")+" "+fhir.Str(req, "url"))
	}
	body, _ := fhir.Marshal(entry) // the entry, for the rejects file; nil if it cannot be encoded
	return Item{
		Source: fmt.Sprintf("%s#entry[%d]", path, i),
		Body:   body,
		Problem: fhir.Errorf(fhir.KindUnprocessable, fhir.IssueNotSupported, "IMM-LOAD-001",
			"Bundle entry %d has no resource (%s): a load writes resources only; "+
				"POST the Bundle to the server's base URL to run its other requests", i, what).
			At(fmt.Sprintf("Bundle.entry[%d]", i)),
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
