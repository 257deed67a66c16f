package search

import (
	"net/url"

	"github.com/immunis/immunis/fhir"
)

// Query is a parsed FHIR search (search.html): filters ANDed, each filter's
// values ORed, plus the result parameters.
type Query struct {
	Type    string
	Filters []*Filter
	// Compartment restricts to a Patient compartment (compartment search
	// and SMART patient context); it also bounds _include/_revinclude of
	// compartment resource types.
	Compartment string
	// Scope is the caller's access restriction (e.g. a SMART grant),
	// compiled into the SQL of the matches and of every include.
	Scope *Scope

	Count      int
	Sort       []SortKey
	Total      string // "", none, estimate, accurate
	Summary    string // "", true, count, data, false, text
	Elements   []string
	Include    []Include
	RevInclude []Include
	Cursor     *Cursor

	// Kept are the parameters that took effect, as written, for the self
	// link; Ignored are the unknown or malformed ones (lenient handling).
	Kept    url.Values
	Ignored []fhir.Issue
}

// Filter is one search parameter occurrence; its values are ORed. Exactly
// one of these shapes is set: a plain filter (Param with Values or
// Missing), a chain (Param, Chain and Next), a reverse chain (Has), or a
// choice between chains over several target types (Any).
type Filter struct {
	Param    *Param
	Modifier string
	Values   []Value
	Missing  *bool

	// Chain: this filter matches resources whose reference Param points at
	// a live resource of type Chain that matches Next.
	Chain string
	Next  *Filter

	Has *Has
	Any []*Filter

	Name      string // the parameter name as written, for messages
	RawValues string
}

// Has is a reverse chain (_has:Type:param:filter): resources that a live
// resource of Type references through Param, where that resource matches
// Filter.
type Has struct {
	Type   string
	Param  *Param
	Filter *Filter
}

// Value is one comparison value of a filter.
type Value struct {
	Prefix string // eq ne gt lt ge le sa eb ap (date, number, quantity)
	Raw    string // the value, unescaped (string, uri, reference, date, number)
	System string // token system, quantity system
	Code   string // token code, quantity code
	HasSys bool   // the token was written system|code or |code
	// Comp is the second component of a composite value; the first is the
	// token held in System/Code/HasSys.
	Comp *Value
}

// SortKey is one _sort key.
type SortKey struct {
	Param *Param
	Desc  bool
}

// Include is one _include or _revinclude: Source:Param[:Target], or
// Source:* for every reference parameter of Source.
type Include struct {
	Source  string
	Param   *Param // nil for *
	Target  string
	Iterate bool
}

// Handling of unknown or malformed parameters (Prefer: handling=…).
type Handling int

const (
	Lenient Handling = iota
	Strict
)

// DefaultCount and MaxCount bound page sizes.
const (
	DefaultCount = 20
	MaxCount     = 1000
)
