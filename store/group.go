package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lib/pq"
)

// Group commit of plain creates on PostgreSQL. Every create is one
// statement and one commit (createOne); under concurrent load most of
// PostgreSQL's work for it is per statement and per commit rather than per
// row. So one committer writes the creates: the first waiting alone, in
// the one-row statement, and those that arrived while it was busy
// together, in ONE statement, one round trip and one commit. There is no
// timer: a lone create is written at once, and groups form only from the
// queue that builds while a statement runs. Each row
// keeps its own reference check: a create whose reference is missing is
// not written, and the others are.
//
// The committer never waits for a lock, or every create would wait behind
// it: its statements read the referenced rows FOR SHARE NOWAIT. When
// another transaction holds one of them (an update of that Patient, say),
// the creates of that statement go on their own, each in its own
// goroutine and connection, waiting for the lock as a create always did.
//
// A create is acknowledged only after the statement that wrote it
// committed. Once the committer has taken a create into a statement, its
// caller waits for that statement's outcome even when its own context
// ends: it is never told "nothing was written" about a row that was.

// groupMax bounds the creates in one statement.
const groupMax = 64

// groupCreate is one create waiting for a committer.
type groupCreate struct {
	ctx   context.Context
	v     *Version
	refs  map[string][]string
	state atomic.Int32 // queued, taken or abandoned
	done  chan groupResult
}

const (
	queued int32 = iota
	taken
	abandoned
)

type groupResult struct {
	live    map[string]bool
	created bool
	err     error
}

// grouper runs the committer; it starts with the first create.
type grouper struct {
	p       *postgres
	start   sync.Once
	queue   chan *groupCreate
	quit    chan struct{} // closed when the store is
	stop    sync.Once
	grouped atomic.Int64 // statements that wrote more than one create
	alone   atomic.Int64 // creates written on their own after a lock was busy
}

func (g *grouper) create(ctx context.Context, v *Version, refs map[string][]string) (map[string]bool, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err // gone already: not queued
	}
	g.start.Do(g.init)
	c := &groupCreate{ctx: ctx, v: v, refs: refs, done: make(chan groupResult, 1)}
	select {
	case g.queue <- c:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	case <-g.quit:
		return nil, false, errClosed
	}
	select {
	case r := <-c.done:
		return r.live, r.created, r.err
	case <-ctx.Done():
		if c.state.CompareAndSwap(queued, abandoned) {
			return nil, false, ctx.Err() // the committer will not write it
		}
	case <-g.quit:
		if c.state.CompareAndSwap(queued, abandoned) {
			return nil, false, errClosed
		}
	}
	r := <-c.done // in a statement already: its outcome is the answer
	return r.live, r.created, r.err
}

func (g *grouper) init() {
	g.queue = make(chan *groupCreate, 4*groupMax)
	g.quit = make(chan struct{})
	go g.commit()
}

// commit is the committer: it takes the first create waiting and every
// other one waiting with it (up to groupMax).
func (g *grouper) commit() {
	batch := make([]*groupCreate, 0, groupMax)
	for {
		var first *groupCreate
		select {
		case first = <-g.queue:
		case <-g.quit:
			g.drain()
			return
		}
		batch = append(batch[:0], first)
	more:
		for len(batch) < groupMax {
			select {
			case c := <-g.queue:
				batch = append(batch, c)
			default:
				break more
			}
		}
		kept := batch[:0]
		for _, c := range batch {
			if c.state.CompareAndSwap(queued, taken) {
				kept = append(kept, c)
			}
		}
		g.run(kept)
		clear(batch)
	}
}

// errClosed answers creates that reach a closed store.
var errClosed = errors.New("the store is closed")

// close stops the committer (DB.Close).
func (g *grouper) close() {
	g.start.Do(g.init)
	g.stop.Do(func() { close(g.quit) })
}

// drain answers what is still queued when the store closes.
func (g *grouper) drain() {
	for {
		select {
		case c := <-g.queue:
			if c.state.CompareAndSwap(queued, taken) {
				c.done <- groupResult{err: errClosed}
			}
		default:
			return
		}
	}
}

// run writes the taken creates and answers each.
func (g *grouper) run(cs []*groupCreate) {
	switch len(cs) {
	case 0:
		return
	case 1:
		c := cs[0]
		ctx, cancel := statementContext(cs)
		live, created, err := g.p.createOne(ctx, c.v, c.refs, false)
		cancel()
		if lockNotAvailable(err) {
			g.alone.Add(1)
			go g.runAlone(c)
			return
		}
		c.done <- groupResult{live, created, err}
		return
	}
	ctx, cancel := statementContext(cs)
	res, err := g.p.createGroup(ctx, cs)
	cancel()
	if err != nil {
		// A lock was busy, or something about the statement as a whole (a
		// constraint of one row, the connection): each create on its
		// own, so one row's wait or error is its own and not the others'.
		g.alone.Add(int64(len(cs)))
		for _, c := range cs {
			go g.runAlone(c)
		}
		return
	}
	g.grouped.Add(1)
	for i, c := range cs {
		c.done <- res[i]
	}
}

// runAlone writes one create in the one-row statement, waiting for locks.
func (g *grouper) runAlone(c *groupCreate) {
	ctx, cancel := statementContext([]*groupCreate{c})
	defer cancel()
	live, created, err := g.p.createOne(ctx, c.v, c.refs, true)
	c.done <- groupResult{live, created, err}
}

