package loader

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/immunis/immunis/fhir"
)

// item is what the tests compare of an Item: source suffix, body,
// IfNoneExist and the rejection's message id and expression.
type item struct {
	source, body, ifNoneExist, problem string
}

func readItems(t *testing.T, path string) ([]item, int64) {
	t.Helper()
	var read atomic.Int64
	var got []item
	err := readFile(path, &read, func(it Item) error {
		g := item{source: strings.TrimPrefix(it.Source, path), body: string(it.Body), ifNoneExist: it.IfNoneExist}
		if it.Problem != nil {
			is := it.Problem.Issues[0]
			g.problem = is.MsgID + " " + strings.Join(is.Expression, ",")
			g.body = ""
		}
		got = append(got, g)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, read.Load()
}

func TestReadJSONFile(t *testing.T) {
	const (
		pat = `{"fullUrl":"urn:uuid:0b0e7c55-3f7e-4a53-9d0e-8a1d2c3b4a01","resource":{"resourceType":"Patient","birthDate":"2020-01-01"},"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:x|1"}}`
		imm = `{"fullUrl":"urn:uuid:0b0e7c55-3f7e-4a53-9d0e-8a1d2c3b4a02","resource":{"resourceType":"Immunization","id":"i1","patient":{"reference":"urn:uuid:0b0e7c55-3f7e-4a53-9d0e-8a1d2c3b4a01"}}}`
		// what the loader emits for the two entries above
		patBody = `{"resourceType":"Patient","birthDate":"2020-01-01"}`
		immBody = `{"resourceType":"Immunization","id":"i1","patient":{"reference":"Patient/0b0e7c55-3f7e-4a53-9d0e-8a1d2c3b4a01"}}`
	)
	tests := []struct {
		name string
		file string
		want []item
	}{
		{"entries resolve references; resourceType after entry",
			`{"type":"batch","entry":[` + imm + `,` + pat + `],"resourceType":"Bundle"}`,
			[]item{{source: "#entry[0]", body: immBody}, {source: "#entry[1]", body: patBody, ifNoneExist: "identifier=urn:x|1"}}},
		{"entry without resource is rejected, the others load",
			`{"resourceType":"Bundle","type":"transaction","entry":[` + pat + `,{"request":{"method":"DELETE","url":"Patient/x"}}]}`,
			[]item{{source: "#entry[0]", body: patBody, ifNoneExist: "identifier=urn:x|1"}, {source: "#entry[1]", problem: "IMM-LOAD-001 Bundle.entry[1]"}}},
		{"entry breaking strict JSON is rejected where it is",
			`{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","gender":"male","gender":"female"}},` + pat + `]}`,
			[]item{{source: "#entry[0]", problem: "IMM-JSON-005 Bundle.entry[0].resource.gender"}, {source: "#entry[1]", body: patBody, ifNoneExist: "identifier=urn:x|1"}}},
		{"a conditional update's criteria decide, as ifNoneExist does",
			`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient"},"request":{"method":"PUT","url":"Patient?identifier=urn:x|2"}},` +
				`{"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient?identifier=urn:x|3"}}]}`,
			[]item{{source: "#entry[0]", body: `{"resourceType":"Patient"}`, ifNoneExist: "identifier=urn:x|2"}, {source: "#entry[1]", body: `{"resourceType":"Patient"}`}}},
		{"a single resource is one item, as written",
			`{"resourceType":"Patient","birthDate":"2020-01-01"}`,
			[]item{{body: `{"resourceType":"Patient","birthDate":"2020-01-01"}`}}},
	}
	// Malformed files load nothing of theirs: the whole file goes to
	// validation as one item, which rejects it naming the fault.
	for name, file := range map[string]string{
		"truncated Bundle":            `{"resourceType":"Bundle","type":"batch","entry":[` + pat + `,` + imm[:40],
		"member twice":                `{"resourceType":"Bundle","entry":[` + pat + `],"entry":[` + imm + `]}`,
		"data after the object":       `{"resourceType":"Bundle","entry":[` + pat + `]} {}`,
		"entry that is no array":      `{"resourceType":"Bundle","entry":` + pat + `}`,
		"top level that is no object": `[` + pat + `]`,
	} {
		tests = append(tests, struct {
			name string
			file string
			want []item
		}{name, file, []item{{body: file}}})
	}
	// Small plain files are decoded in memory, .gz and large ones streamed;
	// with no room in memory every file is streamed. Both give the same.
	defer func(n int64) { inMemoryLimit = n }(inMemoryLimit)
	for _, limit := range []int64{inMemoryLimit, 0} {
		inMemoryLimit = limit
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/in-memory-limit-%d", tt.name, limit), func(t *testing.T) {
				dir := t.TempDir()
				plain := filepath.Join(dir, "in.json")
				if err := os.WriteFile(plain, []byte(tt.file), 0o644); err != nil {
					t.Fatal(err)
				}
				var zipped bytes.Buffer
				zw := gzip.NewWriter(&zipped)
				zw.Write([]byte(tt.file))
				zw.Close()
				gz := filepath.Join(dir, "in.json.gz")
				if err := os.WriteFile(gz, zipped.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				for _, path := range []string{plain, gz} {
					got, read := readItems(t, path)
					if !equalItems(got, tt.want) {
						t.Errorf("%s:\n got %+v\nwant %+v", filepath.Base(path), got, tt.want)
					}
					// every byte of the file once, or twice when it is streamed
					st, _ := os.Stat(path)
					want := st.Size()
					if limit == 0 || path == gz {
						want *= 2
					}
					if read != want || readCost(path) != want {
						t.Errorf("%s: progress counted %d bytes, readCost %d; want %d", filepath.Base(path), read, readCost(path), want)
					}
				}
			})
		}
	}
}

