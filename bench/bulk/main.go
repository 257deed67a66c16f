// Command bulk is the Bulk Data $export benchmark (issue 7). On a
// PostgreSQL database holding 100,000 Patients and 1,000,000
// Immunizations (loaded, when empty, by the search benchmark's loader:
// `go run ./bench/search -load-only`), it measures, in one run:
//
//   - the baseline: psql's \copy of the same rows' content to /dev/null;
//
//   - the time from kick-off to the complete manifest of the real server's
//     $export, in resources per second;
//
//   - the download of every file, in MB/s, plain and gzip;
//
//   - the server's peak resident memory.
//
//     go run ./bench/bulk                        # load if empty, then measure
//     go run ./bench/bulk -patients 1000 -reset  # a small trial
//
// It is a program, not a test: the figures depend on the machine.
package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"time"

	_ "github.com/lib/pq"

	"github.com/immunis/immunis/bench/internal/benchserver"
)

type config struct {
	dbURL         string
	reset         bool
	patients, per int
	bin           string
	fileResources int
	gzip          bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var c config
	flag.StringVar(&c.dbURL, "db", envOr("IMMUNIS_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/immunis_bench_bulk?sslmode=disable"), "PostgreSQL URL of the benchmark database (its own: loading is slow, and other benchmarks reset theirs)")
	flag.BoolVar(&c.reset, "reset", false, "drop and reload the benchmark database first")
	flag.IntVar(&c.patients, "patients", 100000, "Patients to load when the database is empty")
	flag.IntVar(&c.per, "per", 10, "Immunizations per Patient")
	flag.StringVar(&c.bin, "bin", "", "immunis binary (default: go build ./cmd/immunis)")
	flag.IntVar(&c.fileResources, "file-resources", 100000, "resources per file (--bulk-file-resources)")
	flag.BoolVar(&c.gzip, "gzip", true, "also download every file gzip-encoded")
	flag.Parse()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "bench/bulk:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config) error {
	if err := ensureLoaded(ctx, c); err != nil {
		return err
	}
	db, err := sql.Open("postgres", c.dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	var rows int64
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM resource WHERE NOT deleted`).Scan(&rows); err != nil {
		return err
	}
	logf("database: %d live resources", rows)

	// The baseline, twice: the first run warms the cache for both.
	const copySQL = `\copy (SELECT content FROM resource WHERE NOT deleted ORDER BY type, rid) to '/dev/null'`
	var base time.Duration
	for i := 0; i < 2; i++ {
		t0 := time.Now()
		out, err := exec.CommandContext(ctx, "psql", "-X", "-q", c.dbURL, "-c", copySQL).CombinedOutput()
		if err != nil {
			return fmt.Errorf("psql \\copy: %v\n%s", err, out)
		}
		base = time.Since(t0)
	}
	logf("baseline psql \\copy of the same rows: %s", base.Round(time.Millisecond))

	srv, err := startServer(ctx, c)
	if err != nil {
		return err
	}
	defer srv.Stop()

	// Kick-off → complete manifest.
	t0 := time.Now()
	status, err := kickOff(ctx, srv.Base+"/$export")
	if err != nil {
		return err
	}
	m, polls, err := waitManifest(ctx, status)
	if err != nil {
		return err
	}
	export := time.Since(t0)
	var total int64
	for _, it := range m.Output {
		total += it.Count
	}
	if total != rows {
		return fmt.Errorf("the manifest counts %d resources, the database holds %d", total, rows)
	}
	_, peakExport, _ := srv.Memory()

	// Download every file, one after the other, as one client would.
	plain, err := downloadAll(ctx, m, false)
	if err != nil {
		return err
	}
	var zipped result
	if c.gzip {
		if zipped, err = downloadAll(ctx, m, true); err != nil {
			return err
		}
	}
	rss, peak, _ := srv.Memory()

	mb := func(b int64) float64 { return float64(b) / 1e6 }
	fmt.Printf("\n$export of %d resources (%d files of up to %d), PostgreSQL, 2 cores\n", total, len(m.Output), c.fileResources)
	fmt.Printf("  %-44s %10s %14s\n", "", "time", "rate")
	fmt.Printf("  %-44s %10s %14s\n", "psql \\copy content to /dev/null (baseline)", base.Round(time.Millisecond), fmt.Sprintf("%.0f res/s", float64(rows)/base.Seconds()))
	fmt.Printf("  %-44s %10s %14s   (%d polls)\n", "kick-off → complete manifest", export.Round(time.Millisecond), fmt.Sprintf("%.0f res/s", float64(total)/export.Seconds()), polls)
	fmt.Printf("  %-44s %10s %14s   %.0f MB, %.2f× the baseline's time\n", "download all files (NDJSON)", plain.time.Round(time.Millisecond),
		fmt.Sprintf("%.1f MB/s", mb(plain.bytes)/plain.time.Seconds()), mb(plain.bytes), plain.time.Seconds()/base.Seconds())
	if c.gzip {
		fmt.Printf("  %-44s %10s %14s   %.0f MB on the wire\n", "download all files (gzip)", zipped.time.Round(time.Millisecond),
			fmt.Sprintf("%.1f MB/s", mb(zipped.bytes)/zipped.time.Seconds()), mb(zipped.wire))
	}
	all := export + plain.time
	fmt.Printf("  %-44s %10s %14s   %.2f× the baseline's time\n", "kick-off → every file downloaded", all.Round(time.Millisecond),
		fmt.Sprintf("%.0f res/s", float64(total)/all.Seconds()), all.Seconds()/base.Seconds())
	fmt.Printf("  server memory: peak RSS %.0f MB (%.0f MB at the manifest), RSS now %.0f MB\n", mb(peak), mb(peakExport), mb(rss))
	return nil
}

// ensureLoaded loads the database with the search benchmark's loader when
// it holds no resources (or on -reset).
func ensureLoaded(ctx context.Context, c config) error {
	args := []string{"run", "./bench/search", "-db", c.dbURL, "-load-only", "-patients", strconv.Itoa(c.patients), "-per", strconv.Itoa(c.per)}
	if !c.reset {
		db, err := sql.Open("postgres", c.dbURL)
		if err == nil {
			var n int64
			err = db.QueryRowContext(ctx, `SELECT count(*) FROM resource`).Scan(&n)
			db.Close()
			if err == nil && n > 0 {
				return nil
			}
		}
	} else {
		args = append(args, "-reset")
	}
	logf("loading %d Patients × %d Immunizations with bench/search…", c.patients, c.per)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go run ./bench/search -load-only (run from the repository root): %w", err)
	}
	return nil
}

type manifest struct {
	Output []struct {
		URL   string `json:"url"`
		Count int64  `json:"count"`
	} `json:"output"`
}

func kickOff(ctx context.Context, u string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	req.Header.Set("Prefer", "respond-async")
	req.Header.Set("Accept", "application/fhir+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 202 {
		return "", fmt.Errorf("kick-off: %d %s", resp.StatusCode, body)
	}
	return resp.Header.Get("Content-Location"), nil
}

// waitManifest polls every 50 ms (not by Retry-After: the benchmark
// wants the moment the export completes).
func waitManifest(ctx context.Context, status string) (*manifest, int, error) {
	for polls := 1; ; polls++ {
		req, _ := http.NewRequestWithContext(ctx, "GET", status, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, polls, err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case 200:
			var m manifest
			return &m, polls, json.Unmarshal(body, &m)
		case 202:
		default:
			return nil, polls, fmt.Errorf("status: %d %s", resp.StatusCode, body)
		}
		select {
		case <-ctx.Done():
			return nil, polls, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

type result struct {
	time        time.Duration
	bytes, wire int64
	lines       int64
}

// downloadAll reads every file to the end, counting bytes and lines.
func downloadAll(ctx context.Context, m *manifest, gz bool) (result, error) {
	var r result
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	t0 := time.Now()
	for _, it := range m.Output {
		req, _ := http.NewRequestWithContext(ctx, "GET", it.URL, nil)
		if gz {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		resp, err := client.Do(req)
		if err != nil {
			return r, err
		}
		wire := &countReader{r: resp.Body}
		var body io.Reader = wire
		if gz {
			zr, err := gzip.NewReader(wire)
			if err != nil {
				resp.Body.Close()
				return r, err
			}
			body = zr
		}
		br := bufio.NewReaderSize(body, 1<<20)
		var lines int64
		n, err := io.Copy(io.Discard, &lineCounter{r: br, n: &lines})
		resp.Body.Close()
		if err != nil {
			return r, fmt.Errorf("%s: %w", it.URL, err)
		}
		if resp.StatusCode != 200 || lines != it.Count {
			return r, fmt.Errorf("%s: status %d, %d lines, manifest count %d", it.URL, resp.StatusCode, lines, it.Count)
		}
		r.bytes += n
		r.wire += wire.n
		r.lines += lines
	}
	r.time = time.Since(t0)
	return r, nil
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type lineCounter struct {
	r io.Reader
	n *int64
}

func (l *lineCounter) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for _, b := range p[:n] {
		if b == '\n' {
			*l.n++
		}
	}
	return n, err
}

func startServer(ctx context.Context, c config) (*benchserver.Server, error) {
	logf("building and starting the server…")
	return benchserver.Start(ctx, c.bin, "--database-url", c.dbURL,
		"--log-level", "warn", "--data-dir", os.TempDir(), "--bulk-file-resources", strconv.Itoa(c.fileResources))
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}
