// Package forecastcli implements the "immunis forecast [FILE]" subcommand:
// it reads patients — CDC CDSi test cases as JSON Lines, or FHIR R4
// Bundles/Parameters holding a Patient and Immunizations — runs each through
// the forecast engine, and prints a table per patient (or, with --json, one
// JSON line per patient in the vocabulary of the CDC test cases).
//
// It depends only on the forecast package and the standard library; the
// main program calls Run(os.Args[2:], os.Stdin, os.Stdout, os.Stderr).
//
// Exit status: 0 when every case ran, 1 when at least one case was bad input
// (each is reported on stderr with its case id and line, and the others
// still run), 2 on a usage error or an unreadable file.
package forecastcli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/immunis/immunis/forecast"
)

const usage = `usage: immunis forecast [--date YYYY-MM-DD] [--json] [FILE]

Evaluate immunization histories and forecast every vaccine group with the
CDC CDSi engine (supporting data %s).

FILE (default: standard input, also "-") holds either
  - JSON Lines, one patient per line, in the form of the CDC test cases
    (id, patient.dob, patient.gender, assessment_date, observations[],
    doses[] with seq, date, cvx, mvx; expected_* fields are ignored), or
    FHIR R4 Bundles/Parameters, one per line; or
  - one FHIR R4 Bundle or Parameters document (a Patient, Immunizations,
    optionally an "assessmentDate" parameter and Observations/Conditions
    coded with CDSi observation codes).

Flags:
`

// Run executes the subcommand and returns the process exit status.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("forecast", flag.ContinueOnError)
	fs.SetOutput(stderr)
	date := fs.String("date", "", "assessment date `YYYY-MM-DD`, overriding each case's (default: the case's, else today)")
	asJSON := fs.Bool("json", false, "print one JSON line per case (test-case vocabulary) instead of tables")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), usage, forecast.DataVersion)
		fs.PrintDefaults()
	}
	files, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(files) > 1 {
		fmt.Fprintf(stderr, "forecast: at most one FILE, got %d\n", len(files))
		fs.Usage()
		return 2
	}
	var override forecast.Date
	if *date != "" {
		if override, err = forecast.ParseDate(*date); err != nil {
			fmt.Fprintf(stderr, "forecast: --date: %v\n", err)
			return 2
		}
	}

	in, name := stdin, "stdin"
	if len(files) == 1 && files[0] != "-" {
		f, err := os.Open(files[0])
		if err != nil {
			fmt.Fprintf(stderr, "forecast: %v\n", err)
			return 2
		}
		defer f.Close()
		in, name = f, files[0]
	}
	data, err := io.ReadAll(in)
	if err != nil {
		fmt.Fprintf(stderr, "forecast: read %s: %v\n", name, err)
		return 2
	}

	eng, err := forecast.Default()
	if err != nil {
		fmt.Fprintf(stderr, "forecast: %v\n", err)
		return 2
	}
	r := runner{eng: eng, override: override, today: today(), json: *asJSON,
		out: bufio.NewWriter(stdout), errw: stderr, name: name}
	defer r.out.Flush()
	for _, c := range splitCases(data) {
		r.run(c)
	}
	if r.failed > 0 {
		r.out.Flush()
		fmt.Fprintf(stderr, "forecast: %d of %d cases had bad input\n", r.failed, r.total)
		return 1
	}
	return 0
}

// parseInterspersed parses flags that may come before or after FILE.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return files, nil
		}
		files = append(files, args[0])
		args = args[1:]
	}
}

func today() forecast.Date {
	y, m, d := time.Now().Date()
	return forecast.NewDate(y, int(m), d)
}

// rawCase is one input document and where it starts.
type rawCase struct {
	line int
	text []byte
}

// splitCases returns the input's cases: the whole input when it is one
// JSON document (a pretty-printed FHIR Bundle, possibly broken), else one
// case per non-empty line (JSON Lines; a bad line spoils only itself).
func splitCases(data []byte) []rawCase {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil
	}
	startLine := 1 + bytes.Count(data[:len(data)-len(bytes.TrimLeft(data, " \t\r\n"))], []byte{'\n'})
	if json.Valid(trimmed) {
		return []rawCase{{line: startLine, text: trimmed}}
	}
	first := trimmed
	if i := bytes.IndexByte(trimmed, '\n'); i >= 0 {
		first = bytes.TrimSpace(trimmed[:i])
	}
	if len(first) > 0 && first[0] == '{' && !json.Valid(first) {
		// A multi-line document that does not parse: one bad case.
		return []rawCase{{line: startLine, text: trimmed}}
	}
	var out []rawCase
	for i, l := range bytes.Split(data, []byte{'\n'}) {
		l = bytes.TrimSpace(l)
		if len(l) == 0 {
			continue
		}
		out = append(out, rawCase{line: i + 1, text: l})
	}
	return out
}

type runner struct {
	eng      *forecast.Engine
	override forecast.Date
	today    forecast.Date
	json     bool
	out      *bufio.Writer
	errw     io.Writer
	name     string
	total    int
	failed   int
}

func (r *runner) run(c rawCase) {
	r.total++
	pc, err := parseCase(c.text, r.eng)
	id := pc.id
	if id == "" {
		id = fmt.Sprintf("#%d", r.total)
	}
	if err == nil {
		switch {
		case r.override != 0:
			pc.in.AssessmentDate = r.override
		case pc.in.AssessmentDate == 0:
			pc.in.AssessmentDate = r.today
		}
		var res forecast.Result
		res, err = r.eng.Forecast(pc.in)
		if err == nil {
			for _, n := range res.Notices {
				fmt.Fprintf(r.errw, "forecast: %s line %d (case %s): note: %s\n", r.name, c.line, id, n)
			}
			if r.json {
				err = writeJSON(r.out, pc, res)
			} else {
				writeTable(r.out, pc, res)
			}
			if err == nil {
				return
			}
		}
	}
	r.failed++
	fmt.Fprintf(r.errw, "forecast: %s line %d (case %s): %v\n", r.name, c.line, id, strings.TrimPrefix(err.Error(), "forecast: "))
}