// statementContext lasts as long as the latest deadline among the
// creates, but no caller cancels it: it writes for all of them.
func statementContext(cs []*groupCreate) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, c := range cs {
		d, ok := c.ctx.Deadline()
		if !ok {
			return context.WithCancel(context.WithoutCancel(c.ctx))
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(context.WithoutCancel(cs[0].ctx), latest)
}

// groupSQL is the statement for many creates: one fixed text, so it is
// prepared once. Rows travel as arrays, each with its number n. A row is
// inserted only when every resource it references was found live (read
// FOR SHARE, so none can be deleted before this commits; NOWAIT, see
// above); its index rows
// join on n to take the row's new rid. The result names the inserted rows
// and, for the others, the references that were found.
var groupSQL = func() string {
	var b strings.Builder
	b.WriteString(`WITH input AS (SELECT * FROM ROWS FROM (unnest($1::int[]), unnest($2::text[]), unnest($3::text[]), unnest($4::bigint[]), unnest($5::bigint[]), unnest($6::text[]), jsonb_array_elements($7::jsonb))
  AS i(n, type, id, version, last_updated, method, content)),
ref AS (SELECT * FROM unnest($8::int[], $9::text[], $10::text[]) AS r(n, type, id)),
found AS (SELECT r.n, r.type, r.id FROM ref r JOIN resource x ON x.type = r.type AND x.id = r.id AND NOT x.deleted FOR SHARE OF x NOWAIT),
ok AS (SELECT nextval('resource_rid_seq') AS rid, i.* FROM input i
  WHERE (SELECT count(*) FROM ref r WHERE r.n = i.n) = (SELECT count(*) FROM found f WHERE f.n = i.n)),
w AS (INSERT INTO resource (rid, type, id, version, last_updated, deleted, method, content)
  SELECT rid, type, id, version, last_updated, false, method, content FROM ok)`)
	arg := 11
	for t, tab := range pgIndexTables {
		cols := strings.Split(tab.cols, ", ")
		un := []string{fmt.Sprintf("$%d::int[]", arg)}
		arg++
		names := []string{"n"}
		sel := []string{"ok.rid"}
		for i, typ := range tab.types {
			un = append(un, fmt.Sprintf("$%d::%s[]", arg, typ))
			arg++
			names = append(names, fmt.Sprintf("c%d", i))
			sel = append(sel, fmt.Sprintf("u.c%d", i))
		}
		fmt.Fprintf(&b, ",\nt%d AS (INSERT INTO %s (rid, %s) SELECT %s FROM unnest(%s) AS u(%s) JOIN ok ON ok.n = u.n)",
			t, tab.name, strings.Join(cols, ", "), strings.Join(sel, ", "), strings.Join(un, ", "), strings.Join(names, ", "))
	}
	b.WriteString("\nSELECT n, NULL::text, NULL::text FROM ok\nUNION ALL\nSELECT f.n, f.type, f.id FROM found f WHERE f.n NOT IN (SELECT n FROM ok)")
	return b.String()
}()

// createGroup writes cs in one statement (groupSQL). The result of each is
// what createChecked would give for it alone.
func (p *postgres) createGroup(ctx context.Context, cs []*groupCreate) ([]groupResult, error) {
	var (
		ns               []int64
		r                resourceCols
		refN             []int64
		refTypes, refIDs []string
		c                indexCols
	)
	for i, gc := range cs {
		ns = append(ns, int64(i))
		r.add(gc.v.New)
		for typ, list := range gc.refs {
			for _, id := range dedupe(list) {
				refN, refTypes, refIDs = append(refN, int64(i)), append(refTypes, typ), append(refIDs, id)
			}
		}
		c.add(int64(i), gc.v.Index)
	}
	args := []any{pq.Array(ns), pq.Array(r.types), pq.Array(r.ids), pq.Array(r.versions), pq.Array(r.times),
		pq.Array(r.methods), r.contents(), pq.Array(refN), pq.Array(refTypes), pq.Array(refIDs)}
	for t, tab := range pgIndexTables {
		rid := c.rid[t]
		if rid == nil {
			rid = []int64{}
		}
		args = append(args, pq.Array(rid))
		for i, typ := range tab.types {
			var col any
			if c.cols[t] != nil {
				col = c.cols[t][i]
			} else {
				col = emptyColumn(typ)
			}
			args = append(args, pq.Array(col))
		}
	}
	st, err := p.prepared(ctx, groupSQL)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	res := make([]groupResult, len(cs))
	for i := range res {
		res[i].live = map[string]bool{}
	}
	for rows.Next() {
		var (
			n       int64
			typ, id *string
		)
		if err := rows.Scan(&n, &typ, &id); err != nil {
			return nil, err
		}
		if n < 0 || n >= int64(len(res)) {
			return nil, fmt.Errorf("group create: row %d of %d", n, len(res))
		}
		if typ == nil {
			res[n].created = true
		} else {
			res[n].live[*typ+"/"+*id] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return res, nil
}

// emptyColumn is an empty array of a column's type, for an index table no
// row of the group has.
func emptyColumn(typ string) any {
	switch typ {
	case "int", "bigint":
		return []int64{}
	case "float8":
		return []float64{}
	default:
		return []string{}
	}
}