func equalItems(a, b []item) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A malformed file too large to hold is rejected with the decoder's
// message instead of being read whole.
func TestReadJSONFileTooLargeToHold(t *testing.T) {
	defer func(n, m int64) { wholeFileLimit, inMemoryLimit = n, m }(wholeFileLimit, inMemoryLimit)
	wholeFileLimit, inMemoryLimit = 100, 0
	path := filepath.Join(t.TempDir(), "big.json")
	body := `{"resourceType":"Bundle","entry":[` + strings.Repeat(`{"resource":{"resourceType":"Patient"}},`, 10) + `}`
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	got, read := readItems(t, path)
	if len(got) != 1 || got[0].problem != "IMM-JSON-001 " || got[0].body != "" {
		t.Fatalf("got %+v, want one IMM-JSON-001 rejection without the body", got)
	}
	if want := 2 * int64(len(body)); read != want { // both passes, the one not made included
		t.Errorf("progress counted %d bytes, want %d", read, want)
	}
}

// inEntry keeps the decoder's issue and places it in the Bundle.
func TestInEntry(t *testing.T) {
	_, err := fhir.DecodeStrict([]byte(`{"resource":{"a":{}}}`))
	fe := inEntry(err, 3)
	if got := strings.Join(fe.Issues[0].Expression, ","); got != "Bundle.entry[3].resource.a" {
		t.Errorf("expression %q", got)
	}
}

// FuzzReadJSONFile: whatever a JSON file holds, reading it never panics,
// and decoding it in memory gives the same items as streaming it (the
// reference). go test runs the seeds; go test -fuzz explores.
func FuzzReadJSONFile(f *testing.F) {
	for _, s := range []string{
		`{"resourceType":"Bundle","type":"batch","entry":[{"fullUrl":"urn:uuid:0b0e7c55-3f7e-4a53-9d0e-8a1d2c3b4a01","resource":{"resourceType":"Patient"}},{"resource":{"resourceType":"Immunization","patient":{"reference":"urn:uuid:0b0e7c55-3f7e-4a53-9d0e-8a1d2c3b4a01"}}}]}`,
		`{"resourceType":"Bundle","entry":[{"request":{"method":"DELETE","url":"Patient/1"}},5,{"resource":{"a":{}}}]}`,
		`{"resourceType":"Bundle","entry":{}}`,
		`{"resourceType":"Bundle","type":"\xff","entry":[]}`,
		`{"resourceType":"Patient","id":"p"}`,
		`{"resourceType":"Bundle"} x`,
		`[]`, ``, `{`, `{"entry":[{"resource":{"resourceType":"Patient"}}],"resourceType":"Bundle","resourceType":"Bundle"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "in.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		defer func(n int64) { inMemoryLimit = n }(inMemoryLimit)
		inMemoryLimit = 1 << 20
		inMemory, _ := readItems(t, path)
		inMemoryLimit = 0
		streamed, _ := readItems(t, path)
		if !equalItems(inMemory, streamed) {
			t.Errorf("in memory:\n %+v\nstreamed:\n %+v", inMemory, streamed)
		}
	})
}
