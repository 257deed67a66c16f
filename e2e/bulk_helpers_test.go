package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Helpers of the $export tests: seeding through transaction Bundles, and a
// minimal Bulk Data client (kick-off, poll, download).

// seedBulk creates patients bp0… and n immunizations bi0… per patient in
// transaction Bundles of up to 200 entries, with client-chosen ids so that
// the test knows what exists without asking the server.
func seedBulk(t testing.TB, s *Server, patients, perPatient int, headers ...string) (pids, iids []string) {
	t.Helper()
	var entries []string
	flush := func() {
		if len(entries) == 0 {
			return
		}
		body := `{"resourceType":"Bundle","type":"transaction","entry":[` + strings.Join(entries, ",") + `]}`
		s.Do(t, "POST", "", body, headers...).Expect(t, 200)
		entries = entries[:0]
	}
	put := func(typ, id, body string) {
		entries = append(entries, fmt.Sprintf(`{"resource":%s,"request":{"method":"PUT","url":"%s/%s"}}`, body, typ, id))
		if len(entries) == 200 {
			flush()
		}
	}
	for p := range patients {
		pid := fmt.Sprintf("bp%d", p)
		pids = append(pids, pid)
		put("Patient", pid, withID(patient(fmt.Sprintf("Bulk%d", p)), pid))
	}
	flush()
	for p := range patients {
		for i := range perPatient {
			iid := fmt.Sprintf("bi%d-%d", p, i)
			iids = append(iids, iid)
			put("Immunization", iid, withID(immunization("Patient/"+pids[p], "08", "2022-01-0"+fmt.Sprint(1+i%9)), iid))
		}
	}
	flush()
	return pids, iids
}

func withID(body, id string) string {
	return `{"id":"` + id + `",` + strings.TrimPrefix(body, "{")
}

// exportClient speaks Bulk Data to one server.
type exportClient struct {
	s       *Server
	headers []string
}

// kickOff sends a kick-off and returns the status URL.
func (c exportClient) kickOff(t testing.TB, method, path string, body any) string {
	t.Helper()
	r := c.s.Do(t, method, path, body, append([]string{"Prefer", "respond-async", "Accept", "application/fhir+json"}, c.headers...)...).Expect(t, 202)
	loc := r.Header.Get("Content-Location")
	if !strings.HasPrefix(loc, c.s.Root+"/bulk/") {
		t.Fatalf("Content-Location %q", loc)
	}
	return loc
}

type bulkManifest struct {
	TransactionTime     string     `json:"transactionTime"`
	Request             string     `json:"request"`
	RequiresAccessToken bool       `json:"requiresAccessToken"`
	Output              []bulkItem `json:"output"`
	Deleted             []bulkItem `json:"deleted"`
	Error               []bulkItem `json:"error"`
}

type bulkItem struct {
	Type  string `json:"type"`
	URL   string `json:"url"`
	Count int    `json:"count"`
}

// wait polls the status URL until the manifest is there.
func (c exportClient) wait(t testing.TB, status string) (*bulkManifest, *Response) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		r := c.s.Do(t, "GET", status, nil, append([]string{"Accept", "application/json"}, c.headers...)...)
		switch r.Status {
		case 200:
			var m bulkManifest
			if err := json.Unmarshal(r.Body, &m); err != nil {
				t.Fatalf("manifest: %v\n%s", err, r.Body)
			}
			return &m, r
		case 202:
			if r.Header.Get("X-Progress") == "" || r.Header.Get("Retry-After") == "" {
				t.Fatalf("202 without X-Progress or Retry-After: %v", r.Header)
			}
		default:
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("export not done after 2 minutes: %s", r.Header.Get("X-Progress"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// download fetches one file (gzip-encoded when asked) and returns its lines.
func (c exportClient) download(t testing.TB, url string, gz bool) []map[string]any {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(c.headers); i += 2 {
		req.Header.Set(c.headers[i], c.headers[i+1])
	}
	if gz {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	// A bare transport: the default one would ask for gzip and undo it.
	resp, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: 2 * time.Minute}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/fhir+ndjson" {
		t.Errorf("Content-Type %q", ct)
	}
	var rd io.Reader = resp.Body
	if gz {
		if resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("asked for gzip, got Content-Encoding %q", resp.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		rd = zr
	} else if resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("unasked Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	raw, err := io.ReadAll(rd)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: not one resource per line: %v\n%.200s", url, err, sc.Bytes())
		}
		out = append(out, m)
	}
	return out
}

// all downloads every output file and returns the ids per type, checking
// each file's count and that no resource appears twice.
func (c exportClient) all(t testing.TB, m *bulkManifest) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	seen := map[string]bool{}
	for i, it := range m.Output {
		lines := c.download(t, it.URL, i%2 == 0)
		if len(lines) != it.Count {
			t.Errorf("%s: %d lines, manifest count %d", it.URL, len(lines), it.Count)
		}
		for _, l := range lines {
			ref := fmt.Sprint(l["resourceType"], "/", l["id"])
			if l["resourceType"] != it.Type {
				t.Errorf("%s in a %s file", ref, it.Type)
			}
			if seen[ref] {
				t.Errorf("%s exported twice", ref)
			}
			seen[ref] = true
			out[it.Type] = append(out[it.Type], fmt.Sprint(l["id"]))
		}
	}
	return out
}
