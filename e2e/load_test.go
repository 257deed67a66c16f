package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/immunis/immunis/internal/testdb"
)

// syntheaDir holds gzipped copies of Synthea samples (README there), so the
// load tests run wherever the repository is cloned, and read .gz as they go.
const syntheaDir = "testdata/synthea"

// storeArgs returns the database flags of a fresh store of kind.
func storeArgs(t *testing.T, kind string) []string {
	t.Helper()
	if kind == "postgres" {
		return []string{"--database-url", testdb.New(t), "--data-dir", t.TempDir()}
	}
	return []string{"--data-dir", t.TempDir()}
}

// runCLI runs the binary and returns stdout, stderr and the exit code.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

var summaryRE = regexp.MustCompile(`loaded (\d+) new, (\d+) updated, (\d+) unchanged, (\d+) rejected, (\d+) skipped`)

type loadSummary struct{ created, updated, unchanged, rejected, skipped int }

func parseSummary(t *testing.T, out string) loadSummary {
	t.Helper()
	m := summaryRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no summary in output:\n%s", out)
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	return loadSummary{n(1), n(2), n(3), n(4), n(5)}
}

// readMaybeGzip reads a file whole, unzipping it when its name ends in .gz.
func readMaybeGzip(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(path, ".gz") {
		return raw
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return out
}

// countNDJSON counts resources per type in a directory of NDJSON files
// (plain or gzipped), independently of the loader.
func countNDJSON(t *testing.T, dir string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	paths, _ := filepath.Glob(filepath.Join(dir, "*.ndjson"))
	gz, _ := filepath.Glob(filepath.Join(dir, "*.ndjson.gz"))
	for _, p := range append(paths, gz...) {
		if strings.TrimSuffix(filepath.Base(p), ".gz") == "log.ndjson" {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(readMaybeGzip(t, p)))
		sc.Buffer(make([]byte, 1<<20), 1<<26)
		for sc.Scan() {
			var head struct {
				ResourceType string `json:"resourceType"`
			}
			if len(bytes.TrimSpace(sc.Bytes())) == 0 {
				continue
			}
			if err := json.Unmarshal(sc.Bytes(), &head); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			counts[head.ResourceType]++
		}
	}
	return counts
}

var served = map[string]bool{"Patient": true, "Immunization": true, "ImmunizationRecommendation": true, "ImmunizationEvaluation": true,
	"Organization": true, "Practitioner": true, "Location": true, "RelatedPerson": true, "Group": true, "Provenance": true}

func TestLoadSynthea(t *testing.T) {
	dir := filepath.Join(syntheaDir, "bulk-100-patients")
	counts := countNDJSON(t, dir)
	if len(counts) == 0 {
		t.Fatalf("no resources in %s", dir)
	}
	wantLoaded, wantSkipped := 0, 0
	for typ, n := range counts {
		if served[typ] {
			wantLoaded += n
		} else {
			wantSkipped += n
		}
	}
	for _, kind := range stores {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			db := storeArgs(t, kind)
			out, errOut, code := runCLI(t, append(append([]string{"load"}, db...), dir)...)
			if code != 0 {
				t.Fatalf("load exit %d\n%s\n%s", code, out, errOut)
			}
			s := parseSummary(t, out)
			if s.created != wantLoaded || s.skipped != wantSkipped || s.rejected != 0 {
				t.Errorf("first load %+v; want %d created, %d skipped", s, wantLoaded, wantSkipped)
			}
			// a second load changes nothing
			out, _, code = runCLI(t, append(append([]string{"load"}, db...), dir)...)
			s2 := parseSummary(t, out)
			if code != 0 || s2.created != 0 || s2.updated != 0 || s2.unchanged != wantLoaded {
				t.Errorf("second load %+v (exit %d); want all %d unchanged", s2, code, wantLoaded)
			}
			// the data is really there, through the API
			srv := StartWith(t, db)
			for typ, n := range counts {
				if !served[typ] {
					continue
				}
				b := srv.Do(t, "GET", typ+"?_summary=count", nil).Expect(t, 200).JSON(t)
				if got := int(b["total"].(float64)); got != n {
					t.Errorf("%s: %d served, want %d", typ, got, n)
				}
			}
		})
	}
}

