package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/search"
)

// Snapshots for Bulk Data $export. An export is a consistent snapshot as
// of its transaction time T: for every resource, the highest version with
// last_updated <= T (nothing if that version is a deletion or there is
// none). Versions are never removed, so the snapshot can be read again at
// any later time, by any replica, and reads the same: that is what lets
// output files be regenerated on download and a job be resumed elsewhere.
//
// It only holds if no version stamped at or before T can commit after the
// export has started reading. last_updated is stamped by the writer before
// its transaction commits, so Barrier closes that gap (migration 0004):
// it raises a watermark to T, after which a trigger refuses any version
// stamped at or before the watermark (PostgreSQL: as a serialization
// failure, which Write retries with a fresh stamp), and then waits for the
// transactions that passed the trigger's check before the watermark moved.

// bulkWatermarkLock serializes Barrier calls, so the watermark only rises.
const bulkWatermarkLock = 0x1d6d_0b02

// Barrier fixes the transaction time of a new export: T is now() read
// while holding the watermark lock. When it returns, every version stamped
// at or before T is committed (or rolled back) and none can be written
// any more.
func (b *BulkStore) Barrier(ctx context.Context, now func() time.Time) (time.Time, error) {
	var t time.Time
	err := b.inTx(ctx, func(tx *sql.Tx) error {
		if err := b.db.dialect.lock(ctx, tx, bulkWatermarkLock); err != nil {
			return err
		}
		t = now().UTC().Truncate(time.Microsecond)
		var q string
		if b.db.dialect.name() == search.Postgres {
			// setval is not transactional: writers see it at once.
			q = `SELECT setval('bulk_watermark', greatest($1, last_value)) FROM bulk_watermark`
		} else {
			q = `UPDATE bulk_watermark SET t = max(t, $1)`
		}
		if _, err := tx.ExecContext(ctx, q, t.UnixMicro()); err != nil {
			return err
		}
		// A writer on this clock that stamps right after us must stamp
		// later than T, not equal to it.
		for !now().UTC().Truncate(time.Microsecond).After(t) {
			time.Sleep(time.Microsecond)
		}
		return nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("bulk barrier: %w", err)
	}
	if b.db.dialect.name() == search.Postgres {
		if err := b.waitInFlight(ctx); err != nil {
			return time.Time{}, fmt.Errorf("bulk barrier: %w", err)
		}
	}
	// The embedded store has one writer: the transaction above waited for
	// the one in flight, and later ones stamp after T.
	return t, nil
}

// waitInFlight waits until every transaction in progress now has ended.
// A writer takes its transaction id before it reads the watermark, so one
// that read the old watermark is among these.
func (b *BulkStore) waitInFlight(ctx context.Context) error {
	var snap string
	if err := b.db.read.QueryRowContext(ctx, `SELECT pg_current_snapshot()::text`).Scan(&snap); err != nil {
		return fmt.Errorf("read snapshot: %w", err)
	}
	delay := time.Millisecond
	for {
		// Transaction ids are cluster-wide: leave out those that are
		// positively another database's (pg_stat_activity; where it shows
		// less, for want of privileges, we wait for more, never less).
		var running int
		err := b.db.read.QueryRowContext(ctx, `SELECT count(*) FROM pg_snapshot_xip($1::pg_snapshot) x
			WHERE pg_xact_status(x) = 'in progress'
			  AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a
			      WHERE a.backend_xid IS NOT NULL AND a.datname IS DISTINCT FROM current_database()
			        AND a.backend_xid::text = (x::text::bigint % 4294967296)::text)`, snap).Scan(&running)
		if err != nil {
			return fmt.Errorf("wait for writers: %w", err)
		}
		if running == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 50*time.Millisecond)
	}
}

