package bulk

import (
	"encoding/json"
	"fmt"
	"time"
)

// Level is where an export was kicked off.
type Level string

const (
	LevelSystem  Level = "system"  // [base]/$export
	LevelPatient Level = "patient" // [base]/Patient/$export
	LevelGroup   Level = "group"   // [base]/Group/[id]/$export
)

// Spec is a validated kick-off: everything a worker or a download needs to
// read the export from its snapshot. It is stored with the job as JSON, so
// its fields are the job's contract between replicas and versions.
type Spec struct {
	Level Level  `json:"level"`
	Group string `json:"group,omitempty"`
	// Types are the exported types in output order.
	Types []string `json:"types"`
	// Since keeps resources changed after it (zero: all).
	Since time.Time `json:"since,omitempty"`
	// TypeFilters are the _typeFilter queries per type (ORed), each an
	// encoded FHIR search query.
	TypeFilters map[string][]string `json:"typeFilters,omitempty"`
	// Elements are the _elements per type; the key "" holds those named
	// without a type (every type).
	Elements map[string][]string `json:"elements,omitempty"`
	// Compartment keeps only resources in Patient compartments (patient
	// and group level); when Listed, only those of Patients (maybe none:
	// a Group without members exports nothing).
	Compartment bool     `json:"compartment,omitempty"`
	Listed      bool     `json:"listed,omitempty"`
	Patients    []string `json:"patients,omitempty"`
	// Access restricts what the client may see, per type; nil allows
	// everything (authorization off).
	Access map[string][]Clause `json:"access,omitempty"`
	// Request is the kick-off URL as the client sent it.
	Request string `json:"request"`
	// RequiresAccessToken: files need the same token as the kick-off.
	RequiresAccessToken bool `json:"requiresAccessToken"`
}

// Clause is one way a client may see resources of a type (ORed with the
// type's other clauses): in Patient's compartment when set, and matching
// Query (an encoded FHIR search) when set. An empty clause allows all.
type Clause struct {
	Patient string `json:"patient,omitempty"`
	Query   string `json:"query,omitempty"`
}

// Access is what a client may export, per type; a type missing from it
// may not be exported. A nil *Access allows everything.
type Access struct {
	Types map[string][]Clause
}

func decodeSpec(b []byte) (*Spec, error) {
	var s Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decode export spec: %w", err)
	}
	return &s, nil
}

// cursor is where a job resumes: the step (kind and type, see steps),
// the last rid scanned in it, and the file being filled. It is committed
// with the files it completed, so a resumed job neither repeats nor skips.
type cursor struct {
	Step  int   `json:"step"`
	Pos   int64 `json:"pos"`   // last rid scanned in the step
	From  int64 `json:"from"`  // the open file starts after this rid
	Last  int64 `json:"last"`  // rid of the open file's last resource
	Count int64 `json:"count"` // resources in the open file
	Seq   int   `json:"seq"`   // number of the next file
	Total int64 `json:"total"` // resources exported so far
}

func decodeCursor(b []byte) (cursor, error) {
	var c cursor
	if len(b) == 0 {
		return c, nil
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("decode export cursor: %w", err)
	}
	return c, nil
}

// step is one pass of a job: the live resources of a type, or (with
// _since) its deletions.
type step struct {
	Type    string
	Deleted bool
}

// steps lists the passes of an export in manifest order: every type's
// output, then every type's deletions.
func (s *Spec) steps() []step {
	var out []step
	for _, t := range s.Types {
		out = append(out, step{Type: t})
	}
	if !s.Since.IsZero() {
		for _, t := range s.Types {
			out = append(out, step{Type: t, Deleted: true})
		}
	}
	return out
}
