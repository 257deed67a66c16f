package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is every setting of the server; each flag has an IMMUNIS_* twin in
// the environment (the flag wins).
type Config struct {
	Addr         string
	DatabaseURL  string
	DataDir      string
	BaseURL      string
	Auth         string
	OIDCIssuer   string
	OIDCAudience string
	MaxBody      int64
	DBMaxConns   int
	LogLevel     string
	LogFormat    string
	TimeZone     string
	Types        string
	Timeout      time.Duration
	// AuthSettings are the SMART claim and capability settings (authwire.go).
	AuthSettings authSettings
	// Bulk are the $export settings (bulkwire.go).
	Bulk bulkSettings
}

// DefaultTypes is the supported resource set (configuration, not code: the
// engine below is type-agnostic).
const DefaultTypes = "Patient,Immunization,ImmunizationRecommendation,ImmunizationEvaluation,Organization,Practitioner,Location,RelatedPerson,Group,Provenance"

// setting registers one flag with its environment twin.
type settings struct {
	fs   *flag.FlagSet
	errs []string
}

func envName(flagName string) string {
	return "IMMUNIS_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (s *settings) str(p *string, name, def, usage string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		def = v
	}
	s.fs.StringVar(p, name, def, usage+" (env "+envName(name)+")")
}

func (s *settings) int64(p *int64, name string, def int64, usage string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			s.errs = append(s.errs, fmt.Sprintf("%s=%q: not an integer", envName(name), v))
		} else {
			def = n
		}
	}
	s.fs.Int64Var(p, name, def, usage+" (env "+envName(name)+")")
}

func (s *settings) int(p *int, name string, def int, usage string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			s.errs = append(s.errs, fmt.Sprintf("%s=%q: not an integer", envName(name), v))
		} else {
			def = n
		}
	}
	s.fs.IntVar(p, name, def, usage+" (env "+envName(name)+")")
}

func (s *settings) duration(p *time.Duration, name string, def time.Duration, usage string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			s.errs = append(s.errs, fmt.Sprintf("%s=%q: not a duration", envName(name), v))
		} else {
			def = d
		}
	}
	s.fs.DurationVar(p, name, def, usage+" (env "+envName(name)+")")
}

// registerCommon adds the settings every database-using subcommand shares.
func registerCommon(s *settings, c *Config) {
	s.str(&c.DatabaseURL, "database-url", "", "PostgreSQL URL (postgres://…); empty uses the embedded database under --data-dir")
	s.str(&c.DataDir, "data-dir", "./immunis-data", "directory of the embedded database and local keys")
	s.str(&c.BaseURL, "base-url", "", "public FHIR base URL used in links (default http://ADDR/fhir)")
	s.int(&c.DBMaxConns, "db-max-conns", 32, "maximum PostgreSQL connections")
	s.str(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	s.str(&c.LogFormat, "log-format", "text", "log format: text or json")
	s.str(&c.TimeZone, "timezone", "UTC", "time zone of dates without one (IANA name)")
	s.str(&c.Types, "types", DefaultTypes, "comma-separated resource types served")
}

// registerServe adds the HTTP server settings.
func registerServe(s *settings, c *Config) {
	s.str(&c.Addr, "addr", "127.0.0.1:8080", "listen address")
	s.str(&c.Auth, "auth", "none", "authorization: none (loopback only), dev or smart")
	s.str(&c.OIDCIssuer, "oidc-issuer", "", "OpenID Connect issuer URL (auth=smart)")
	s.str(&c.OIDCAudience, "oidc-audience", "", "expected token audience (default the FHIR base URL)")
	s.int64(&c.MaxBody, "max-body", 16<<20, "request body limit in bytes")
	s.duration(&c.Timeout, "request-timeout", 60*time.Second, "longest time one request may take (its database work is then cancelled: 503)")
}

func newSettings(name string, stderr io.Writer) *settings {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &settings{fs: fs}
}

// flagHelp is returned when -h/--help was asked for (usage already printed).
var flagHelp = flag.ErrHelp

func (s *settings) parse(args []string) error {
	if err := s.fs.Parse(args); err != nil {
		return err
	}
	if len(s.errs) > 0 {
		return fmt.Errorf("%s", strings.Join(s.errs, "; "))
	}
	return nil
}