func TestLoadServesWhatItLoaded(t *testing.T) {
	dir := filepath.Join(syntheaDir, "bundles-covid-juvenile")
	// Count Immunizations and Patients in the bundles independently.
	wantImm, wantPat := 0, 0
	paths, _ := filepath.Glob(filepath.Join(dir, "*.json.gz"))
	for _, p := range paths {
		raw := readMaybeGzip(t, p)
		var b struct {
			Entry []struct {
				Resource struct {
					ResourceType string `json:"resourceType"`
				} `json:"resource"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(raw, &b); err != nil {
			t.Fatal(err)
		}
		for _, e := range b.Entry {
			switch e.Resource.ResourceType {
			case "Immunization":
				wantImm++
			case "Patient":
				wantPat++
			}
		}
	}
	if wantImm == 0 || wantPat == 0 {
		t.Fatalf("%s: %d Immunizations, %d Patients in %d bundles; the samples are missing", dir, wantImm, wantPat, len(paths))
	}
	dataDir := t.TempDir()
	out, errOut, code := runCLI(t, "load", "--data-dir", dataDir, dir)
	if code != 0 {
		t.Fatalf("load exit %d\n%s\n%s", code, out, errOut)
	}
	s := StartWith(t, []string{"--data-dir", dataDir})
	b := s.Do(t, "GET", "Immunization?_summary=count", nil).Expect(t, 200).JSON(t)
	if int(b["total"].(float64)) != wantImm {
		t.Errorf("%v Immunizations served, want %d", b["total"], wantImm)
	}
	b = s.Do(t, "GET", "Patient?_summary=count", nil).Expect(t, 200).JSON(t)
	if int(b["total"].(float64)) != wantPat {
		t.Errorf("%v Patients served, want %d", b["total"], wantPat)
	}
	// urn:uuid references were resolved to the loaded Patients
	imm := s.Do(t, "GET", "Immunization?_count=1", nil).Expect(t, 200).JSON(t)
	ref := imm["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)["patient"].(map[string]any)["reference"].(string)
	s.Do(t, "GET", ref, nil).Expect(t, 200)
}

func TestLoadRejects(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "mixed.ndjson")
	lines := []string{
		`{"resourceType":"Patient","id":"good-1","gender":"female","birthDate":"2020-01-01"}`,
		`{"resourceType":"Patient","id":"bad-1","gender":"robot"}`,
		`this is not json`,
		`{"resourceType":"Immunization","id":"imm-1","status":"completed","vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"08"}]},"patient":{"reference":"Patient/good-1"},"occurrenceDateTime":"2020-02-01"}`,
		`{"resourceType":"Immunization","id":"imm-2","status":"completed","vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"08"}]},"patient":{"reference":"Patient/nobody"},"occurrenceDateTime":"2020-02-01"}`,
		`{"resourceType":"Observation","id":"obs-1","status":"final","code":{"text":"x"}}`,
	}
	if err := os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rejects := filepath.Join(dir, "rejects.ndjson")
	for _, kind := range stores {
		t.Run(kind, func(t *testing.T) {
			rej := rejects + "." + kind
			out, _, code := runCLI(t, append(append([]string{"load", "--rejects", rej}, storeArgs(t, kind)...), in)...)
			if code == 0 {
				t.Errorf("exit 0 although resources were rejected")
			}
			s := parseSummary(t, out)
			if s.created != 2 || s.rejected != 3 || s.skipped != 1 {
				t.Errorf("summary %+v, want 2 created, 3 rejected, 1 skipped", s)
			}
			raw, err := os.ReadFile(rej)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Split(strings.TrimSpace(string(raw)), "\n")
			if len(got) != 3 {
				t.Fatalf("%d reject lines, want 3:\n%s", len(got), raw)
			}
			for _, want := range []string{"Patient.gender", "not valid JSON", "Patient/nobody"} {
				if !strings.Contains(string(raw), want) {
					t.Errorf("rejects do not mention %q", want)
				}
			}
			for _, l := range got {
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil || m["outcome"] == nil || m["source"] == nil {
					t.Errorf("reject line without outcome/source: %s", l)
				}
			}
		})
	}
}

// TestLoadBundles loads transaction, batch and collection Bundles: urn:uuid
// references between entries resolve, and an entry without a resource (a
// transaction's DELETE) is rejected with its reason, not dropped unseen.
func TestLoadBundles(t *testing.T) {
	const (
		// %[1]d makes each Bundle's urn:uuids its own
		patient = `{"fullUrl":"urn:uuid:8c3f0e4e-1b1a-4e57-9a3c-2f0d6c1e9b0%[1]d","resource":{"resourceType":"Patient","gender":"female","birthDate":"2023-04-05","identifier":[{"system":"urn:test:bundles","value":"%[2]s"}]}%[3]s}`
		imm     = `{"fullUrl":"urn:uuid:5d2b7c1a-0f3e-4c8b-8a61-7e9f3b2d4c0%[1]d","resource":{"resourceType":"Immunization","status":"completed","vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"08"}]},"patient":{"reference":"urn:uuid:8c3f0e4e-1b1a-4e57-9a3c-2f0d6c1e9b0%[1]d"},"occurrenceDateTime":"2023-04-06"}%[2]s}`
	)
	tests := []struct {
		typ                 string
		patReq, immReq, del string
		wantRejected        int
	}{
		{"transaction", `,"request":{"method":"POST","url":"Patient"}`, `,"request":{"method":"POST","url":"Immunization"}`,
			`,{"request":{"method":"DELETE","url":"Patient/gone-1"}}`, 1},
		{"batch", `,"request":{"method":"POST","url":"Patient"}`, `,"request":{"method":"POST","url":"Immunization"}`, "", 0},
		{"collection", "", "", "", 0},
	}
	dataDir := t.TempDir()
	for i, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), tt.typ+".json")
			body := `{"resourceType":"Bundle","type":"` + tt.typ + `","entry":[` +
				fmt.Sprintf(patient, i, tt.typ, tt.patReq) + "," + fmt.Sprintf(imm, i, tt.immReq) + tt.del + `]}`
			if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			rej := filepath.Join(t.TempDir(), "rejects.ndjson")
			out, errOut, code := runCLI(t, "load", "--data-dir", dataDir, "--rejects", rej, file)
			s := parseSummary(t, out)
			if s.created != 2 || s.rejected != tt.wantRejected {
				t.Errorf("summary %+v, want 2 created, %d rejected\n%s", s, tt.wantRejected, errOut)
			}
			if (code != 0) != (tt.wantRejected > 0) {
				t.Errorf("exit %d with %d rejected", code, tt.wantRejected)
			}
			raw, err := os.ReadFile(rej)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantRejected > 0 {
				for _, want := range []string{"IMM-LOAD-001", "DELETE Patient/gone-1", "#entry[2]", "Bundle.entry[2]"} {
					if !strings.Contains(string(raw), want) {
						t.Errorf("rejects do not mention %q:\n%s", want, raw)
					}
				}
			} else if len(bytes.TrimSpace(raw)) != 0 {
				t.Errorf("rejects written for a clean Bundle:\n%s", raw)
			}
		})
	}
	// every Immunization points at its own Bundle's Patient
	srv := StartWith(t, []string{"--data-dir", dataDir})
	for _, tt := range tests {
		b := srv.Do(t, "GET", "Immunization?patient.identifier=urn:test:bundles|"+tt.typ, nil).Expect(t, 200).JSON(t)
		if n := int(b["total"].(float64)); n != 1 {
			t.Errorf("%s: %d Immunizations of the Bundle's Patient, want 1", tt.typ, n)
		}
	}
}

