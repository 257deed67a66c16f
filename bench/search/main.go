// Command search is the FHIR search benchmark (issue 3): it loads 100,000
// Patients with 1,000,000 Immunizations into PostgreSQL through the
// store's write path, starts the real server on that database, and
// measures the five benchmark searches at 8 concurrent clients over HTTP,
// each next to the SQL the compiler makes and to hand-written SQL over the
// same index tables, run in the same process on the same parameters. It
// then pages through every Immunization and reports the server's peak
// RSS, and prints the plans of the benchmark statements.
//
//	go run ./bench/search                      # load if empty, then measure
//	go run ./bench/search -reset -patients 1000 # a small trial
//
// It is a program, not a test: the figures depend on the machine.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"time"

	_ "github.com/lib/pq"

	"github.com/immunis/immunis/search"
	"github.com/immunis/immunis/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "bench/search:", err)
		os.Exit(1)
	}
}

type config struct {
	dbURL             string
	reset             bool
	patients, per     int
	workers, batch    int
	clients, requests int
	bin               string
	paging, explain   bool
	onlyLoad          bool
	seed              uint64
	pageSize          int
	warmup            int
	queryFilter       string
	via               string
}

func run(ctx context.Context) error {
	var c config
	flag.StringVar(&c.dbURL, "db", envOr("IMMUNIS_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/immunis_bench?sslmode=disable"), "PostgreSQL URL of the benchmark database (created if missing)")
	flag.BoolVar(&c.reset, "reset", false, "drop and recreate the benchmark database first")
	flag.IntVar(&c.patients, "patients", 100000, "Patients to load")
	flag.IntVar(&c.per, "per", 10, "Immunizations per Patient")
	flag.IntVar(&c.workers, "workers", 2, "loading connections")
	flag.IntVar(&c.batch, "batch", 500, "Patients per load transaction")
	flag.StringVar(&c.via, "via", "copy", "how to load: put (store.Tx.Put, the server's write path) or copy (COPY of the same rows)")
	flag.IntVar(&c.clients, "clients", 8, "concurrent clients")
	flag.IntVar(&c.requests, "requests", 2000, "requests per query and method (spread over the clients)")
	flag.IntVar(&c.warmup, "warmup", 200, "requests per query and method before measuring")
	flag.StringVar(&c.bin, "bin", "", "immunis binary (default: go build ./cmd/immunis)")
	flag.BoolVar(&c.paging, "paging", true, "page through all Immunizations and report the server's RSS")
	flag.IntVar(&c.pageSize, "page-size", 1000, "_count while paging through everything")
	flag.BoolVar(&c.explain, "explain", true, "print the plans of the benchmark statements")
	flag.BoolVar(&c.onlyLoad, "load-only", false, "load and exit")
	flag.StringVar(&c.queryFilter, "only", "", "run only the queries whose name contains this")
	flag.Parse()

	if err := ensureDatabase(ctx, c.dbURL, c.reset); err != nil {
		return err
	}
	db, err := store.OpenPostgres(ctx, c.dbURL, 16)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	reg, err := search.NewRegistry(strings.Split(defaultTypes, ","))
	if err != nil {
		return err
	}
	raw, err := sql.Open("postgres", c.dbURL)
	if err != nil {
		return err
	}
	defer raw.Close()
	raw.SetMaxOpenConns(c.clients + 2)
	raw.SetMaxIdleConns(c.clients + 2)

	var have int64
	if err := raw.QueryRowContext(ctx, `SELECT count(*) FROM resource`).Scan(&have); err != nil {
		return err
	}
	if have == 0 {
		logf("loading %d Patients with %d Immunizations each (via %s, %d connections)…", c.patients, c.per, c.via, c.workers)
		t0 := time.Now()
		x := &search.Extractor{Registry: reg, Location: time.UTC, BaseURL: "http://127.0.0.1/fhir"}
		switch c.via {
		case "put":
			err = load(ctx, db, x, c.patients, c.per, c.workers, c.batch, logf)
		case "copy":
			err = copyLoad(ctx, raw, x, c.patients, c.per, c.workers, c.batch, logf)
		default:
			err = fmt.Errorf("-via must be put or copy")
		}
		if err != nil {
			return err
		}
		n := c.patients * (1 + c.per)
		logf("loaded %d resources in %s (%.0f/s)", n, time.Since(t0).Round(time.Second), float64(n)/time.Since(t0).Seconds())
		if err := recordIndexVersion(ctx, raw, reg.IndexVersion()); err != nil {
			return err
		}
	} else {
		logf("database holds %d resources; not loading (use -reset to reload)", have)
	}
	logf("VACUUM ANALYZE…")
	if _, err := raw.ExecContext(ctx, `VACUUM ANALYZE`); err != nil {
		return err
	}
	if c.onlyLoad {
		return nil
	}
	if err := c.countPatients(ctx, raw); err != nil {
		return err
	}
	srv, err := startServer(ctx, c.bin, c.dbURL)
	if err != nil {
		return err
	}
	defer srv.Stop()
	comp := &search.Compiler{Dialect: search.Postgres, BaseURL: srv.Base, Location: time.UTC}
	b := &bench{cfg: c, reg: reg, comp: comp, db: raw, srv: srv}
	if err := b.prepare(ctx); err != nil {
		return err
	}
	if err := b.measureAll(ctx); err != nil {
		return err
	}
	if c.explain {
		if err := b.explainAll(ctx); err != nil {
			return err
		}
	}
	if c.paging {
		if err := b.pageAll(ctx); err != nil {
			return err
		}
	}
	return nil
}

// defaultTypes are the server's default types (cmd/immunis DefaultTypes).
const defaultTypes = "Patient,Immunization,ImmunizationRecommendation,ImmunizationEvaluation,Organization,Practitioner,Location,RelatedPerson,Group,Provenance"

// countPatients reads how many patients the database holds, so the
// parameter samples stay in range after a partial load.
func (c *config) countPatients(ctx context.Context, db *sql.DB) error {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM resource WHERE type = 'Patient'`).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("no Patients loaded")
	}
	c.patients = n
	return nil
}

// ensureDatabase creates the benchmark database if it is missing.
func ensureDatabase(ctx context.Context, dbURL string, reset bool) error {
	u, err := url.Parse(dbURL)
	if err != nil {
		return err
	}
	name := strings.TrimPrefix(u.Path, "/")
	admin := *u
	admin.Path = "/postgres"
	db, err := sql.Open("postgres", admin.String())
	if err != nil {
		return err
	}
	defer db.Close()
	if reset {
		if _, err := db.ExecContext(ctx, `DROP DATABASE IF EXISTS `+quoteIdent(name)+` WITH (FORCE)`); err != nil {
			return fmt.Errorf("drop %s: %w", name, err)
		}
	}
	var exists bool
	if err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("reach PostgreSQL: %w", err)
	}
	if !exists {
		if _, err := db.ExecContext(ctx, `CREATE DATABASE `+quoteIdent(name)); err != nil {
			return fmt.Errorf("create %s: %w", name, err)
		}
	}
	return nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// recordIndexVersion notes the index version the load wrote, as
// `immunis reindex` does.
func recordIndexVersion(ctx context.Context, db *sql.DB, v string) error {
	_, err := db.ExecContext(ctx, `INSERT INTO setting (key, value) VALUES ('index_version', $1)
		ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, v)
	return err
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}
