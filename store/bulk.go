package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/immunis/immunis/search"
)

// The SQL side of Bulk Data $export (migration 0004, package bulk): the
// job queue and the files of each job's manifest. Jobs live in the
// database so that any replica can kick off, run, report and serve any
// export; workers lease them with SELECT … FOR UPDATE SKIP LOCKED, and
// every step of a job commits its resume point together with the files it
// completed, so a job whose worker dies is resumed by another without a
// file lost or written twice.

// Job statuses.
const (
	BulkAccepted = "accepted" // queued, no worker has started it
	BulkRunning  = "running"
	BulkComplete = "complete"
	BulkFailed   = "failed"
)

// File kinds of a manifest.
const (
	BulkOutput  = "output"
	BulkDeleted = "deleted"
	BulkError   = "error"
)

// ErrBulkBusy is returned by CreateJob when as many exports as allowed are
// already queued or running.
var ErrBulkBusy = errors.New("too many bulk exports in progress")

// ErrBulkLeaseLost is returned by Checkpoint when the job is no longer
// this worker's: cancelled (deleted), or taken over after the lease ran out.
var ErrBulkLeaseLost = errors.New("bulk job lease lost")

// BulkJob is one export.
type BulkJob struct {
	ID     string
	Owner  string
	Status string
	// Spec is the parsed kick-off (bulk's JSON), opaque here.
	Spec            []byte
	TransactionTime time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
	ExpiresAt       time.Time // zero until the job ends
	LeaseOwner      string
	LeaseUntil      time.Time
	// Cursor is the resume point (bulk's JSON), opaque here.
	Cursor   []byte
	Progress string
	Attempts int
	Error    string
}

// BulkFile is one file of a manifest: an output or deleted file is the
// resources of Type with rid in (From, To] of the job's snapshot; an
// error file carries its NDJSON in Body.
type BulkFile struct {
	Seq   int
	Kind  string
	Type  string
	From  int64
	To    int64
	Count int64
	Body  []byte
}

// BulkStore is the bulk export side of the database.
type BulkStore struct {
	db *DB
}

// Bulk returns the bulk export store of db.
func (db *DB) Bulk() *BulkStore { return &BulkStore{db: db} }

// bulkAdmitLock serializes kick-offs, so that the count of running
// exports and the insert of a new one are one decision across replicas.
const bulkAdmitLock = 0x1d6d_0b01

const bulkJobColumns = `id, owner, status, spec, transaction_time, created_at, updated_at,
	expires_at, lease_owner, lease_until, cursor, progress, attempts, error`

// CreateJob inserts a new job and its first files (error files written at
// kick-off) unless maxActive jobs (accepted or running) already exist
// (ErrBulkBusy); maxActive <= 0 means no limit.
func (b *BulkStore) CreateJob(ctx context.Context, j *BulkJob, files []BulkFile, maxActive int) error {
	return b.inTx(ctx, func(tx *sql.Tx) error {
		if err := b.db.dialect.lock(ctx, tx, bulkAdmitLock); err != nil {
			return fmt.Errorf("create bulk job: lock: %w", err)
		}
		if maxActive > 0 {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM bulk_job WHERE status IN ($1, $2)`,
				BulkAccepted, BulkRunning).Scan(&n); err != nil {
				return fmt.Errorf("create bulk job: count active: %w", err)
			}
			if n >= maxActive {
				return ErrBulkBusy
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO bulk_job (id, owner, status, spec, transaction_time, created_at, updated_at, cursor, progress)
			VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8)`,
			j.ID, j.Owner, j.Status, string(j.Spec), j.TransactionTime.UnixMicro(), j.CreatedAt.UnixMicro(), string(j.Cursor), j.Progress)
		if err != nil {
			return fmt.Errorf("create bulk job: %w", err)
		}
		return insertBulkFiles(ctx, tx, j.ID, files)
	})
}

// Job reads one job, or ErrNotFound.
func (b *BulkStore) Job(ctx context.Context, id string) (*BulkJob, error) {
	rows, err := b.db.read.QueryContext(ctx, `SELECT `+bulkJobColumns+` FROM bulk_job WHERE id = $1`, id)
	if err != nil {
		return nil, fmt.Errorf("read bulk job: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read bulk job: %w", err)
		}
		return nil, ErrNotFound
	}
	j, err := scanBulkJob(rows)
	if err != nil {
		return nil, fmt.Errorf("read bulk job: %w", err)
	}
	return j, rows.Err()
}