// VersionAt returns the version of typ/id in the snapshot at t (Deleted
// set for a deletion), or ErrNotFound when it did not exist then.
func (b *BulkStore) VersionAt(ctx context.Context, typ, id string, t time.Time) (*fhir.Resource, error) {
	at := t.UnixMicro()
	rows, err := b.db.read.QueryContext(ctx, `SELECT rid, version, last_updated, deleted, content FROM (
		SELECT r.rid, r.version, r.last_updated, r.deleted, r.content FROM resource r
		WHERE r.type = $1 AND r.id = $2 AND r.last_updated <= $3
		UNION ALL
		SELECT h.rid, h.version, h.last_updated, h.deleted, h.content FROM resource r JOIN resource_history h ON h.rid = r.rid
		WHERE r.type = $1 AND r.id = $2 AND h.last_updated <= $3) v
		ORDER BY version DESC LIMIT 1`, typ, id, at)
	if err != nil {
		return nil, fmt.Errorf("read %s/%s at %d: %w", typ, id, at, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read %s/%s at %d: %w", typ, id, at, err)
		}
		return nil, ErrNotFound
	}
	r := &fhir.Resource{Type: typ, ID: id}
	var lu int64
	var deleted any
	if err := rows.Scan(&r.RID, &r.Version, &lu, &deleted, &r.Body); err != nil {
		return nil, fmt.Errorf("read %s/%s at %d: %w", typ, id, at, err)
	}
	r.LastUpdated, r.Deleted = time.UnixMicro(lu).UTC(), truthy(deleted)
	return r, rows.Err()
}

// BulkScan selects the resources of one type in a snapshot, in rid order.
//
// Restrictions (a patient compartment, search statements) are answered
// by the index rows, which describe current versions only. Rows whose
// version in the snapshot is the current one are filtered in SQL; the
// others (changed since T, and deletions, whose last content predates
// them) come back with Check set and their content, for the caller to
// judge (see BulkStore.Match).
type BulkScan struct {
	Type string
	At   time.Time // the snapshot
	// Since, when set, keeps versions with last_updated after it.
	Since time.Time
	// (After, Upto] bounds the rids; Upto 0 is unbounded.
	After, Upto int64
	// Deleted selects the deletions in the snapshot instead of the live
	// resources; their rows carry the last live content.
	Deleted bool
	// Content selects every row's content (else only Check rows have it).
	Content bool
	// InCompartment keeps resources in a Patient compartment: of one of
	// Patients, or of any patient when Patients is empty.
	InCompartment bool
	Patients      []string
	// Match keeps resources that one of these rid statements returns
	// (search.Compiler.Matches); none means no such restriction.
	Match []search.Statement
}

func (s *BulkScan) restricted() bool { return s.InCompartment || len(s.Match) > 0 }

// BulkRow is one resource of a scan.
type BulkRow struct {
	RID         int64
	ID          string
	Version     int64
	LastUpdated time.Time
	Deleted     bool
	// Content is the version's JSON (for a deletion, the version before
	// it), valid only during the callback.
	Content []byte
	// Check: restrictions were not applied in SQL; the caller must.
	Check bool
}

// Scan streams the rows of s to fn in rid order, holding none in memory.
func (b *BulkStore) Scan(ctx context.Context, s BulkScan, fn func(*BulkRow) error) error {
	q, args, err := b.scanSQL(&s)
	if err != nil {
		return err
	}
	rows, err := b.db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("bulk scan %s: %w", s.Type, err)
	}
	defer rows.Close()
	var (
		r       BulkRow
		lu      int64
		deleted any
		check   int64
		content sql.RawBytes
	)
	for rows.Next() {
		if err := rows.Scan(&r.RID, &r.ID, &r.Version, &lu, &deleted, &content, &check); err != nil {
			return fmt.Errorf("bulk scan %s: %w", s.Type, err)
		}
		r.LastUpdated, r.Deleted, r.Check, r.Content = time.UnixMicro(lu).UTC(), truthy(deleted), check != 0, content
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("bulk scan %s: %w", s.Type, err)
	}
	return nil
}

