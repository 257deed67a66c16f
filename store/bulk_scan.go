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

	"github.com/immunis/immunis/search"
)

// BulkScan selects the resources of one type in a snapshot (see
// Barrier), in rid order.
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
	// PageSize overrides the rows per query (tests: many small pages).
	PageSize int
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

// bulkPage is how many rows one query of a scan reads. Two pages (one
// per half) are all a scan holds in memory.
const bulkPage = 10000

// pageSize is bulkPage, or more for a long list of patients, which every
// page's query carries: fewer, larger pages then cost less.
func (s *BulkScan) pageSize() int {
	if s.PageSize > 0 {
		return s.PageSize
	}
	return bulkPage * min(max(1, len(s.Patients)/5000), 10)
}

// Scan streams the rows of s to fn in rid order. It reads the two halves
// of the snapshot (current versions; versions changed since T) page by
// page in rid order and merges them. Every query runs in one read-only
// transaction with one snapshot of the database, so a resource written
// meanwhile cannot move from one half to the other between two pages (and
// be read twice, or not at all).
func (b *BulkStore) Scan(ctx context.Context, s BulkScan, fn func(*BulkRow) error) error {
	if s.At.IsZero() {
		return errors.New("bulk scan: no snapshot time")
	}
	cur, changed, err := b.scanQueries(&s)
	if err != nil {
		return err
	}
	opts := &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}
	if b.db.dialect.name() == search.SQLite {
		opts = nil // a read transaction is one snapshot there
	}
	tx, err := b.db.read.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("bulk scan %s: %w", s.Type, err)
	}
	defer tx.Rollback()
	pa := &bulkPager{tx: tx, q: cur, after: s.After, size: s.pageSize()}
	pb := &bulkPager{tx: tx, q: changed, after: s.After, size: s.pageSize()}
	for {
		ra, err := pa.peek(ctx)
		if err != nil {
			return fmt.Errorf("bulk scan %s: %w", s.Type, err)
		}
		rb, err := pb.peek(ctx)
		if err != nil {
			return fmt.Errorf("bulk scan %s: %w", s.Type, err)
		}
		var r *BulkRow
		switch {
		case ra == nil && rb == nil:
			return nil
		case rb == nil || (ra != nil && ra.RID < rb.RID):
			r = pa.take()
		default:
			r = pb.take()
		}
		if err := fn(r); err != nil {
			return err
		}
	}
}

// bulkQuery is one half of a scan: SQL whose first argument is the rid
// to read after, ordered by rid, one page at a time.
type bulkQuery struct {
	sql  string
	args []any
}

// bulkPager reads one half of a scan page by page (keyset on rid).
type bulkPager struct {
	tx    *sql.Tx
	q     bulkQuery
	size  int // rows per page (the queries' LIMIT)
	after int64
	rows  []BulkRow
	i     int
	done  bool
	bufs  [][]byte // content buffers, reused from page to page
}

// peek returns the next row without taking it, nil at the end.
func (p *bulkPager) peek(ctx context.Context) (*BulkRow, error) {
	if p.i < len(p.rows) {
		return &p.rows[p.i], nil
	}
	if p.done {
		return nil, nil
	}
	if err := p.fill(ctx); err != nil {
		return nil, err
	}
	if len(p.rows) == 0 {
		return nil, nil
	}
	return &p.rows[0], nil
}

func (p *bulkPager) take() *BulkRow {
	r := &p.rows[p.i]
	p.i++
	return r
}

func (p *bulkPager) fill(ctx context.Context) error {
	p.q.args[0] = p.after
	rows, err := p.tx.QueryContext(ctx, p.q.sql, p.q.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	p.rows, p.i = p.rows[:0], 0
	// Scanning into any and RawBytes takes database/sql's fast paths; a
	// typed destination costs a reflective conversion per column and row.
	var (
		rid, id, version, lu, deleted, check any
		content                              sql.RawBytes
	)
	for rows.Next() {
		if err := rows.Scan(&rid, &id, &version, &lu, &deleted, &content, &check); err != nil {
			return err
		}
		r := BulkRow{ID: anyString(id), Deleted: truthy(deleted), Check: anyInt(check) != 0}
		r.RID, r.Version, r.LastUpdated = anyInt(rid), anyInt(version), time.UnixMicro(anyInt(lu)).UTC()
		if r.RID == 0 {
			return fmt.Errorf("bulk scan: unreadable rid %v", rid)
		}
		if content != nil {
			n := len(p.rows)
			if n == len(p.bufs) {
				p.bufs = append(p.bufs, nil)
			}
			p.bufs[n] = append(p.bufs[n][:0], content...)
			r.Content = p.bufs[n]
		}
		p.rows = append(p.rows, r)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(p.rows) < p.size {
		p.done = true
	}
	if len(p.rows) > 0 {
		p.after = p.rows[len(p.rows)-1].RID
	}
	return nil
}

// anyInt reads an integer column as the drivers give it (int64, or text).
func anyInt(v any) int64 {
	switch v := v.(type) {
	case int64:
		return v
	case []byte:
		n, _ := strconv.ParseInt(string(v), 10, 64)
		return n
	case string:
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	return 0
}

// anyString reads a text column as the drivers give it.
func anyString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	}
	return ""
}

// scanQueries builds the two halves of a scan: resources whose current
// version is the snapshot's (filtered here), and resources changed since,
// whose snapshot version is the newest history row stamped at or before T.
func (b *BulkStore) scanQueries(s *BulkScan) (cur, changed bulkQuery, err error) {
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	after := arg(s.After) // $1, set per page
	typ, at := arg(s.Type), arg(s.At.UnixMicro())
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
	order := " ORDER BY x.rid LIMIT " + strconv.Itoa(s.pageSize())

	// Changed since T: the snapshot's version is in history. Built first:
	// its arguments are the common ones only.
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
	changed = bulkQuery{sql: "SELECT x.rid, x.id, h.version, h.last_updated, h.deleted, " + contentB + ", " + flag(restricted) +
		" FROM resource x JOIN resource_history h ON h.rid = x.rid WHERE " + strings.Join(condB, " AND ") + order,
		args: append([]any(nil), args...)}

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
			return cur, changed, err
		}
		condA = append(condA, rs...)
	}
	cur = bulkQuery{sql: "SELECT x.rid, x.id, x.version, x.last_updated, x.deleted, " + contentA + ", " + flag(s.Deleted && restricted) +
		" FROM resource x WHERE " + strings.Join(condA, " AND ") + order, args: args}
	return cur, changed, nil
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
