package synth

import (
	"fmt"
	"runtime"
	"strconv"
)

// Config says what to generate. The zero value is not useful; start from DefaultConfig.
type Config struct {
	Seed     uint64
	Patients int
	// ZIPs are the postal codes people and providers live in; empty means the embedded default
	// jurisdiction (data/zips.tsv).
	ZIPs []string
	// AsOf is "today" for the population: nobody is born and nothing is given after it.
	AsOf Date
	// RecordsSince is when the IIS started recording: earlier doses happened but are not output.
	RecordsSince Date
	// FluSince is the start of the first influenza season simulated.
	FluSince Date
	// Workers is the number of goroutines building patients; 0 means GOMAXPROCS.
	// Output does not depend on it.
	Workers int
	// DuplicatePatientRate is the share of patients who also get a second record from another
	// source; DuplicateDoseRate the share of doses reported a second time.
	DuplicatePatientRate, DuplicateDoseRate float64
	// Schedule decides when doses fall due; nil means the built-in TableSchedule.
	Schedule Forecaster
}

// DefaultConfig returns the defaults: seed 1, 1,000 patients, the default ZIP codes, as of
// 2026-07-01, records since 2000, influenza from the 2015–16 season, 3% duplicate patients and
// 2% duplicate doses.
func DefaultConfig() Config {
	return Config{
		Seed:                 1,
		Patients:             1000,
		AsOf:                 MakeDate(2026, 7, 1), // fixed, so output is reproducible
		RecordsSince:         MakeDate(2000, 1, 1),
		FluSince:             MakeDate(2015, 8, 1),
		DuplicatePatientRate: 0.03,
		DuplicateDoseRate:    0.02,
	}
}

func (c *Config) validate(t *tables) error {
	if c.Patients < 0 {
		return fmt.Errorf("patients: %d is negative", c.Patients)
	}
	if c.AsOf < MakeDate(1990, 1, 1) || c.AsOf > MakeDate(2100, 1, 1) {
		return fmt.Errorf("as-of: %s is outside 1990–2100", c.AsOf)
	}
	if c.RecordsSince > c.AsOf {
		return fmt.Errorf("records-since %s is after as-of %s", c.RecordsSince, c.AsOf)
	}
	for _, r := range []float64{c.DuplicatePatientRate, c.DuplicateDoseRate} {
		if r < 0 || r > 1 {
			return fmt.Errorf("duplicate rate %v: want 0–1", r)
		}
	}
	for _, z := range c.ZIPs {
		if _, err := strconv.Atoi(z); err != nil || len(z) != 5 {
			return fmt.Errorf("zip %q: want five digits", z)
		}
		if t.stateOf(z) == "" {
			return fmt.Errorf("zip %q: no U.S. state has this prefix", z)
		}
	}
	return nil
}

func (c *Config) workers() int {
	if c.Workers > 0 {
		return c.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// namespace is the id prefix for this seed, so different seeds can share a server.
func (c *Config) namespace() string { return "s" + strconv.FormatUint(c.Seed, 36) }
