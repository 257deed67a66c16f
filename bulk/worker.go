package bulk

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/immunis/immunis/store"
)

// maxAttempts is how often a job that fails is retried (from its last
// checkpoint) before it is reported failed.
const maxAttempts = 3

// checkpointEvery bounds the work a takeover repeats when a long stretch
// of a type yields no complete file (a selective _typeFilter).
const checkpointEvery = 5 * time.Second

// Run runs this replica's workers and the expiry of old exports until ctx
// ends. Workers claim jobs from the shared queue; any replica may run any
// job.
func (m *Manager) Run(ctx context.Context) {
	cfg := m.cfg()
	if m.nudge == nil {
		m.nudge = make(chan struct{}, 1)
	}
	var wg sync.WaitGroup
	for i := 0; i < cfg.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.work(ctx, newJobID()[:12])
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		m.expireLoop(ctx)
	}()
	wg.Wait()
}

// work is one worker: claim a job, run it, repeat; idle, wait for a nudge
// or the poll interval.
func (m *Manager) work(ctx context.Context, worker string) {
	cfg := m.cfg()
	for ctx.Err() == nil {
		now := m.now()
		job, err := m.Store.Claim(ctx, worker, now, now.Add(cfg.Lease))
		if err != nil {
			if ctx.Err() == nil {
				m.log().Error("bulk: claim a job", "err", err)
			}
		}
		if job != nil {
			m.runJob(ctx, worker, job)
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-m.nudge:
		case <-time.After(cfg.Poll):
		}
	}
}

