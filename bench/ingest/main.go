// Command ingest measures write throughput of the real server on
// PostgreSQL (issue 2's benchmark): single Immunization creates from 16
// concurrent clients, and transaction Bundles of 100 entries, each next to
// a baseline measured in the same run — the same rows (resource and index
// rows) inserted by a plain Go program through lib/pq, no HTTP, no
// validation. It prints resources/s, p50/p99 latency and the ratios, and
// where the server's CPU went (from a CPU profile of the server process).
//
//	go run ./bench/ingest [-creates 20000] [-bundles 100] [-clients 16]
package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	_ "github.com/lib/pq" // PostgreSQL driver for the baseline

	"github.com/immunis/immunis/bench/internal/benchdb"
	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/search"
)

var (
	adminURL = flag.String("admin-url", benchdb.AdminURL(), "PostgreSQL maintenance database URL")
	creates  = flag.Int("creates", 20000, "single creates to send")
	bundles  = flag.Int("bundles", 100, "transaction Bundles of 100 Immunizations to send")
	clients  = flag.Int("clients", 16, "concurrent clients")
	patients = flag.Int("patients", 1000, "Patients to create first")
	profile  = flag.Bool("profile", true, "profile the server's CPU during the single-create phase")
	keepProf = flag.String("keep-profile", "", "also copy the server's CPU profile and binary here (PATH.prof, PATH.bin) for go tool pprof")
)

func main() {
	flag.Parse()
	log.SetFlags(0)
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "immunis-bench-ingest")
	check(err)
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "immunis")
	run("go", "build", "-o", bin, "./cmd/immunis")

	dbURL := createDB("bench_ingest")
	baseURL := createDB("bench_ingest_baseline")

	prof := filepath.Join(dir, "server.prof")
	srv := startServer(bin, dbURL, prof)
	defer srv.stop()

	fmt.Printf("ingest benchmark: %d creates, %d bundles×100, %d clients, GOMAXPROCS server default, PostgreSQL on the same machine\n\n", *creates, *bundles, *clients)
	pids := make([]string, *patients)
	for i := range pids {
		pids[i] = fmt.Sprintf("bench-p%d", i)
		body := fmt.Sprintf(`{"resourceType":"Patient","id":%q,"name":[{"family":"Bench","given":["P%d"]}],"gender":"female","birthDate":"2020-01-01"}`, pids[i], i)
		status, _ := do("PUT", srv.base+"/Patient/"+pids[i], []byte(body))
		if status != 201 {
			log.Fatalf("create patient: %d", status)
		}
	}

	// 1. single creates
	lat := timed(*clients, *creates, func(i int) time.Duration {
		body := immunization(pids[i%len(pids)], i)
		t0 := time.Now()
		status, resp := do("POST", srv.base+"/Immunization", body)
		d := time.Since(t0)
		if status != 201 {
			log.Fatalf("create: %d %s", status, resp)
		}
		return d
	})
	createRate := float64(*creates) / lat.wall.Seconds()

	// 2. transaction bundles of 100
	blat := timed(min(*clients, 4), *bundles, func(i int) time.Duration {
		var b bytes.Buffer
		b.WriteString(`{"resourceType":"Bundle","type":"transaction","entry":[`)
		for k := 0; k < 100; k++ {
			if k > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"resource":%s,"request":{"method":"POST","url":"Immunization"}}`, immunization(pids[(i*100+k)%len(pids)], 1_000_000+i*100+k))
		}
		b.WriteString(`]}`)
		t0 := time.Now()
		status, resp := do("POST", srv.base, b.Bytes())
		if status != 200 {
			log.Fatalf("transaction: %d %s", status, resp)
		}
		return time.Since(t0)
	})
	txRate := float64(*bundles*100) / blat.wall.Seconds()

	// 3. baseline: the same rows through lib/pq, no HTTP, no validation
	reg, err := search.NewRegistry([]string{"Patient", "Immunization", "Organization", "Practitioner", "Location"})
	check(err)
	x := &search.Extractor{Registry: reg}
	type row struct {
		id   string
		body []byte
		ix   search.Index
	}
	rows := make([]row, *creates)
	for i := range rows {
		obj, err := fhir.DecodeStrict(immunization(pids[i%len(pids)], i))
		check(err)
		id := fmt.Sprintf("base-%d", i)
		body, err := fhir.Stamp(obj, id, 1, time.Now())
		check(err)
		rows[i] = row{id: id, body: body, ix: x.Extract("Immunization", obj)}
	}
	bdb, err := sql.Open("postgres", baseURL)
	check(err)
	bdb.SetMaxOpenConns(*clients)
	_, err = bdb.ExecContext(ctx, baselineSchema)
	check(err)
	base := timed(*clients, *creates, func(i int) time.Duration {
		r := rows[i]
		t0 := time.Now()
		tx, err := bdb.BeginTx(ctx, nil)
		check(err)
		var rid int64
		check(tx.QueryRowContext(ctx, `INSERT INTO resource (type, id, version, last_updated, deleted, method, content) VALUES ('Immunization', $1, 1, $2, false, 'POST', $3) RETURNING rid`,
			r.id, time.Now().UnixMicro(), string(r.body)).Scan(&rid))
		insertIndex(ctx, tx, rid, &r.ix)
		check(tx.Commit())
		return time.Since(t0)
	})
	baseRate := float64(*creates) / base.wall.Seconds()

	fmt.Printf("%-34s %12s %10s %10s\n", "phase", "resources/s", "p50", "p99")
	fmt.Printf("%-34s %12.0f %10s %10s\n", "single creates over HTTP", createRate, lat.p(50), lat.p(99))
	fmt.Printf("%-34s %12.0f %10s %10s\n", "transactions of 100 over HTTP", txRate, blat.p(50), blat.p(99))
	fmt.Printf("%-34s %12.0f %10s %10s\n", "baseline: same rows via lib/pq", baseRate, base.p(50), base.p(99))
	fmt.Printf("\nratio baseline/creates: %.2fx   baseline/transactions: %.2fx   (targets: ≥1500 creates/s, ≥3000 resources/s in transactions, p99 create < 25ms, within 2x of baseline)\n",
		baseRate/createRate, baseRate/txRate)
	if *profile {
		srv.stop()
		fmt.Println("\nserver CPU during single creates, by area (go tool pprof -top -cum):")
		breakdown(bin, prof)
		if *keepProf != "" {
			for src, dst := range map[string]string{prof: *keepProf + ".prof", bin: *keepProf + ".bin"} {
				if b, err := os.ReadFile(src); err == nil {
					_ = os.WriteFile(dst, b, 0o755)
				}
			}
		}
	}
	srv.stop()
	for _, name := range []string{"bench_ingest", "bench_ingest_baseline"} {
		check(benchdb.Drop(*adminURL, name))
	}
}

const baselineSchema = `
CREATE TABLE resource (rid bigserial PRIMARY KEY, type text NOT NULL, id text NOT NULL, version bigint NOT NULL,
  last_updated bigint NOT NULL, deleted boolean NOT NULL, method text NOT NULL, content jsonb, UNIQUE (type, id));
