package forecast

import (
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"
)

// Engine is the CDSi engine built from one release of the supporting data.
// It is immutable after construction and safe for concurrent use.
type Engine struct {
	s                  *schedule
	conflictsByCurrent [][]liveVirusConflict // by current (impacted) CVX
	conflicting        []bool                // by CVX: a previous (conflicting) vaccine type
	groupNames         []string
	reasonTexts        []string     // reasonSet → text, precomputed
	reasonCodes        []ReasonCode // reasonSet → code, precomputed
	pool               sync.Pool
}

// New builds an Engine from the supporting data embedded in the package.
// Parsing takes tens of milliseconds: build one Engine and share it (or use
// Default).
func New() (*Engine, error) { return NewFromFS(dataFS) }

// NewFromFS builds an Engine from supporting data laid out like the
// embedded copy: data/ScheduleSupportingData.xml,
// data/AntigenSupportingData*.xml and data/cvx.tsv. Schedules change by
// replacing these files, never by editing Go.
func NewFromFS(fsys fs.FS) (*Engine, error) {
	rd, err := loadRawData(fsys)
	if err != nil {
		return nil, fmt.Errorf("load CDSi supporting data: %w", err)
	}
	s, err := compile(rd)
	if err != nil {
		return nil, fmt.Errorf("compile CDSi supporting data: %w", err)
	}
	e := &Engine{s: s, conflictsByCurrent: make([][]liveVirusConflict, len(s.cvx))}
	e.conflicting = make([]bool, len(s.cvx))
	for _, c := range s.conflicts {
		e.conflictsByCurrent[c.current] = append(e.conflictsByCurrent[c.current], c)
		e.conflicting[c.previous] = true
	}
	for _, g := range s.groups {
		e.groupNames = append(e.groupNames, g.name)
	}
	e.reasonTexts = make([]string, reasonSetSize)
	e.reasonCodes = make([]ReasonCode, reasonSetSize)
	for r := range e.reasonTexts {
		e.reasonTexts[r] = reasonSet(r).text()
		e.reasonCodes[r] = reasonSet(r).code()
	}
	e.pool.New = func() any { return new(scratch) }
	return e, nil
}

var (
	defaultOnce   sync.Once
	defaultEngine *Engine
	defaultErr    error
)

// Default returns the Engine over the embedded data, built on first use and
// shared afterwards.
func Default() (*Engine, error) {
	defaultOnce.Do(func() { defaultEngine, defaultErr = New() })
	return defaultEngine, defaultErr
}

// conflictRules returns the live virus conflicts whose current (impacted)
// vaccine type is c.
func (e *Engine) conflictRules(c cvxCode) []liveVirusConflict {
	if int(c) < len(e.conflictsByCurrent) {
		return e.conflictsByCurrent[c]
	}
	return nil
}

// isConflicting reports whether c is the previous (conflicting) vaccine
// type of some live virus conflict.
func (e *Engine) isConflicting(c cvxCode) bool {
	return int(c) < len(e.conflicting) && e.conflicting[c]
}

// VaccineGroups lists the vaccine group names in ScheduleSupportingData
// order ("COVID-19", "DTaP/Tdap/Td", …).
func (e *Engine) VaccineGroups() []string {
	return append([]string(nil), e.groupNames...)
}

// Antigens returns the CDSi antigen names of a vaccine group, or the
// antigen itself when name is an antigen ("MMR" → Measles, Mumps,
// Rubella; "Measles" → Measles). Matching ignores case.
func (e *Engine) Antigens(name string) []string {
	for _, g := range e.s.groups {
		if strings.EqualFold(g.name, strings.TrimSpace(name)) {
			out := make([]string, len(g.antigens))
			for i, a := range g.antigens {
				out[i] = e.s.antigens[a].name
			}
			return out
		}
	}
	for _, a := range e.s.antigens {
		if strings.EqualFold(a.name, strings.TrimSpace(name)) {
			return []string{a.name}
		}
	}
	return nil
}

// VaccineGroupOf returns the vaccine group that classifies an antigen.
func (e *Engine) VaccineGroupOf(antigen string) (string, bool) {
	for _, a := range e.s.antigens {
		if strings.EqualFold(a.name, strings.TrimSpace(antigen)) {
			return e.s.groups[a.group].name, true
		}
	}
	return "", false
}

// UnspecifiedCVX returns the CVX of the vaccine group's "unspecified
// formulation" code, derived from the data (a CVX whose description says
// "unspecified formulation" and that maps to exactly the group's
// antigens): "DTaP/Tdap/Td" → "107", "HepB" → "45". Groups without such a
// code (MMR, Rotavirus has one, …) return false.
func (e *Engine) UnspecifiedCVX(group string) (string, bool) {
	for _, g := range e.s.groups {
		if strings.EqualFold(g.name, strings.TrimSpace(group)) && g.unspecifiedCVX != 0 {
			return g.unspecifiedCVX.String(), true
		}
	}
	return "", false
}

// KnownCVX reports whether code is in the CDC CVX code set or the CDSi CVX
// map.
func (e *Engine) KnownCVX(code string) bool {
	c, ok := parseCVX(code)
	return ok && e.s.info(c) != nil
}

// CVXAntigens returns the antigens a CVX code maps to in the CDSi data
// (ignoring association ages); nil when the code carries no antigen CDSi
// evaluates.
func (e *Engine) CVXAntigens(code string) []string {
	c, ok := parseCVX(code)
	if !ok || e.s.info(c) == nil {
		return nil
	}
	var out []string
	for _, a := range e.s.info(c).associations {
		n := e.s.antigens[a.antigen].name
		if !containsString(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// CVXDescription returns the CDC short description of a CVX code.
func (e *Engine) CVXDescription(code string) string {
	c, ok := parseCVX(code)
	if !ok || e.s.info(c) == nil {
		return ""
	}
	return e.s.info(c).shortDesc
}

// ObservationTitle returns the title of a CDSi coded observation ("007" →
// "Pregnant"), or "" when the code is unknown.
func (e *Engine) ObservationTitle(code string) string {
	if o := e.s.observations[normObsCode(code)]; o != nil {
		return o.title
	}
	return ""
}

// ObservationCodes lists every CDSi coded observation code, sorted.
func (e *Engine) ObservationCodes() []string {
	out := make([]string, 0, len(e.s.observations))
	for c := range e.s.observations {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
