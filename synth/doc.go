// Package synth generates a deterministic synthetic immunization jurisdiction: Organizations,
// Practitioners, Patients and Immunizations as FHIR R4 JSON, with the messiness an IIS must
// consolidate (duplicate patients, the same dose reported twice, invalid and refused doses) and a
// truth stream that says where that messiness is.
//
// The generator is a stream: [Generator.Each] and [Generator.Stream] call back once per resource,
// in a fixed order, while bounded worker goroutines build patients in parallel, so memory stays
// flat for any population size. The same [Config] always yields byte-identical output.
//
// When doses fall due is decided by a [Forecaster]; [NewTableSchedule] is the built-in compact
// ACIP table (data/schedule.tsv). The CDC CDSi engine can take its place later.
//
// synth imports no other project package. The CLI (synthcli), benchmarks and the loader may
// import it.
package synth
