// Package bulk implements FHIR Bulk Data Access 2.0 $export
// (hl7.org/fhir/uv/bulkdata/export.html): kick-off parameters, a job queue
// in the database that workers on any replica lease and resume, NDJSON
// files and manifests. It knows neither HTTP nor SQL: `interaction` turns
// a request and its grant into a KickOff, `server` writes what Manager
// returns, and `store` (BulkStore) runs the SQL. It imports `fhir`,
// `search` and `store`.
//
// # Consistency
//
// An export is the snapshot of the database at its transaction time T:
// for every resource, the highest version stamped at or before T. The
// store's barrier (store.BulkStore.Barrier) guarantees that no version
// stamped at or before T commits after the kick-off, and versions are
// never removed, so the snapshot reads the same at any later time.
//
// # Files
//
// A job's worker walks each type of the snapshot in rid order and cuts a
// file every Config.FileResources resources, recording only the file's rid
// range and count. A download regenerates the file from the snapshot,
// streaming; nothing of the output is stored, so every replica serves
// every file, in constant memory, and expiry is the deletion of one row.
//
// Search restrictions (_typeFilter, granular scopes, patient
// compartments) are answered by index rows, which describe current
// versions; for the few resources changed since T the worker judges the
// snapshot's version with the same compiled SQL over temporary tables
// (store.BulkStore.Match), so the counts of the manifest are exactly the
// lines of the files.
package bulk
