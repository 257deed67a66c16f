// Command load measures issue 4's data-in path on PostgreSQL: the time of
// `immunis synth --patients N`, then `immunis load` of its NDJSON (every
// resource validated and indexed, as through the API) next to a baseline
// measured in the same run — a plain COPY of the same resource rows into an
// unindexed table — with the peak RSS of each process.
//
//	go run ./bench/load [-patients 100000]
package main

import (
	"bufio"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lib/pq"

	"github.com/immunis/immunis/bench/internal/benchdb"
)

var (
	adminURL = flag.String("admin-url", benchdb.AdminURL(), "PostgreSQL maintenance database URL")
	patients = flag.Int("patients", 100000, "synthetic patients")
	keep     = flag.String("keep", "", "keep the synthetic NDJSON in this directory")
	bundle   = flag.Bool("bundle", false, "also load the same resources as one collection Bundle file (flat memory with one huge file)")
)

func main() {
	flag.Parse()
	log.SetFlags(0)
	dir, err := os.MkdirTemp("", "immunis-bench-load")
	check(err)
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "immunis")
	run(exec.Command("go", "build", "-o", bin, "./cmd/immunis"))

	out := filepath.Join(dir, "synth")
	if *keep != "" {
		out = *keep
	}
	synth := exec.Command(bin, "synth", "--patients", strconv.Itoa(*patients), "--seed", "1", "--out", out)
	synthWall, synthRSS, _, _ := measure(synth)
	n, bytes := countResources(out)
	fmt.Printf("synth --patients %d: %s wall, %d resources (%.1f MB NDJSON), peak RSS %s\n",
		*patients, synthWall.Round(time.Millisecond), n, float64(bytes)/1e6, mb(synthRSS))

	dbURL := createDB("bench_load")
	load := exec.Command(bin, "load", "--database-url", dbURL, "--log-level", "warn", out)
	pgBefore, pgOK := benchdb.ServerCPU(*adminURL)
	loadWall, loadRSS, loadOut, loadCPU := measure(load)
	fmt.Printf("load into PostgreSQL: %s wall, %.0f resources/s, peak RSS %s\n  %s",
		loadWall.Round(time.Millisecond), float64(n)/loadWall.Seconds(), mb(loadRSS), loadOut)
	if pgAfter, ok := benchdb.ServerCPU(*adminURL); ok && pgOK {
		reportCPU(n, loadWall, loadCPU, pgAfter-pgBefore)
	}

	check(benchdb.Drop(*adminURL, "bench_load")) // gigabytes: not left behind

	if *bundle {
		file := filepath.Join(dir, "bundle.json")
		size := writeBundle(out, file)
		dbURL := createDB("bench_load_bundle")
		wall, rss, lout, _ := measure(exec.Command(bin, "load", "--database-url", dbURL, "--log-level", "warn", file))
		fmt.Printf("load of the same as one collection Bundle (%.1f MB): %s wall, %.0f resources/s, peak RSS %s\n  %s",
			float64(size)/1e6, wall.Round(time.Millisecond), float64(n)/wall.Seconds(), mb(rss), lout)
		check(benchdb.Drop(*adminURL, "bench_load_bundle"))
		check(os.Remove(file))
	}

	copyURL := createDB("bench_load_copy")
	copyWall := copyBaseline(copyURL, out)
	fmt.Printf("baseline COPY of the same rows (unindexed table): %s wall, %.0f resources/s\n",
		copyWall.Round(time.Millisecond), float64(n)/copyWall.Seconds())
	check(benchdb.Drop(*adminURL, "bench_load_copy"))
	fmt.Printf("\nratio load/COPY: %.2fx   (targets: synth ≤ 30 s for 100,000 patients; load ≥ 5,000 resources/s)\n",
		loadWall.Seconds()/copyWall.Seconds())
}

