// Command immunis is the Immunis immunization information system: a FHIR R4
// server (`immunis serve`) and its tools (migrate, reindex, load, synth,
// forecast, token, client). Configuration comes from flags and their
// IMMUNIS_* environment twins; everything is wired here by struct fields.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/forecast"
	"github.com/immunis/immunis/interaction"
	"github.com/immunis/immunis/profiles"
	"github.com/immunis/immunis/search"
	"github.com/immunis/immunis/store"
)

// version is set at build time (-ldflags "-X main.version=…").
var version = "0.1.0-dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// IMMUNIS_CPUPROFILE=file writes a CPU profile of the whole run (for
	// the benchmarks' "where does the time go").
	if path := os.Getenv("IMMUNIS_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
			pprof.StopCPUProfile()
			f.Close()
			os.Exit(code)
		}
	}
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// command is one subcommand.
type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"serve", "run the FHIR server", serveCmd},
		{"migrate", "apply database migrations and exit", migrateCmd},
		{"reindex", "rebuild the search index rows from stored resources", reindexCmd},
		{"load", "load FHIR Bundles and NDJSON into the database", loadCmd},
		{"synth", "generate a synthetic jurisdiction (NDJSON, or --load it)", synthCmd},
		{"forecast", "evaluate and forecast immunizations with the CDC CDSi engine", forecastCmd},
		{"token", "print an access token for a server running with --auth dev", tokenCmd},
		{"client", "register SMART Backend Services clients (add, list, remove, disable, enable)", clientCmd},
		{"version", "print the version", func(_ context.Context, _ []string, _ io.Reader, stdout, _ io.Writer) int {
			fmt.Fprintln(stdout, "immunis", version)
			return 0
		}},
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdin, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "immunis: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: immunis <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'immunis <command> --help' for the flags of a command.")
}

func newLogger(c *Config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openStore opens PostgreSQL when a URL is configured, else the embedded
// database under the data directory, and migrates it.
func openStore(ctx context.Context, c *Config, log *slog.Logger) (*store.DB, error) {
	var (
		db  *store.DB
		err error
	)
	if c.DatabaseURL != "" {
		db, err = store.OpenPostgres(ctx, c.DatabaseURL, c.DBMaxConns)
	} else {
		db, err = store.OpenSQLite(ctx, filepath.Join(c.DataDir, "immunis.db"))
	}
	if err != nil {
		return nil, err
	}
	db.Log = log
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// newService wires the interaction service over a store.
func newService(c *Config, db store.Store, baseURL string) (*interaction.Service, error) {
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("timezone %q: %w", c.TimeZone, err)
	}
	var types []string
	for _, t := range strings.Split(c.Types, ",") {
		if t = strings.TrimSpace(t); t != "" {
			if !fhir.IsTypeName(t) {
				return nil, fmt.Errorf("types: %q is not a resource type name", t)
			}
			types = append(types, t)
		}
	}
	reg, err := search.NewRegistry(types)
	if err != nil {
		return nil, err
	}
	val, err := fhir.NewValidator()
	if err != nil {
		return nil, err
	}
	rules, err := profiles.Load()
	if err != nil {
		return nil, err
	}
	eng, err := forecast.Default()
	if err != nil {
		return nil, err
	}
	return &interaction.Service{
		Store:     db,
		Validator: val,
		Rules:     rules,
		Registry:  reg,
		Extractor: &search.Extractor{Registry: reg, Location: loc, BaseURL: baseURL},
		Compiler:  &search.Compiler{Dialect: db.Dialect(), BaseURL: baseURL, Location: loc},
		BaseURL:   baseURL,
		Now:       time.Now,
		// The CDSi engine is built once here rather than on the first
		// $immds-forecast: its data takes tens of milliseconds to parse.
		Forecaster: eng,
	}, nil
}

func migrateCmd(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	var c Config
	s := newSettings("migrate", stderr)
	registerCommon(s, &c)
	if err := s.parse(args); err != nil {
		if errors.Is(err, flagHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "immunis migrate:", err)
		return 2
	}
	log := newLogger(&c, stderr)
	db, err := openStore(ctx, &c, log)
	if err != nil {
		fmt.Fprintln(stderr, "immunis migrate:", err)
		return 1
	}
	defer db.Close()
	fmt.Fprintln(stdout, "migrations applied")
	return 0
}
