package loader

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"

	"github.com/immunis/immunis/fhir"
)

// A JSON file of a Bundle is read entry by entry, so that memory holds one
// entry (and the map of fullUrls) however large the file is. It is read
// twice: the first pass learns what each entry's fullUrl stands for and that
// the whole file is well-formed, so that a broken file loads nothing; the
// second emits the entries with Bundle-local references rewritten. A small
// file (the usual Synthea Bundle of one patient) is decoded once, in
// memory, when it is strictly valid JSON; anything odd about it takes the
// streaming path, whose answers are the reference. A file that is not a
// Bundle is one resource and is read whole.

// inMemoryLimit is the largest uncompressed file decoded whole; its tree
// takes about six times its size. A variable so that tests can set it.
var inMemoryLimit int64 = 16 << 20

// wholeFileLimit bounds the JSON files that are read whole when they are
// not a well-formed Bundle: validation then names the fault precisely.
// Beyond it the file is rejected with the JSON decoder's message instead of
// being held in memory. A variable so that tests can lower it.
var wholeFileLimit int64 = 64 << 20

// opener opens an input afresh for one pass.
type opener func() (io.Reader, func(), error)

// streamed reports whether a JSON file of size bytes is read in two passes.
func streamed(path string, size int64) bool {
	return size > inMemoryLimit || strings.HasSuffix(strings.ToLower(path), ".gz")
}

// readCost is how many bytes readFile reads from path, for the progress
// display: a streamed file counts twice, so that the display moves during
// the first pass too (a few seconds a gigabyte, before anything loads).
func readCost(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	if !isNDJSON(path) && streamed(path, st.Size()) {
		return 2 * st.Size()
	}
	return st.Size()
}

func readJSONFile(path string, read *atomic.Int64, emit func(Item) error) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	if streamed(path, st.Size()) {
		return readJSONStream(path, st.Size(), read,
			func() (io.Reader, func(), error) { return openInput(path, read) }, emit)
	}
	r, done, err := openInput(path, read)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(r)
	done()
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if b, err := fhir.DecodeStrict(data); err == nil {
		if fhir.Str(b, "resourceType") != "Bundle" {
			return emit(Item{Source: path, Body: data}) // one resource
		}
		if plainBundle(b) {
			return emitBundle(path, fhir.Arr(b, "entry"), emit)
		}
	}
	again := func() (io.Reader, func(), error) { return bytes.NewReader(data), func() {}, nil }
	return readJSONStream(path, int64(len(data)), nil, again, emit)
}

// plainBundle reports whether a decoded Bundle's entries (if any) are all
// objects: the shape emitBundle takes as it is.
func plainBundle(b fhir.Object) bool {
	e, ok := b["entry"]
	if !ok {
		return true
	}
	entries, ok := e.([]any)
	if !ok {
		return false
	}
	for _, x := range entries {
		if _, ok := x.(map[string]any); !ok {
			return false
		}
	}
	return true
}

// emitBundle emits the items of a Bundle's decoded entries.
func emitBundle(path string, entries []any, emit func(Item) error) error {
	ids := map[string]string{}
	for _, e := range entries {
		noteFullURL(e.(map[string]any), ids)
	}
	for i, e := range entries {
		it, err := entryItem(path, i, e.(map[string]any), ids)
		if err != nil {
			return err
		}
		if err := emit(it); err != nil {
			return err
		}
	}
	return nil
}

// readJSONStream reads a JSON file in two passes, each from a fresh reader
// of open. read, when not nil, is the progress counter those readers add
// to; a file rejected half read adds the rest of its cost.
func readJSONStream(path string, size int64, read *atomic.Int64, open opener, emit func(Item) error) error {
	var before int64 // what read held when this file began
	if read != nil {
		before = read.Load()
	}
	ids := map[string]string{}
	r, done, err := open()
	if err != nil {
		return err
	}
	typ, scanErr := scanTop(r, func(_ int, raw json.RawMessage) error {
		if e, err := fhir.DecodeStrict(raw); err == nil {
			noteFullURL(e, ids)
		} // a malformed entry is left to the second pass, which rejects it
		return nil
	})
	done()
	if scanErr == nil && typ == "Bundle" {
		r, done, err := open()
		if err != nil {
			return err
		}
		defer done()
		_, err = scanTop(r, func(i int, raw json.RawMessage) error {
			e, err := fhir.DecodeStrict(raw)
			if err != nil {
				return emit(Item{Source: entrySource(path, i), Body: raw, Problem: inEntry(err, i)})
			}
			it, err := entryItem(path, i, e, ids)
			if err != nil {
				return err
			}
			return emit(it)
		})
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		return nil
	}
	if scanErr != nil && size > wholeFileLimit {
		if read != nil { // the unread rest of both passes
			read.Add(readCost(path) - (read.Load() - before))
		}
		return emit(Item{Source: path, Problem: fhir.Invalid("IMM-JSON-001", "",
			"the file is not a well-formed JSON object: %v", scanErr)})
	}
	r, done, err = open()
	if err != nil {
		return err
	}
	defer done()
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return emit(Item{Source: path, Body: data})
}

