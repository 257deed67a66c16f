package profiles

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"strings"
)

//go:embed data/cvx.tsv
var cvxTSV []byte

//go:embed data/mvx.tsv
var mvxTSV []byte

// Code-system URIs used by the vaccine rules.
const (
	SystemCVX = "http://hl7.org/fhir/sid/cvx"
	SystemMVX = "http://hl7.org/fhir/sid/mvx"
	SystemNDC = "http://hl7.org/fhir/sid/ndc"
)

// Concept is one code of an embedded code system.
type Concept struct {
	Code    string
	Display string
	Status  string
}

// CodeSystem is an embedded, read-only code table.
type CodeSystem struct {
	URL   string
	codes map[string]Concept
}

// Lookup returns the concept for code.
func (cs *CodeSystem) Lookup(code string) (Concept, bool) {
	c, ok := cs.codes[code]
	return c, ok
}

// Len is the number of codes.
func (cs *CodeSystem) Len() int { return len(cs.codes) }

// parseTSV reads a CDC table: header row, then code, display, …, status at
// statusCol.
func parseTSV(url string, data []byte, displayCol, statusCol int) (*CodeSystem, error) {
	cs := &CodeSystem{URL: url, codes: map[string]Concept{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	line := 0
	for sc.Scan() {
		line++
		if line == 1 {
			continue
		}
		f := strings.Split(sc.Text(), "\t")
		if len(f) <= statusCol {
			return nil, fmt.Errorf("%s line %d: want at least %d columns, got %d", url, line, statusCol+1, len(f))
		}
		code := strings.TrimSpace(f[0])
		cs.codes[code] = Concept{Code: code, Display: strings.TrimSpace(f[displayCol]), Status: strings.TrimSpace(f[statusCol])}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s table: %w", url, err)
	}
	return cs, nil
}

// CVX returns the embedded CDC CVX table.
func CVX() (*CodeSystem, error) { return parseTSV(SystemCVX, cvxTSV, 1, 4) }

// MVX returns the embedded CDC MVX table.
func MVX() (*CodeSystem, error) { return parseTSV(SystemMVX, mvxTSV, 1, 3) }
