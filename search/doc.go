// Package search is FHIR search without I/O: the registry of the official
// R4 SearchParameter definitions, a small FHIRPath evaluator that extracts
// typed index rows from resources at write time, the query parser (query
// string → AST) and the compiler (AST + access scope → SQL text with bind
// arguments). It emits SQL, never opens a connection; `store` runs it. It
// imports `fhir` and `profiles`.
//
// Where things are:
//
//	registry.go   the embedded definitions, param ids, SearchParameter lookup, index version
//	fhirpath.go   the FHIRPath subset the definitions use
//	extract.go    resource → Index (rows per table) and Patient compartments
//	parse.go      query parameters → Query (query.go), strict or lenient
//	plan.go       the statement shapes: selection of matching rids, Page, Count
//	compile.go    filters → conditions: chains, _has, columns (_id, _lastUpdated)
//	order.go      _sort keys, keyset cursors (next and previous pages)
//	include.go    _include / _revinclude statements
//	scope.go      access scopes compiled into every statement
//	summary.go    _summary / _elements subsetting
//
// and one file per parameter type, each with its extraction, value parsing
// and SQL condition: token.go, string.go (phonetic.go), date.go,
// reference.go, number.go, quantity.go, uri.go, composite.go.
package search