CREATE TABLE idx_token (rid bigint NOT NULL, param integer NOT NULL, system text COLLATE "C" NOT NULL, code text COLLATE "C" NOT NULL, text text COLLATE "C" NOT NULL);
CREATE INDEX ON idx_token (param, code, system, rid); CREATE INDEX ON idx_token (rid);
CREATE TABLE idx_date (rid bigint NOT NULL, param integer NOT NULL, lo bigint NOT NULL, hi bigint NOT NULL);
CREATE INDEX ON idx_date (param, lo, hi, rid); CREATE INDEX ON idx_date (param, hi, lo, rid); CREATE INDEX ON idx_date (rid);
CREATE TABLE idx_ref (rid bigint NOT NULL, param integer NOT NULL, ref_type text COLLATE "C" NOT NULL, ref_id text COLLATE "C" NOT NULL, url text COLLATE "C" NOT NULL);
CREATE INDEX ON idx_ref (ref_id, ref_type, param, rid); CREATE INDEX ON idx_ref (param, rid); CREATE INDEX ON idx_ref (rid);
CREATE TABLE idx_string (rid bigint NOT NULL, param integer NOT NULL, norm text COLLATE "C" NOT NULL, exact text COLLATE "C" NOT NULL);
CREATE INDEX ON idx_string (param, norm, rid); CREATE INDEX ON idx_string (rid);
CREATE TABLE compartment (rid bigint NOT NULL, patient_id text COLLATE "C" NOT NULL);
CREATE INDEX ON compartment (patient_id, rid); CREATE INDEX ON compartment (rid);`

// insertIndex writes index rows with plain multi-row INSERTs.
func insertIndex(ctx context.Context, tx *sql.Tx, rid int64, ix *search.Index) {
	multi := func(table string, rows [][]any) {
		if len(rows) == 0 {
			return
		}
		var b strings.Builder
		var args []any
		fmt.Fprintf(&b, "INSERT INTO %s VALUES ", table)
		for i, r := range rows {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('(')
			for j, v := range append([]any{rid}, r...) {
				if j > 0 {
					b.WriteByte(',')
				}
				args = append(args, v)
				fmt.Fprintf(&b, "$%d", len(args))
			}
			b.WriteByte(')')
		}
		_, err := tx.ExecContext(ctx, b.String(), args...)
		check(err)
	}
	var tok, dat, ref, str, cmp [][]any
	for _, r := range ix.Tokens {
		tok = append(tok, []any{r.Param, r.System, r.Code, r.Text})
	}
	for _, r := range ix.Dates {
		dat = append(dat, []any{r.Param, r.Lo, r.Hi})
	}
	for _, r := range ix.Refs {
		ref = append(ref, []any{r.Param, r.Type, r.ID, r.URL})
	}
	for _, r := range ix.Strings {
		str = append(str, []any{r.Param, r.Norm, r.Exact})
	}
	for _, p := range ix.Compartments {
		cmp = append(cmp, []any{p})
	}
	multi("idx_token", tok)
	multi("idx_date", dat)
	multi("idx_ref", ref)
	multi("idx_string", str)
	multi("compartment", cmp)
}

// immunization is a realistic ~1.5 KB Immunization.
func immunization(patient string, i int) []byte {
	cvx := []string{"08", "20", "10", "133", "116", "03", "21", "83", "62", "140"}[i%10]
	return []byte(fmt.Sprintf(`{"resourceType":"Immunization","identifier":[{"system":"urn:oid:2.16.840.1.113883.3.bench","value":"imm-%d"}],"status":"completed","vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":%q}],"text":"vaccine %s"},"patient":{"reference":"Patient/%s"},"occurrenceDateTime":"2024-%02d-%02d","recorded":"2024-%02d-%02dT10:00:00Z","primarySource":true,"lotNumber":"LOT%05d","expirationDate":"2026-01-01","site":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActSite","code":"LA","display":"left arm"}]},"route":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration","code":"IM","display":"Injection, intramuscular"}]},"doseQuantity":{"value":0.5,"unit":"mL","system":"http://unitsofmeasure.org","code":"mL"},"performer":[{"function":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0443","code":"AP","display":"Administering Provider"}]},"actor":{"display":"Nurse Bench"}}],"note":[{"text":"benchmark dose %d"}],"programEligibility":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/immunization-program-eligibility","code":"ineligible"}]}],"fundingSource":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/immunization-funding-source","code":"private"}]},"protocolApplied":[{"series":"bench series","doseNumberPositiveInt":1}]}`,
		i, cvx, cvx, patient, i%12+1, i%28+1, i%12+1, i%28+1, i%100000, i))
}

