// Package search is FHIR search without I/O: the registry of the official
// R4 SearchParameter definitions, a small FHIRPath evaluator that extracts
// typed index rows from resources at write time, the query parser (query
// string → AST) and the compiler (AST + access scope → SQL text with bind
// arguments). It emits SQL, never opens a connection; `store` runs it. It
// imports `fhir` and `profiles`.
package search