// TestLoadConditionalUpdate: a transaction's PUT Type?criteria updates
// the resource its criteria match, whatever identifier comes first.
func TestLoadConditionalUpdate(t *testing.T) {
	dataDir := t.TempDir()
	bundle := func(other, gender string) string {
		return `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient","gender":"` + gender + `",` +
			`"identifier":[{"system":"urn:test:other","value":"` + other + `"},{"system":"urn:test:cond","value":"1"}]},` +
			`"request":{"method":"PUT","url":"Patient?identifier=urn:test:cond|1"}}]}`
	}
	for i, step := range []struct {
		body                      string
		created, updated, unchang int
	}{
		{bundle("A", "female"), 1, 0, 0},
		{bundle("B", "male"), 0, 1, 0},
		{bundle("B", "male"), 0, 0, 1},
	} {
		file := filepath.Join(t.TempDir(), "b.json")
		if err := os.WriteFile(file, []byte(step.body), 0o644); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := runCLI(t, "load", "--data-dir", dataDir, file)
		s := parseSummary(t, out)
		if code != 0 || s.created != step.created || s.updated != step.updated || s.unchanged != step.unchang {
			t.Errorf("load %d: %+v (exit %d), want %d created, %d updated, %d unchanged\n%s", i+1, s, code, step.created, step.updated, step.unchang, errOut)
		}
	}
	srv := StartWith(t, []string{"--data-dir", dataDir})
	b := srv.Do(t, "GET", "Patient?identifier=urn:test:cond|1", nil).Expect(t, 200).JSON(t)
	entries, _ := b["entry"].([]any)
	if len(entries) != 1 {
		t.Fatalf("%d Patients match the criteria, want 1", len(entries))
	}
	if g := entries[0].(map[string]any)["resource"].(map[string]any)["gender"]; g != "male" {
		t.Errorf("gender %v, want the update's", g)
	}
}

