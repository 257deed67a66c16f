// Package fhir is the vocabulary every other package shares: the stored
// resource envelope, strict FHIR JSON decoding and R4 validation (through
// github.com/google/fhir/go), references, FHIR dates with their precision,
// the one error type with issue codes (mapped to HTTP statuses only by
// `server`), and the OperationOutcome and Bundle builders. It imports no
// project package.
package fhir