// Files lists the files of a job in manifest order, without bodies.
func (b *BulkStore) Files(ctx context.Context, id string) ([]BulkFile, error) {
	rows, err := b.db.read.QueryContext(ctx, `SELECT seq, kind, type, rid_from, rid_to, count
		FROM bulk_file WHERE job_id = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("list bulk files: %w", err)
	}
	defer rows.Close()
	var out []BulkFile
	for rows.Next() {
		var f BulkFile
		if err := rows.Scan(&f.Seq, &f.Kind, &f.Type, &f.From, &f.To, &f.Count); err != nil {
			return nil, fmt.Errorf("list bulk files: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// File reads one file of a job with its body, or ErrNotFound.
func (b *BulkStore) File(ctx context.Context, id string, seq int) (*BulkFile, error) {
	var f BulkFile
	err := b.db.read.QueryRowContext(ctx, `SELECT seq, kind, type, rid_from, rid_to, count, body
		FROM bulk_file WHERE job_id = $1 AND seq = $2`, id, seq).Scan(&f.Seq, &f.Kind, &f.Type, &f.From, &f.To, &f.Count, &f.Body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read bulk file: %w", err)
	}
	return &f, nil
}

// DeleteJob removes a job and its files; false when there was none.
func (b *BulkStore) DeleteJob(ctx context.Context, id string) (bool, error) {
	var n int64
	err := b.inTx(ctx, func(tx *sql.Tx) error {
		// Files first: the embedded store's foreign keys would cascade,
		// but saying it keeps both stores independent of that setting.
		if _, err := tx.ExecContext(ctx, `DELETE FROM bulk_file WHERE job_id = $1`, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM bulk_job WHERE id = $1`, id)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("delete bulk job: %w", err)
	}
	return n > 0, nil
}

// Claim leases the oldest job that is queued, or running under a lease
// that has run out (its worker died), to worker until the given time. It
// returns nil when there is none. Replicas claim concurrently: SKIP LOCKED
// makes each take a different job instead of waiting on the same row (the
// embedded store has one writer and needs no row locks).
func (b *BulkStore) Claim(ctx context.Context, worker string, now, until time.Time) (*BulkJob, error) {
	lock := ""
	if b.db.dialect.name() == search.Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var job *BulkJob
	err := b.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE bulk_job SET status = $1, lease_owner = $2, lease_until = $3, updated_at = $4
			WHERE id = (SELECT id FROM bulk_job WHERE status IN ($5, $1) AND lease_until < $4
			            ORDER BY created_at, id LIMIT 1`+lock+`)
			RETURNING `+bulkJobColumns,
			BulkRunning, worker, until.UnixMicro(), now.UnixMicro(), BulkAccepted)
		if err != nil {
			return err
		}
		defer rows.Close()
		if rows.Next() {
			if job, err = scanBulkJob(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("claim bulk job: %w", err)
	}
	return job, nil
}

// BulkCheckpoint is one step of a job, committed at once: the files it
// completed, where to resume, and the renewed lease — or the end of the
// job when Status is complete or failed.
type BulkCheckpoint struct {
	ID, Worker string
	Now        time.Time
	Cursor     []byte
	Progress   string
	Files      []BulkFile
	LeaseUntil time.Time
	// Status, when set to BulkComplete or BulkFailed, ends the job: the
	// lease is released and the files expire at ExpiresAt.
	Status    string
	ExpiresAt time.Time
	Error     string
}

// Checkpoint commits c if the job is still leased to c.Worker, else
// returns ErrBulkLeaseLost and changes nothing.
func (b *BulkStore) Checkpoint(ctx context.Context, c BulkCheckpoint) error {
	err := b.inTx(ctx, func(tx *sql.Tx) error {
		var res sql.Result
		var err error
		if c.Status == "" {
			res, err = tx.ExecContext(ctx, `UPDATE bulk_job SET cursor = $1, progress = $2, lease_until = $3, updated_at = $4
				WHERE id = $5 AND lease_owner = $6`,
				string(c.Cursor), c.Progress, c.LeaseUntil.UnixMicro(), c.Now.UnixMicro(), c.ID, c.Worker)
		} else {
			res, err = tx.ExecContext(ctx, `UPDATE bulk_job SET cursor = $1, progress = $2, lease_until = 0, lease_owner = NULL,
				updated_at = $3, status = $4, expires_at = $5, error = $6
				WHERE id = $7 AND lease_owner = $8`,
				string(c.Cursor), c.Progress, c.Now.UnixMicro(), c.Status, c.ExpiresAt.UnixMicro(), c.Error, c.ID, c.Worker)
		}
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrBulkLeaseLost
		}
		return insertBulkFiles(ctx, tx, c.ID, c.Files)
	})
	if errors.Is(err, ErrBulkLeaseLost) {
		return err
	}
	if err != nil {
		return fmt.Errorf("checkpoint bulk job %s: %w", c.ID, err)
	}
	return nil
}

// Renew extends a worker's lease; ErrBulkLeaseLost when the job is gone
// (cancelled) or another worker has taken it over.
func (b *BulkStore) Renew(ctx context.Context, id, worker string, until time.Time) error {
	res, err := b.db.write.ExecContext(ctx, `UPDATE bulk_job SET lease_until = $1 WHERE id = $2 AND lease_owner = $3`,
		until.UnixMicro(), id, worker)
	if err != nil {
		return fmt.Errorf("renew bulk job %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("renew bulk job %s: %w", id, err)
	}
	if n == 0 {
		return ErrBulkLeaseLost
	}
	return nil
}

// Release gives a job back to the queue (the next claim resumes it from
// its last checkpoint): after a failed attempt, which counts, or at
// shutdown (cause ""), which does not.
func (b *BulkStore) Release(ctx context.Context, id, worker string, now time.Time, cause string) error {
	failed := 0
	if cause != "" {
		failed = 1
	}
	_, err := b.db.write.ExecContext(ctx, `UPDATE bulk_job SET lease_owner = NULL, lease_until = 0, attempts = attempts + $1,
		error = $2, updated_at = $3 WHERE id = $4 AND lease_owner = $5`, failed, cause, now.UnixMicro(), id, worker)
	if err != nil {
		return fmt.Errorf("release bulk job %s: %w", id, err)
	}
	return nil
}

// Expire deletes the jobs (and files) whose time has passed and returns
// how many there were.
func (b *BulkStore) Expire(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := b.inTx(ctx, func(tx *sql.Tx) error {
		const expired = `SELECT id FROM bulk_job WHERE expires_at IS NOT NULL AND expires_at <= $1`
		if _, err := tx.ExecContext(ctx, `DELETE FROM bulk_file WHERE job_id IN (`+expired+`)`, now.UnixMicro()); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM bulk_job WHERE expires_at IS NOT NULL AND expires_at <= $1`, now.UnixMicro())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("expire bulk jobs: %w", err)
	}
	return n, nil
}

