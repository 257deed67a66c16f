// Package store persists FHIR resources: the current version of each
// resource, its earlier versions, and the typed index rows search reads, in
// PostgreSQL (lib/pq, JSONB) or an embedded pure-Go SQLite database. It is
// the only package that knows SQL drivers; it runs the SQL that `search`
// compiles and the migrations in `migrations`. `interaction`, `bulk` and the
// main program import it.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/search"
)

// Store is a FHIR resource store. Every write is atomic: a version row, the
// previous version moved to history, and the new index rows commit
// together or not at all — inside Write (one database transaction), or as
// CreateChecked (one statement, for a plain create).
type Store interface {
	// Dialect is "postgres" or "sqlite"; search compiles SQL for it.
	Dialect() search.Dialect
	// Read returns the current version of type/id (Deleted set for a
	// tombstone) or ErrNotFound when it never existed.
	Read(ctx context.Context, typ, id string) (*fhir.Resource, error)
	// VRead returns one version, or ErrNotFound.
	VRead(ctx context.Context, typ, id string, version int64) (*fhir.Resource, error)
	// History lists versions newest first.
	History(ctx context.Context, q HistoryQuery) ([]*fhir.Resource, error)
	// Query runs a compiled search statement and calls fn per row.
	Query(ctx context.Context, st search.Statement, fn func(Row) error) error
	// Count runs a compiled count statement.
	Count(ctx context.Context, st search.Statement) (int64, error)
	// Write runs fn in one database transaction, retrying it from the start
	// when the database reports a serialization failure or deadlock.
	Write(ctx context.Context, fn func(Tx) error) error
	// CreateChecked writes one new resource (v.Prev nil) in one atomic
	// step, provided every id in refs (type → ids) names a live resource;
	// those it keeps from being deleted until the write commits. It
	// returns the live ones as "Type/id"; when any is missing nothing is
	// written and created is false. On PostgreSQL this is one statement
	// outside an explicit transaction: a create is one round trip instead
	// of four (BEGIN, insert, reference check, COMMIT).
	CreateChecked(ctx context.Context, v *Version, refs map[string][]string) (live map[string]bool, created bool, err error)
	// Migrate applies pending migrations under a lock.
	Migrate(ctx context.Context) error
	Close() error
}

// Tx is a write transaction.
type Tx interface {
	// Lock serializes transactions on key until this one ends (PostgreSQL
	// advisory transaction locks; SQLite has one writer anyway).
	Lock(ctx context.Context, key string) error
	// Current reads the current version inside the transaction, or nil when
	// type/id never existed.
	Current(ctx context.Context, typ, id string) (*fhir.Resource, error)
	// Live reports whether type/id exists and is not deleted, and keeps it
	// from being deleted until this transaction ends.
	Live(ctx context.Context, typ, id string) (bool, error)
	// Put writes a new current version.
	Put(ctx context.Context, v *Version) error
	// ReferencedBy returns one live resource (as Type/id) whose index says
	// it references typ/id, or "" when none does.
	ReferencedBy(ctx context.Context, typ, id string) (string, error)
	// Query runs a compiled search statement inside the transaction.
	Query(ctx context.Context, st search.Statement, fn func(Row) error) error

	// Batch forms for bulk loading (one statement for many resources).
	LockMany(ctx context.Context, keys []string) error
	CurrentMany(ctx context.Context, typ string, ids []string) (map[string]*fhir.Resource, error)
	LiveMany(ctx context.Context, typ string, ids []string) (map[string]bool, error)
	// PutMany writes many versions (creates in one statement).
	PutMany(ctx context.Context, vs []*Version) error
}

// Version is one write: the new version and, unless it is a create, the
// version it replaces (as read under Lock).
type Version struct {
	New   *fhir.Resource
	Prev  *fhir.Resource // nil for a create
	Index *search.Index  // nil for a delete
}

// Row is one search result row.
type Row struct {
	RID      int64
	Resource *fhir.Resource
	// Sort holds the values of the statement's extra columns (sort keys),
	// as the driver returned them.
	Sort []any
}

// HistoryQuery selects versions for instance, type or system history,
// newest first.
type HistoryQuery struct {
	Type, ID string    // empty for wider levels
	Since    time.Time // versions at or after; zero for all
	// AtFrom/AtTo (_at): only versions that were current at some point in
	// [AtFrom, AtTo]; zero AtTo for no restriction.
	AtFrom, AtTo time.Time
	After        *HistoryKey
	Limit        int
	// Only, when set, selects the rids whose versions may be listed (an
	// access restriction compiled by search.Compiler.ScopeRIDs).
	Only *search.Statement
}

// HistoryKey is the position of one version in history order (newest
// first); paging resumes strictly after it.
type HistoryKey struct {
	LastUpdated int64 // microseconds
	RID         int64
	Version     int64
}

// ErrNotFound is returned by reads of something that never existed.
var ErrNotFound = errors.New("not found")