// TestLoadKilledAndRestarted: a load killed halfway (SIGKILL) and run again
// completes without duplicates.
func TestLoadKilledAndRestarted(t *testing.T) {
	dir := t.TempDir()
	out, errOut, code := runCLI(t, "synth", "--patients", "1500", "--seed", "7", "--out", dir)
	if code != 0 {
		t.Fatalf("synth exit %d\n%s\n%s", code, out, errOut)
	}
	counts := countNDJSON(t, dir)
	want := 0
	for typ, n := range counts {
		if served[typ] {
			want += n
		}
	}
	db := storeArgs(t, "postgres")
	cmd := exec.Command(binary(t), append(append([]string{"load", "--batch-size", "100"}, db...), dir)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	// Kill it once a quarter of the resources are committed, whatever the
	// machine's speed: then the restart must find both kinds.
	conn, err := sql.Open("postgres", db[1])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	committed := 0
	for deadline := time.Now().Add(2 * time.Minute); committed < want/4; {
		select {
		case <-exited:
			t.Fatalf("the first load ended before a quarter was in (%d of %d)", committed, want)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first load committed %d of %d resources in two minutes", committed, want)
		}
		_ = conn.QueryRow(`SELECT count(*) FROM resource`).Scan(&committed) // no table until it migrates
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	_ = conn.QueryRow(`SELECT count(*) FROM resource`).Scan(&committed)

	out, errOut, code = runCLI(t, append(append([]string{"load"}, db...), dir)...)
	if code != 0 {
		t.Fatalf("restarted load exit %d\n%s\n%s", code, out, errOut)
	}
	s := parseSummary(t, out)
	if s.created+s.unchanged != want || s.updated != 0 {
		t.Errorf("restart %+v: created+unchanged should be %d with no updates", s, want)
	}
	if s.unchanged != committed || s.created == 0 {
		t.Errorf("restart %+v after a kill with %d committed: want those %d unchanged and the rest created", s, committed, committed)
	}
	srv := StartWith(t, db)
	total := 0
	for typ, n := range counts {
		if !served[typ] {
			continue
		}
		b := srv.Do(t, "GET", typ+"?_summary=count", nil).Expect(t, 200).JSON(t)
		got := int(b["total"].(float64))
		if got != n {
			t.Errorf("%s: %d stored, want %d (duplicates or losses)", typ, got, n)
		}
		total += got
	}
	if total != want {
		t.Errorf("%d resources stored, want %d", total, want)
	}
}

// TestLoadOverHTTP: --server loads through a running server (batch
// Bundles); a second run reports everything unchanged.
func TestLoadOverHTTP(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "small.ndjson")
	lines := []string{
		`{"resourceType":"Patient","id":"h1","gender":"female","birthDate":"2020-01-01"}`,
		`{"resourceType":"Immunization","id":"h-imm-1","status":"completed","vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"08"}]},"patient":{"reference":"Patient/h1"},"occurrenceDateTime":"2020-02-01"}`,
		`{"resourceType":"Patient","id":"h2","gender":"robot"}`,
		`{"resourceType":"Encounter","id":"e1","status":"finished","class":{"code":"AMB"}}`,
	}
	if err := os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := Start(t, "sqlite", nil)
	out, _, code := runCLI(t, "load", "--server", s.Base, in)
	if got := parseSummary(t, out); code == 0 || got.created != 2 || got.rejected != 1 || got.skipped != 1 {
		t.Errorf("first load over HTTP: %+v (exit %d), want 2 created, 1 rejected, 1 skipped, non-zero exit", got, code)
	}
	out, _, _ = runCLI(t, "load", "--server", s.Base, in)
	if got := parseSummary(t, out); got.unchanged != 2 || got.created != 0 || got.updated != 0 {
		t.Errorf("second load over HTTP: %+v, want 2 unchanged", got)
	}
	s.Do(t, "GET", "Immunization/h-imm-1", nil).Expect(t, 200)
}

// A load serves each resource back as it was read, with the server's id
// and meta: whether the stored text was spliced from the input line or
// encoded again (own meta, a conditional reference rewritten), on both
// stores.
func TestLoadStoresWhatItRead(t *testing.T) {
	lines := []string{
		`{"resourceType":"Organization","id":"org-1","name":"Clinic \"One\" — Müller","identifier":[{"system":"urn:org","value":"o1"}]}`,
		`{"resourceType":"Patient","id":"pat-1","meta":{"profile":["http://example.org/p"]},"birthDate":"2020-01-02","managingOrganization":{"reference":"Organization/org-1"}}`,
		`{"resourceType":"Patient","id":"pat-2","birthDate":"2021-03-04","managingOrganization":{"reference":"Organization?identifier=urn:org|o1"}}`,
		`{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"no-id"}],"name":[{"text":"\u00e9t\u00e9"}]}`,
	}
	want := func(t *testing.T, line string) map[string]any {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			args := storeArgs(t, kind)
			file := filepath.Join(t.TempDir(), "in.ndjson")
			if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			out, errOut, code := runCLI(t, append([]string{"load"}, append(args, file)...)...)
			if code != 0 {
				t.Fatalf("load exit %d\n%s\n%s", code, out, errOut)
			}
			s := StartWith(t, args)
			check := func(path, line string, fix func(map[string]any)) {
				got := s.Do(t, "GET", path, nil).Expect(t, 200).JSON(t)
				meta, _ := got["meta"].(map[string]any)
				if meta["versionId"] != "1" || meta["lastUpdated"] == nil {
					t.Errorf("%s: meta %v, want versionId 1 and lastUpdated", path, meta)
				}
				w := want(t, line)
				if fix != nil {
					fix(w)
				}
				w["id"] = got["id"]
				wm, _ := w["meta"].(map[string]any)
				if wm == nil {
					wm = map[string]any{}
				}
				wm["versionId"], wm["lastUpdated"] = meta["versionId"], meta["lastUpdated"]
				w["meta"] = wm
				if g, e := mustJSON(t, got), mustJSON(t, w); g != e {
					t.Errorf("%s served\n %s\nwant\n %s", path, g, e)
				}
			}
			check("Organization/org-1", lines[0], nil)
			check("Patient/pat-1", lines[1], nil)
			check("Patient/pat-2", lines[2], func(w map[string]any) {
				w["managingOrganization"] = map[string]any{"reference": "Organization/org-1"}
			})
			found := s.Do(t, "GET", "Patient?identifier=urn:mrn|no-id", nil).Expect(t, 200).JSON(t)
			entries, _ := found["entry"].([]any)
			if len(entries) != 1 {
				t.Fatalf("%d Patients with identifier no-id, want 1", len(entries))
			}
			id := entries[0].(map[string]any)["resource"].(map[string]any)["id"].(string)
			check("Patient/"+id, lines[3], nil)
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