func insertBulkFiles(ctx context.Context, tx *sql.Tx, id string, files []BulkFile) error {
	for _, f := range files {
		var body any
		if f.Body != nil {
			body = f.Body
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO bulk_file (job_id, seq, kind, type, rid_from, rid_to, count, body)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, id, f.Seq, f.Kind, f.Type, f.From, f.To, f.Count, body); err != nil {
			return fmt.Errorf("insert bulk file %d: %w", f.Seq, err)
		}
	}
	return nil
}

func scanBulkJob(rows *sql.Rows) (*BulkJob, error) {
	var (
		j                          BulkJob
		spec, cursor               string
		tt, created, updated, till int64
		expires                    sql.NullInt64
		owner                      sql.NullString
	)
	if err := rows.Scan(&j.ID, &j.Owner, &j.Status, &spec, &tt, &created, &updated,
		&expires, &owner, &till, &cursor, &j.Progress, &j.Attempts, &j.Error); err != nil {
		return nil, err
	}
	j.Spec, j.Cursor = []byte(spec), []byte(cursor)
	j.TransactionTime = time.UnixMicro(tt).UTC()
	j.CreatedAt, j.UpdatedAt = time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC()
	if expires.Valid {
		j.ExpiresAt = time.UnixMicro(expires.Int64).UTC()
	}
	j.LeaseOwner = owner.String
	if till > 0 {
		j.LeaseUntil = time.UnixMicro(till).UTC()
	}
	return &j, nil
}

// inTx runs fn in one write transaction.
func (b *BulkStore) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := b.db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// bulkBool is a boolean literal of the dialect.
func (b *BulkStore) bulkBool(v bool) string {
	switch {
	case b.db.dialect.name() == search.SQLite && v:
		return "1"
	case b.db.dialect.name() == search.SQLite:
		return "0"
	case v:
		return "true"
	}
	return "false"
}

// shiftPlaceholders renumbers $n placeholders of a compiled statement by
// off, so it can be embedded after other arguments. Compiled SQL holds no
// values (they are all bind arguments), so every $n is a placeholder.
func shiftPlaceholders(sqlText string, off int) string {
	if off == 0 {
		return sqlText
	}
	var b strings.Builder
	for i := 0; i < len(sqlText); i++ {
		c := sqlText[i]
		if c != '$' || i+1 >= len(sqlText) || sqlText[i+1] < '0' || sqlText[i+1] > '9' {
			b.WriteByte(c)
			continue
		}
		j := i + 1
		n := 0
		for j < len(sqlText) && sqlText[j] >= '0' && sqlText[j] <= '9' {
			n = n*10 + int(sqlText[j]-'0')
			j++
		}
		fmt.Fprintf(&b, "$%d", n+off)
		i = j - 1
	}
	return b.String()
}