// scanSQL builds the two halves of a scan: resources whose current
// version is the snapshot's (filtered here), and resources changed since,
// whose snapshot version is the newest history row stamped at or before T.
func (b *BulkStore) scanSQL(s *BulkScan) (string, []any, error) {
	if s.At.IsZero() {
		return "", nil, errors.New("bulk scan: no snapshot time")
	}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	typ, at, after := arg(s.Type), arg(s.At.UnixMicro()), arg(s.After)
	bounds := "x.type = " + typ + " AND x.rid > " + after
	if s.Upto > 0 {
		bounds += " AND x.rid <= " + arg(s.Upto)
	}
	since := ""
	if !s.Since.IsZero() {
		since = arg(s.Since.UnixMicro())
	}
	restricted := s.restricted()
	// The last live content before a deletion, for judging it.
	lastLive := func(v string) string {
		return "(SELECT p.content FROM resource_history p WHERE p.rid = x.rid AND p.version < " + v + " AND p.deleted = " + b.bulkBool(false) + " ORDER BY p.version DESC LIMIT 1)"
	}
	flag := func(v bool) string {
		if v {
			return "1"
		}
		return "0"
	}

	// Current versions.
	condA := []string{bounds, "x.last_updated <= " + at, "x.deleted = " + b.bulkBool(s.Deleted)}
	if since != "" {
		condA = append(condA, "x.last_updated > "+since)
	}
	contentA := "NULL"
	switch {
	case s.Deleted && restricted:
		contentA = lastLive("x.version")
	case s.Deleted:
	case s.Content:
		contentA = "x.content"
	}
	if restricted && !s.Deleted {
		rs, err := b.restrictionSQL(s, arg, &args)
		if err != nil {
			return "", nil, err
		}
		condA = append(condA, rs...)
	}
	partA := "SELECT x.rid, x.id, x.version, x.last_updated, x.deleted, " + contentA + " AS content, " +
		flag(s.Deleted && restricted) + " AS chk FROM resource x WHERE " + strings.Join(condA, " AND ")

	// Changed since T: the snapshot's version is in history.
	condB := []string{bounds, "x.last_updated > " + at,
		"h.version = (SELECT max(h2.version) FROM resource_history h2 WHERE h2.rid = x.rid AND h2.last_updated <= " + at + ")",
		"h.deleted = " + b.bulkBool(s.Deleted)}
	if since != "" {
		condB = append(condB, "h.last_updated > "+since)
	}
	contentB := "NULL"
	switch {
	case s.Deleted && restricted:
		contentB = lastLive("h.version")
	case s.Deleted:
	case s.Content || restricted:
		contentB = "h.content"
	}
	partB := "SELECT x.rid, x.id, h.version, h.last_updated, h.deleted, " + contentB + " AS content, " +
		flag(restricted) + " AS chk FROM resource x JOIN resource_history h ON h.rid = x.rid WHERE " + strings.Join(condB, " AND ")

	return partA + " UNION ALL " + partB + " ORDER BY 1", args, nil
}

// restrictionSQL compiles the compartment and match restrictions on x.
func (b *BulkStore) restrictionSQL(s *BulkScan, arg func(any) string, args *[]any) ([]string, error) {
	var conds []string
	if s.InCompartment {
		switch {
		case len(s.Patients) == 0:
			conds = append(conds, "EXISTS (SELECT 1 FROM compartment c WHERE c.rid = x.rid)")
		case b.db.dialect.name() == search.Postgres:
			conds = append(conds, "x.rid IN (SELECT c.rid FROM compartment c WHERE c.patient_id = ANY("+arg(pq.Array(s.Patients))+"::text[]))")
		default:
			list, err := json.Marshal(s.Patients)
			if err != nil {
				return nil, err
			}
			conds = append(conds, "x.rid IN (SELECT c.rid FROM compartment c WHERE c.patient_id IN (SELECT value FROM json_each("+arg(string(list))+")))")
		}
	}
	if len(s.Match) > 0 {
		var ors []string
		for _, st := range s.Match {
			ors = append(ors, "x.rid IN ("+shiftPlaceholders(st.SQL, len(*args))+")")
			*args = append(*args, st.Args...)
		}
		conds = append(conds, "("+strings.Join(ors, " OR ")+")")
	}
	return conds, nil
}
