package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/immunis/immunis/migrations"
	"github.com/immunis/immunis/search"
)

// OpenSQLite opens (creating it if needed) the embedded database file at
// path: pure Go, no cgo. Writes go through one connection (SQLite has one
// writer); reads use a pool over WAL snapshots.
func OpenSQLite(ctx context.Context, path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	pragmas := "_pragma=journal_mode(WAL)&_pragma=busy_timeout(30000)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)"
	base := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + pragmas
	write, err := sql.Open("sqlite", base+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	read, err := sql.Open("sqlite", base)
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	read.SetMaxOpenConns(8)
	return &DB{read: read, write: write, dialect: sqliteDialect{}}, nil
}

type sqliteDialect struct{}

func (sqliteDialect) name() search.Dialect { return search.SQLite }

// lock is a no-op: write transactions begin IMMEDIATE on the single writer
// connection, so they are already serialized.
func (sqliteDialect) lock(context.Context, *sql.Tx, int64) error { return nil }

func (sqliteDialect) liveSQL() string {
	return `SELECT deleted FROM resource WHERE type = $1 AND id = $2`
}

func (sqliteDialect) retryable(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return true
		}
	}
	return false
}

// createMany: in-process SQLite has no round trips to save, so creates go
// one by one through put.
func (d sqliteDialect) createMany(ctx context.Context, tx *sql.Tx, vs []*Version) error {
	for _, v := range vs {
		if err := d.put(ctx, tx, v); err != nil {
			return err
		}
	}
	return nil
}

var indexTables = []string{"idx_token", "idx_string", "idx_date", "idx_ref", "idx_number", "idx_quantity", "idx_uri", "compartment"}

func (sqliteDialect) put(ctx context.Context, tx *sql.Tx, v *Version) error {
	n := v.New
	var content any
	if !n.Deleted {
		content = n.Body
	}
	var rid int64
	if v.Prev == nil {
		err := tx.QueryRowContext(ctx, `INSERT INTO resource (type, id, version, last_updated, deleted, method, content)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING rid`,
			n.Type, n.ID, n.Version, n.LastUpdated.UnixMicro(), n.Deleted, n.Method, content).Scan(&rid)
		if err != nil {
			return err
		}
	} else {
		if err := tx.QueryRowContext(ctx, `SELECT rid FROM resource WHERE type = $1 AND id = $2 AND version = $3`,
			n.Type, n.ID, v.Prev.Version).Scan(&rid); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("version %d is no longer current", v.Prev.Version)
			}
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO resource_history (rid, version, type, id, last_updated, deleted, method, content)
			SELECT rid, version, type, id, last_updated, deleted, method, content FROM resource WHERE rid = $1`, rid); err != nil {
			return err
		}
		for _, t := range indexTables {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE rid = $1`, rid); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE resource SET version = $1, last_updated = $2, deleted = $3, method = $4, content = $5 WHERE rid = $6`,
			n.Version, n.LastUpdated.UnixMicro(), n.Deleted, n.Method, content, rid); err != nil {
			return err
		}
	}
	if v.Index == nil {
		return nil
	}
	return insertIndexRows(ctx, tx, rid, v.Index)
}

// insertIndexRows writes index rows with one multi-row INSERT per table
// (in-process SQLite has no round trips to save beyond that).
func insertIndexRows(ctx context.Context, tx *sql.Tx, rid int64, ix *search.Index) error {
	ins := func(table, cols string, n, width int, row func(i int) []any) error {
		if n == 0 {
			return nil
		}
		var b strings.Builder
		args := make([]any, 0, n*(width+1))
		b.WriteString("INSERT INTO " + table + " (" + cols + ") VALUES ")
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('(')
			vals := append([]any{rid}, row(i)...)
			for j, v := range vals {
				if j > 0 {
					b.WriteByte(',')
				}
				args = append(args, v)
				fmt.Fprintf(&b, "$%d", len(args))
			}
			b.WriteByte(')')
		}
		_, err := tx.ExecContext(ctx, b.String(), args...)
		return err
	}
	steps := []func() error{
		func() error {
			return ins("idx_token", "rid, param, system, code, text", len(ix.Tokens), 4, func(i int) []any {
				r := ix.Tokens[i]
				return []any{r.Param, r.System, r.Code, r.Text}
			})
		},
		func() error {
			return ins("idx_string", "rid, param, norm, exact", len(ix.Strings), 3, func(i int) []any {
				r := ix.Strings[i]
				return []any{r.Param, r.Norm, r.Exact}
			})
		},
		func() error {
			return ins("idx_date", "rid, param, lo, hi", len(ix.Dates), 3, func(i int) []any {
				r := ix.Dates[i]
				return []any{r.Param, r.Lo, r.Hi}
			})
		},
		func() error {
			return ins("idx_ref", "rid, param, ref_type, ref_id, url", len(ix.Refs), 4, func(i int) []any {
				r := ix.Refs[i]
				return []any{r.Param, r.Type, r.ID, r.URL}
			})
		},
		func() error {
			return ins("idx_number", "rid, param, value, lo, hi", len(ix.Numbers), 4, func(i int) []any {
				r := ix.Numbers[i]
				return []any{r.Param, r.Value, r.Lo, r.Hi}
			})
		},
		func() error {
			return ins("idx_quantity", "rid, param, system, code, value, lo, hi", len(ix.Quantities), 6, func(i int) []any {
				r := ix.Quantities[i]
				return []any{r.Param, r.System, r.Code, r.Value, r.Lo, r.Hi}
			})
		},
		func() error {
			return ins("idx_uri", "rid, param, uri", len(ix.URIs), 2, func(i int) []any {
				r := ix.URIs[i]
				return []any{r.Param, r.URI}
			})
		},
		func() error {
			return ins("compartment", "rid, patient_id", len(ix.Compartments), 1, func(i int) []any {
				return []any{ix.Compartments[i]}
			})
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func (sqliteDialect) migrate(ctx context.Context, db *sql.DB) error {
	list, err := migrations.List("sqlite")
	if err != nil {
		return err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migration (
		version integer PRIMARY KEY, name text NOT NULL, applied_at text NOT NULL DEFAULT CURRENT_TIMESTAMP)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	// The writer connection begins transactions IMMEDIATE, which is the
	// cross-process lock here.
	return applyMigrations(ctx, conn, list)
}
