// Package synthcli is the `immunis synth` command: flags in, a synthetic jurisdiction out
// (NDJSON files per resource type plus truth.ndjson and manifest.json), or streamed into the
// store through a Loader that cmd/immunis supplies.
//
// Only cmd/immunis imports it. It imports synth and nothing else from the project.
package synthcli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/immunis/immunis/synth"
)

// Loader consumes a generator's stream (Generator.Each) and writes it somewhere, e.g. the
// configured store. cmd/immunis supplies one for --load.
type Loader func(ctx context.Context, g *synth.Generator, stdout, stderr io.Writer) error

// Command runs `immunis synth`. The zero value writes files and refuses --load.
type Command struct {
	// Load, when set, makes --load available.
	Load Loader
	// Now is the clock for the elapsed-time report only; nil means time.Now. Output never
	// depends on it.
	Now func() time.Time
}

// Run runs `immunis synth` with no loader wired.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return Command{}.Run(args, stdin, stdout, stderr)
}

const usage = `usage: immunis synth [flags]

Writes a deterministic synthetic immunization jurisdiction: Organizations, Practitioners,
Patients and Immunizations as NDJSON (one file per type, like a Bulk Data export), the truth
about its messiness in truth.ndjson, and manifest.json with counts and achieved coverage.
The same flags always give byte-identical files.

flags:
`

type options struct {
	cfg     synth.Config
	out     string
	gzip    bool
	load    bool
	outSet  bool
	zipList string
}

func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{cfg: synth.DefaultConfig()}
	fs := flag.NewFlagSet("synth", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	asOf := dateFlag{&o.cfg.AsOf}
	since := dateFlag{&o.cfg.RecordsSince}
	fs.Uint64Var(&o.cfg.Seed, "seed", o.cfg.Seed, "random seed; ids are prefixed with s<seed in base 36>")
	fs.IntVar(&o.cfg.Patients, "patients", o.cfg.Patients, "number of people (duplicate records come on top)")
	fs.StringVar(&o.zipList, "zip", "", "comma-separated ZIP codes people live in (default: 15 Minnesota ZIP codes)")
	fs.StringVar(&o.out, "out", "synth-out", "output directory")
	fs.BoolVar(&o.gzip, "gzip", false, "gzip the NDJSON files (.ndjson.gz)")
	fs.Var(asOf, "as-of", "the population's today, YYYY-MM-DD")
	fs.Var(since, "records-since", "first day the IIS recorded doses, YYYY-MM-DD")
	fs.Float64Var(&o.cfg.DuplicatePatientRate, "dup-patients", o.cfg.DuplicatePatientRate, "share of people with a second patient record")
	fs.Float64Var(&o.cfg.DuplicateDoseRate, "dup-doses", o.cfg.DuplicateDoseRate, "share of doses reported twice")
	fs.IntVar(&o.cfg.Workers, "workers", 0, "generator goroutines (0: all cores); output does not depend on it")
	fs.BoolVar(&o.load, "load", false, "load into the configured store instead of writing files")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) { o.outSet = o.outSet || f.Name == "out" })
	for _, z := range strings.Split(o.zipList, ",") {
		if z = strings.TrimSpace(z); z != "" {
			o.cfg.ZIPs = append(o.cfg.ZIPs, z)
		}
	}
	if o.load && o.outSet {
		return nil, errors.New("--load and --out are exclusive")
	}
	return o, nil
}

type dateFlag struct{ d *synth.Date }

func (f dateFlag) String() string {
	if f.d == nil {
		return ""
	}
	return f.d.String()
}

func (f dateFlag) Set(s string) error {
	d, err := synth.ParseDate(s)
	if err != nil {
		return err
	}
	*f.d = d
	return nil
}

// Run parses args and generates; it returns the process exit status (2 for usage errors).
func (c Command) Run(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	o, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "synth:", err)
		return 2
	}
	g, err := synth.New(o.cfg)
	if err != nil {
		fmt.Fprintln(stderr, "synth:", err)
		return 2
	}
	if o.load && c.Load == nil {
		fmt.Fprintln(stderr, "synth: --load is not available: no loader is wired into this build")
		return 2
	}
	now := c.Now
	if now == nil {
		now = time.Now
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := now()
	if o.load {
		if err := c.Load(ctx, g, stdout, stderr); err != nil {
			fmt.Fprintln(stderr, "synth: load:", err)
			return 1
		}
		return 0
	}
	m, err := g.WriteDir(ctx, o.out, o.gzip)
	if err != nil {
		fmt.Fprintln(stderr, "synth:", err)
		return 1
	}
	report(stdout, o.out, m, now().Sub(start))
	return 0
}

func report(w io.Writer, dir string, m *synth.Manifest, took time.Duration) {
	s := m.Summary
	fmt.Fprintf(w, "synth: seed %d, %d people as of %s -> %s\n", m.Seed, m.Patients, m.AsOf, dir)
	for _, f := range m.Output {
		fmt.Fprintf(w, "  %-14s %10d  %s\n", f.Type, f.Count, f.URL)
	}
	fmt.Fprintf(w, "  %-14s %10d  %s (duplicate patients %d, duplicate doses %d, invalid doses %d)\n",
		"truth", m.Truth.Count, m.Truth.URL, s.DuplicatePatients, s.DuplicateDoses, s.InvalidDoses)
	secs := took.Seconds()
	if secs > 0 {
		fmt.Fprintf(w, "  %d resources in %.1fs (%.0f resources/s, %.0f patients/s)\n",
			s.Total(), secs, float64(s.Total())/secs, float64(m.Patients)/secs)
	}
}
