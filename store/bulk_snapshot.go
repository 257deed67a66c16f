package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

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