type latencies struct {
	d    []time.Duration
	wall time.Duration
}

func (l latencies) p(q int) string {
	if len(l.d) == 0 {
		return "-"
	}
	return l.d[min(len(l.d)-1, len(l.d)*q/100)].Round(10 * time.Microsecond).String()
}

// timed runs total jobs over workers and returns sorted latencies.
func timed(workers, total int, job func(i int) time.Duration) latencies {
	var next atomic.Int64
	out := make([]time.Duration, total)
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				out[i] = job(i)
			}
		}()
	}
	wg.Wait()
	wall := time.Since(t0)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return latencies{d: out, wall: wall}
}

var httpClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: time.Minute}

func do(method, url string, body []byte) (int, []byte) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	check(err)
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Prefer", "return=minimal")
	resp, err := httpClient.Do(req)
	check(err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

type server struct {
	cmd  *exec.Cmd
	base string
	once sync.Once
}

var listenRE = regexp.MustCompile(`FHIR base (\S+)\)`)

func startServer(bin, dbURL, prof string) *server {
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--database-url", dbURL, "--log-level", "warn")
	if *profile {
		cmd.Env = append(os.Environ(), "IMMUNIS_CPUPROFILE="+prof)
	}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	check(err)
	check(cmd.Start())
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
			go io.Copy(io.Discard, out)
			return &server{cmd: cmd, base: m[1]}
		}
	}
	log.Fatal("server did not start")
	return nil
}

func (s *server) stop() {
	s.once.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		_ = s.cmd.Wait()
	})
}

// breakdown sums the profile by area of the code.
func breakdown(bin, prof string) {
	out, err := exec.Command("go", "tool", "pprof", "-top", "-cum", "-nodecount=400", bin, prof).Output()
	if err != nil {
		fmt.Println("  (no profile:", err, ")")
		return
	}
	areas := []struct{ name, fn string }{
		{"validation (google/fhir jsonformat)", "fhir.(*Validator).Validate"},
		{"strict JSON decode", "fhir.DecodeStrict"},
		{"index extraction (FHIRPath)", "search.(*Extractor).Extract"},
		{"stamping / JSON encode", "fhir.Stamp"},
		{"reference checks", "interaction.(*Service).verifyReferences"},
		{"SQL: creates (store's group committer)", "store.(*grouper).commit"},
		{"SQL: other single writes (prepared)", "database/sql.(*Stmt).QueryRowContext"},
		{"SQL: transaction creates (prepared)", "database/sql.(*Stmt).ExecContext"},
		{"SQL: reference checks", "store.(*postgres).liveMany"},
		{"commit", "database/sql.(*Tx).Commit"},
		{"HTTP serving (total)", "net/http.(*conn).serve"},
		{"garbage collection", "runtime.gcBgMarkWorker"},
	}
	var total string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "Duration:") {
			total = strings.TrimSpace(line)
		}
	}
	fmt.Println("  " + total)
	for _, a := range areas {
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasSuffix(strings.TrimSpace(line), a.fn) || strings.Contains(line, " "+a.fn) {
				f := strings.Fields(line)
				if len(f) >= 5 {
					fmt.Printf("  %-40s %8s cum (%s)\n", a.name, f[3], f[4])
				}
				break
			}
		}
	}
}

func createDB(name string) string {
	u, err := benchdb.Fresh(*adminURL, name)
	check(err)
	return u
}

func run(name string, args ...string) {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	check(cmd.Run())
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