// expireLoop deletes the exports whose files have expired.
func (m *Manager) expireLoop(ctx context.Context) {
	every := min(m.cfg().Expiry/4, time.Minute)
	for {
		if n, err := m.Store.Expire(ctx, m.now()); err != nil && ctx.Err() == nil {
			m.log().Error("bulk: expire exports", "err", err)
		} else if n > 0 {
			m.log().Info("bulk: expired exports", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// runJob runs a claimed job to its end, or until its lease is lost
// (cancelled, or taken over after this worker stalled). A separate
// heartbeat renews the lease, so a slow query does not lose it.
func (m *Manager) runJob(ctx context.Context, worker string, job *store.BulkJob) {
	m.log().Info("bulk: running job", "job", job.ID, "worker", worker, "attempt", job.Attempts+1, "resume", len(job.Cursor) > 0)
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lost := make(chan struct{})
	hb := make(chan struct{})
	go func() {
		defer close(hb)
		m.heartbeat(jctx, worker, job.ID, func() { close(lost); cancel() })
	}()
	err := m.process(jctx, worker, job)
	cancel()
	<-hb
	if err == nil {
		return // complete (the lease went with the last checkpoint)
	}
	select {
	case <-lost:
		m.log().Info("bulk: job no longer ours (cancelled or taken over)", "job", job.ID)
		return
	default:
	}
	switch {
	case errors.Is(err, store.ErrBulkLeaseLost):
	case ctx.Err() != nil:
		// Shutting down: give the job back at once, so that another
		// replica resumes it without waiting for the lease to run out.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if rerr := m.Store.Release(rctx, job.ID, worker, m.now(), ""); rerr != nil {
			m.log().Warn("bulk: release job at shutdown", "job", job.ID, "err", rerr)
		}
	case job.Attempts+1 >= maxAttempts:
		m.log().Error("bulk: job failed", "job", job.ID, "err", err)
		m.fail(ctx, worker, job, err)
	default:
		m.log().Warn("bulk: job attempt failed; will retry", "job", job.ID, "attempt", job.Attempts+1, "err", err)
		if rerr := m.Store.Release(ctx, job.ID, worker, m.now(), err.Error()); rerr != nil {
			m.log().Error("bulk: release job", "job", job.ID, "err", rerr)
		}
	}
}

func (m *Manager) heartbeat(ctx context.Context, worker, id string, onLost func()) {
	every := m.cfg().Lease / 3
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		err := m.Store.Renew(ctx, id, worker, m.now().Add(m.cfg().Lease))
		if errors.Is(err, store.ErrBulkLeaseLost) {
			onLost()
			return
		}
		if err != nil && ctx.Err() == nil {
			m.log().Warn("bulk: renew lease", "job", id, "err", err)
		}
	}
}

func (m *Manager) fail(ctx context.Context, worker string, job *store.BulkJob, cause error) {
	now := m.now()
	err := m.Store.Checkpoint(ctx, store.BulkCheckpoint{ID: job.ID, Worker: worker, Now: now, Cursor: job.Cursor,
		Progress: "failed", Status: store.BulkFailed, ExpiresAt: now.Add(m.cfg().Expiry), Error: cause.Error()})
	if err != nil {
		m.log().Error("bulk: record failure", "job", job.ID, "err", err)
	}
}

// process walks the job's steps from its cursor, cutting a file every
// FileResources resources and committing each file with the cursor after
// it.
func (m *Manager) process(ctx context.Context, worker string, job *store.BulkJob) error {
	spec, err := decodeSpec(job.Spec)
	if err != nil {
		return err
	}
	cur, err := decodeCursor(job.Cursor)
	if err != nil {
		return err
	}
	cfg := m.cfg()
	steps := spec.steps()
	if cur.Seq == 0 {
		cur.Seq = 1 // 0 is the kick-off's error file
	}
	checkpoint := func(files []store.BulkFile, status string) error {
		c, err := encodeJSON(cur)
		if err != nil {
			return err
		}
		now := m.now()
		cp := store.BulkCheckpoint{ID: job.ID, Worker: worker, Now: now, Cursor: c,
			Progress: progress(cur, steps), Files: files, LeaseUntil: now.Add(cfg.Lease)}
		if status != "" {
			cp.Status, cp.ExpiresAt = status, now.Add(cfg.Expiry)
		}
		return m.Store.Checkpoint(ctx, cp)
	}
	for cur.Step < len(steps) {
		st := steps[cur.Step]
		p, err := m.plan(spec, job.TransactionTime, st)
		if err != nil {
			return err
		}
		kind := store.BulkOutput
		if st.Deleted {
			kind = store.BulkDeleted
		}
		cut := func() store.BulkFile {
			f := store.BulkFile{Seq: cur.Seq, Kind: kind, Type: st.Type, From: cur.From, To: cur.Last, Count: cur.Count}
			cur.Seq, cur.From, cur.Count = cur.Seq+1, cur.Last, 0
			return f
		}
		lastSave := time.Now()
		pace := newPacer(cfg.MaxRate)
		err = m.each(ctx, p, cur.Pos, 0, false, func(r *store.BulkRow) error {
			if err := pace.wait(ctx); err != nil {
				return err
			}
			cur.Pos, cur.Last = r.RID, r.RID
			cur.Count++
			cur.Total++
			if cur.Count >= int64(cfg.FileResources) {
				lastSave = time.Now()
				return checkpoint([]store.BulkFile{cut()}, "")
			}
			if time.Since(lastSave) > checkpointEvery {
				lastSave = time.Now()
				return checkpoint(nil, "")
			}
			return nil
		})
		if err != nil {
			return err
		}
		var files []store.BulkFile
		if cur.Count > 0 {
			files = append(files, cut())
		}
		cur.Step, cur.Pos, cur.From, cur.Last = cur.Step+1, 0, 0, 0
		status := ""
		if cur.Step == len(steps) {
			status = store.BulkComplete
		}
		if err := checkpoint(files, status); err != nil {
			return err
		}
	}
	if len(steps) == 0 {
		return checkpoint(nil, store.BulkComplete)
	}
	m.log().Info("bulk export complete", "job", job.ID, "resources", cur.Total, "files", cur.Seq-1)
	return nil
}

// progress is the X-Progress of a running job (under 100 characters).
func progress(c cursor, steps []step) string {
	if c.Step >= len(steps) {
		return fmt.Sprintf("complete: %d resources", c.Total)
	}
	st := steps[c.Step]
	what := st.Type
	if st.Deleted {
		what += " deletions"
	}
	return fmt.Sprintf("%d%%: step %d of %d (%s), %d resources so far", 100*c.Step/len(steps), c.Step+1, len(steps), what, c.Total)
}

// pacer spaces out work to at most rate items per second (0: no limit).
type pacer struct {
	rate  int
	start time.Time
	n     int
}

func newPacer(rate int) *pacer { return &pacer{rate: rate, start: time.Now()} }

// wait returns once the next item is within the rate.
func (p *pacer) wait(ctx context.Context) error {
	if p.rate <= 0 {
		return nil
	}
	p.n++
	due := p.start.Add(time.Duration(p.n) * time.Second / time.Duration(p.rate))
	if d := time.Until(due); d > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
	return nil
}