// reportCPU prints where the load's CPU went, per resource: the figures
// that do not depend on how fast the machine is today (the wall-clock rate
// does; a 2-core VM here has varied by a factor of 1.5 between sessions).
func reportCPU(n int, wall, loader, server time.Duration) {
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(n) }
	busy := (loader + server).Seconds() / (wall.Seconds() * float64(runtime.NumCPU()))
	fmt.Printf("  CPU per resource: loader %.3f ms, PostgreSQL %.3f ms; %d cores %.0f%% busy\n",
		per(loader), per(server), runtime.NumCPU(), 100*busy)
}

// measure runs cmd and returns its wall time, peak RSS, stdout and CPU
// time (user and system).
func measure(cmd *exec.Cmd) (time.Duration, int64, string, time.Duration) {
	var stdout strings.Builder
	cmd.Stdout = &stdout
	cmd.Stderr = os.Stderr
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		log.Fatalf("%v: %v\n%s", cmd.Args, err, stdout.String())
	}
	wall := time.Since(t0)
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss * 1024 // kilobytes on Linux
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return wall, rss, stdout.String(), cpu
}

func mb(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/1e6) }

var ndjsonRE = regexp.MustCompile(`^[A-Z][A-Za-z]+\.ndjson$`)

func inputs(dir string) []string {
	entries, err := os.ReadDir(dir)
	check(err)
	var out []string
	for _, e := range entries {
		if ndjsonRE.MatchString(e.Name()) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

func countResources(dir string) (int, int64) {
	n, size := 0, int64(0)
	for _, f := range inputs(dir) {
		st, err := os.Stat(f)
		check(err)
		size += st.Size()
		file, err := os.Open(f)
		check(err)
		sc := bufio.NewScanner(file)
		sc.Buffer(make([]byte, 1<<20), 1<<26)
		for sc.Scan() {
			if len(sc.Bytes()) > 0 {
				n++
			}
		}
		file.Close()
	}
	return n, size
}

// writeBundle writes every resource of dir's NDJSON into one collection
// Bundle file, in the loader's order of types, and returns its size.
func writeBundle(dir, file string) int64 {
	f, err := os.Create(file)
	check(err)
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString(`{"resourceType":"Bundle","type":"collection","entry":[`)
	first := true
	for _, typ := range []string{"Organization", "Practitioner", "Patient", "Immunization"} {
		in, err := os.Open(filepath.Join(dir, typ+".ndjson"))
		check(err)
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 1<<20), 1<<26)
		for sc.Scan() {
			if len(sc.Bytes()) == 0 {
				continue
			}
			if !first {
				w.WriteByte(',')
			}
			first = false
			w.WriteString(`{"resource":`)
			w.Write(sc.Bytes())
			w.WriteByte('}')
		}
		check(sc.Err())
		in.Close()
	}
	w.WriteString("]}")
	check(w.Flush())
	st, err := f.Stat()
	check(err)
	check(f.Close())
	return st.Size()
}

// copyBaseline COPYs (type, id, content) of every resource into an
// unindexed jsonb table: the floor any loader sits on.
func copyBaseline(url, dir string) time.Duration {
	db, err := sql.Open("postgres", url)
	check(err)
	defer db.Close()
	_, err = db.Exec(`CREATE TABLE copy_baseline (type text, id text, content jsonb)`)
	check(err)
	t0 := time.Now()
	tx, err := db.Begin()
	check(err)
	st, err := tx.Prepare(pq.CopyIn("copy_baseline", "type", "id", "content"))
	check(err)
	for _, f := range inputs(dir) {
		file, err := os.Open(f)
		check(err)
		sc := bufio.NewScanner(file)
		sc.Buffer(make([]byte, 1<<20), 1<<26)
		for sc.Scan() {
			var head struct {
				ResourceType string `json:"resourceType"`
				ID           string `json:"id"`
			}
			check(json.Unmarshal(sc.Bytes(), &head))
			_, err := st.Exec(head.ResourceType, head.ID, sc.Text())
			check(err)
		}
		file.Close()
	}
	_, err = st.Exec()
	check(err)
	check(st.Close())
	check(tx.Commit())
	return time.Since(t0)
}

func createDB(name string) string {
	u, err := benchdb.Fresh(*adminURL, name)
	check(err)
	return u
}

func run(cmd *exec.Cmd) {
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	check(cmd.Run())
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