// scanTop reads one JSON object from r: its resourceType, and the elements
// of its "entry" array, handed to entry one at a time as raw JSON; other
// members are skipped. It fails on malformed JSON, a member given twice, an
// entry that is not an array, or data after the object.
func scanTop(r io.Reader, entry func(i int, raw json.RawMessage) error) (resourceType string, err error) {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return "", err
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", err
		}
		key, _ := tok.(string)
		if seen[key] {
			return "", fmt.Errorf("member %q appears twice", key)
		}
		seen[key] = true
		switch key {
		case "resourceType":
			if err := dec.Decode(&resourceType); err != nil {
				return "", fmt.Errorf("resourceType: %w", err)
			}
		case "entry":
			if err := expectDelim(dec, '['); err != nil {
				return "", fmt.Errorf("entry: %w", err)
			}
			for i := 0; dec.More(); i++ {
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					return "", fmt.Errorf("entry %d: %w", i, err)
				}
				if err := entry(i, raw); err != nil {
					return "", err
				}
			}
			if err := expectDelim(dec, ']'); err != nil {
				return "", err
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return "", fmt.Errorf("%s: %w", key, err)
			}
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return "", err
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = fmt.Errorf("unexpected %v after the JSON object", tok)
		}
		return "", err
	}
	return resourceType, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("expected %q at offset %d", want, dec.InputOffset())
	}
	return nil
}

// noteFullURL records what an entry's fullUrl stands for, the way a
// transaction resolves it: Type/id, where id is the resource's own id, else
// the fullUrl's UUID. Entries of types this server does not store count
// too: references to them become Type/id and are kept as such.
func noteFullURL(e fhir.Object, ids map[string]string) {
	res, full := fhir.Obj(e, "resource"), fhir.Str(e, "fullUrl")
	if res == nil || full == "" {
		return
	}
	typ, id := fhir.Str(res, "resourceType"), fhir.Str(res, "id")
	if id == "" {
		id = idFromFullURL(full)
	}
	if typ != "" && id != "" {
		ids[full] = typ + "/" + id
	}
}

// entrySource names entry i of the Bundle file path in messages.
func entrySource(path string, i int) string { return fmt.Sprintf("%s#entry[%d]", path, i) }

// entryItem is the item of decoded entry i: its resource with Bundle-local
// references rewritten, or a rejection saying why there is none.
func entryItem(path string, i int, e fhir.Object, ids map[string]string) (Item, error) {
	src := entrySource(path, i)
	res := fhir.Obj(e, "resource")
	if res == nil {
		return entryWithoutResource(src, i, e), nil
	}
	rewrite(res, ids)
	body, err := fhir.Marshal(res)
	if err != nil {
		return Item{}, fmt.Errorf("%s: %w", src, err)
	}
	it := Item{Source: src, Body: body, FullURL: fhir.Str(e, "fullUrl")}
	if req := fhir.Obj(e, "request"); req != nil {
		it.IfNoneExist = fhir.Str(req, "ifNoneExist")
		// A conditional update (PUT Type?criteria) names its match the same
		// way; the resource's id or fullUrl UUID still comes first.
		if _, criteria, ok := strings.Cut(fhir.Str(req, "url"), "?"); ok && it.IfNoneExist == "" && fhir.Str(req, "method") == "PUT" {
			it.IfNoneExist = criteria
		}
	}
	return it, nil
}

// inEntry places a JSON error of entry i inside the Bundle.
func inEntry(err error, i int) *fhir.Error {
	var fe *fhir.Error
	if !errors.As(err, &fe) {
		return fhir.Invalid("IMM-JSON-001", fmt.Sprintf("Bundle.entry[%d]", i), "%v", err)
	}
	for j := range fe.Issues {
		for k, x := range fe.Issues[j].Expression {
			fe.Issues[j].Expression[k] = fmt.Sprintf("Bundle.entry[%d].%s", i, x)
		}
		if len(fe.Issues[j].Expression) == 0 {
			fe.Issues[j].Expression = []string{fmt.Sprintf("Bundle.entry[%d]", i)}
		}
	}
	return fe
}

// entryWithoutResource is the item for a Bundle entry that holds no
// resource: a transaction's DELETE or GET, a response entry, an empty one.
// A load writes resources only, so the entry is rejected with the reason,
// and the load's exit status says that part of the input was not applied.
func entryWithoutResource(src string, i int, entry fhir.Object) Item {
	what := "no request"
	if req := fhir.Obj(entry, "request"); req != nil {
		what = "request " + strings.TrimSpace(fhir.Str(req, "method")+" "+fhir.Str(req, "url"))
	}
	body, _ := fhir.Marshal(entry) // the entry, for the rejects file; nil if it cannot be encoded
	return Item{
		Source: src,
		Body:   body,
		Problem: fhir.Errorf(fhir.KindUnprocessable, fhir.IssueNotSupported, "IMM-LOAD-001",
			"Bundle entry %d has no resource (%s): a load writes resources only; "+
				"POST the Bundle to the server's base URL to run its other requests", i, what).
			At(fmt.Sprintf("Bundle.entry[%d]", i)),
	}
}
