// Package loader is `immunis load`: it reads FHIR data (transaction, batch
// and collection Bundles, NDJSON, directories of them, gzip of each) and
// writes it through the interaction layer's bulk path — the same validation,
// reference rules and index rows as the REST API — in large batches on all
// cores, or over HTTP to a running server. Re-running a load changes
// nothing: resource ids (or identifiers) decide. It imports `fhir` and
// `interaction`; only the main program imports it.
package loader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/interaction"
)

// Parsed is an item that passed the quick look (type known and served):
// decoded once, strictly; sinks validate it further.
type Parsed struct {
	Item
	Type        string
	ID          string
	IfNoneExist string
	Obj         fhir.Object
	// RawID is the id Item.Body holds ("" for none), taken before anything
	// sets Obj's id (fhir.Raw).
	RawID    string
	attempts int   // writes tried that found a reference not yet there
	seq      int64 // position in the input, among the items written
}

// Result of writing one item.
type Result struct {
	Outcome interaction.LoadOutcome
	Err     error
}

// Sink writes batches: to the database through interaction, or over HTTP.
type Sink interface {
	// Prepare validates one decoded item (in parallel workers).
	Prepare(p *Parsed) error
	// Supports reports whether the destination stores typ.
	Supports(typ string) bool
	// Write writes a batch; the error is for the batch as a whole.
	Write(ctx context.Context, batch []*Parsed) ([]Result, error)
}

// Loader runs loads.
type Loader struct {
	Sink      Sink
	Workers   int // validating goroutines; default GOMAXPROCS
	BatchSize int // resources per transaction; default 500
	Writers   int // batches in flight at once; default 3
	// Rejects receives one NDJSON line per rejected resource.
	Rejects io.Writer
	// Progress is called about every second with the counts so far.
	Progress func(p Progress)
	Now      func() time.Time
}

// Progress is the running state of a load.
type Progress struct {
	Resources  int64 // items finished (any outcome)
	BytesRead  int64
	BytesTotal int64
	Elapsed    time.Duration
}

// Summary is what a load did.
type Summary struct {
	Created, Updated, Unchanged int64
	Rejected                    int64
	Skipped                     map[string]int64 // unsupported types
	Elapsed                     time.Duration
}

// Total is every resource read.
func (s Summary) Total() int64 {
	n := s.Created + s.Updated + s.Unchanged + s.Rejected
	for _, v := range s.Skipped {
		n += v
	}
	return n
}

// String renders the summary for people.
func (s Summary) String() string {
	var b strings.Builder
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.Total()) / s.Elapsed.Seconds()
	}
	fmt.Fprintf(&b, "loaded %d new, %d updated, %d unchanged, %d rejected, %d skipped in %s (%.0f resources/s)\n",
		s.Created, s.Updated, s.Unchanged, s.Rejected, s.skipped(), s.Elapsed.Round(time.Millisecond), rate)
	if len(s.Skipped) > 0 {
		types := make([]string, 0, len(s.Skipped))
		for t := range s.Skipped {
			types = append(types, t)
		}
		sort.Strings(types)
		b.WriteString("skipped (types this server does not store):")
		for _, t := range types {
			fmt.Fprintf(&b, " %s=%d", t, s.Skipped[t])
		}
		b.WriteString("\n")
	}
	return b.String()
}

func (s Summary) skipped() int64 {
	var n int64
	for _, v := range s.Skipped {
		n += v
	}
	return n
}

// retryable rejections: the referenced resource may come later in the input.
func retryable(err error) bool {
	var fe *fhir.Error
	if !errors.As(err, &fe) || len(fe.Issues) == 0 {
		return false
	}
	switch fe.Issues[0].MsgID {
	case "IMM-REF-001", "IMM-REF-006":
		return true
	}
	return false
}

// Source produces items; it counts the bytes it consumed in read.
type Source func(ctx context.Context, read *atomic.Int64, emit func(Item) error) error

// Run loads every input path (files, directories, .gz).
func (l *Loader) Run(ctx context.Context, paths []string) (Summary, error) {
	list, err := files(paths)
	if err != nil {
		return Summary{Skipped: map[string]int64{}}, err
	}
	var total int64
	for _, f := range list {
		total += readCost(f)
	}
	return l.RunSource(ctx, total, func(ctx context.Context, read *atomic.Int64, emit func(Item) error) error {
		for _, f := range list {
			if err := readFile(f, read, emit); err != nil {
				return err
			}
		}
		return nil
	})
}

// RunSource loads what src produces; total is its size in bytes for the
// progress display (0 when unknown).
func (l *Loader) RunSource(ctx context.Context, total int64, src Source) (Summary, error) {
	now := l.Now
	if now == nil {
		now = time.Now
	}
	start := now()
	sum := Summary{Skipped: map[string]int64{}}
	workers := l.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	batchSize := l.BatchSize
	if batchSize <= 0 {
		batchSize = 500
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var bytesRead atomic.Int64
	// The reader numbers items in input order and holds a slot of window
	// for each until the batcher takes it, which bounds what is in memory
	// between the two however the workers' speeds differ.
	raw := make(chan numbered, 256)
	window := make(chan struct{}, reorderWindow)
	readErr := make(chan error, 1)
	go func() {
		defer close(raw)
		var n int64
		readErr <- src(ctx, &bytesRead, func(it Item) error {
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
				return ctx.Err()
			}
			select {
			case raw <- numbered{seq: n, it: it}:
				n++
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()

	// Validation on every core.
	done := make(chan prepared, 64)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range raw {
				p, skip, err := l.prepare(n.it)
				select {
				case done <- prepared{seq: n.seq, p: p, skip: skip, err: err, source: n.it.Source, rawBody: n.it.Body}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()
	ready := inOrder(done, window)

	// Writers: several batches in flight (each its own transaction), so
	// database round trips overlap validation. The aggregator owns the
	// summary and the deferred list.
	writers := l.Writers
	if writers <= 0 {
		writers = 3
	}
	var (
		aggMu sync.Mutex
		// retry holds items whose reference target was in a batch still in
		// flight: they ride along with the next batch sent, which then
		// waits for every batch in flight before it to finish, so a target
		// that was in flight is there by then. deferred holds what still
		// failed after that (its target comes later in the input), for
		// the end.
		retry, deferred []*Parsed
		finished        int64
		firstErr        error
		draining        bool // the input is read: everything retries at the end
		inFlight        int  // batches sent and not yet recorded
		settled         = sync.NewCond(&aggMu)
	)
	lastReport := now()
	report := func(force bool) {
		if l.Progress == nil {
			return
		}
		if t := now(); force || t.Sub(lastReport) >= time.Second {
			lastReport = t
			l.Progress(Progress{Resources: finished, BytesRead: bytesRead.Load(), BytesTotal: total, Elapsed: t.Sub(start)})
		}
	}
	// record accounts for one written batch; the caller holds aggMu.
	record := func(batch []*Parsed, res []Result, final bool) error {
		for i, r := range res {
			p := batch[i]
			switch r.Outcome {
			case interaction.LoadCreated:
				sum.Created++
			case interaction.LoadUpdated:
				sum.Updated++
			case interaction.LoadUnchanged:
				sum.Unchanged++
			default:
				if !final && retryable(r.Err) {
					p.attempts++
					if !draining && p.attempts < 2 {
						retry = append(retry, p)
					} else {
						deferred = append(deferred, p)
					}
					continue
				}
				sum.Rejected++
				if err := l.writeReject(p.Source, p.Body, r.Err); err != nil {
					return err
				}
			}
			finished++
		}
		report(false)
		return nil
	}
	batches := make(chan []*Parsed, writers)
	var wwg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wwg.Add(1)
		go func() {
			defer wwg.Done()
			for b := range batches {
				res, err := l.Sink.Write(ctx, b)
				aggMu.Lock()
				if err == nil {
					err = record(b, res, false)
				} else {
					err = fmt.Errorf("write batch starting at %s: %w", b[0].Source, err)
				}
				if err != nil && firstErr == nil {
					firstErr = err
					cancel()
				}
				inFlight--
				settled.Broadcast()
				aggMu.Unlock()
			}
		}()
	}

	var batch []*Parsed
	send := func() {
		if len(batch) == 0 {
			return
		}
		aggMu.Lock()
		if len(retry) > 0 {
			// The retries go with this batch once the batches in flight
			// are done (their targets were in one of those), and so does
			// whatever failed while waiting.
			for inFlight > 0 {
				settled.Wait()
			}
			batch, retry = append(batch, retry...), nil
		}
		inFlight++
		aggMu.Unlock()
		select {
		case batches <- batch:
		case <-ctx.Done():
			aggMu.Lock()
			inFlight--
			aggMu.Unlock()
		}
		batch = nil
	}
	for pr := range ready {
		switch {
		case pr.skip != "":
			aggMu.Lock()
			sum.Skipped[pr.skip]++
			finished++
			aggMu.Unlock()
		case pr.err != nil:
			aggMu.Lock()
			sum.Rejected++
			finished++
			err := l.writeReject(pr.source, pr.rawBody, pr.err)
			if err != nil && firstErr == nil {
				firstErr = err
				cancel()
			}
			aggMu.Unlock()
		default:
			pr.p.seq = pr.seq
			batch = append(batch, pr.p)
			if len(batch) >= batchSize {
				send()
			}
		}
	}
	send()
	close(batches)
	wwg.Wait()
	deferred, retry = append(retry, deferred...), nil
	draining = true
	// An interrupted load's summary says how long it ran, too.
	stop := func(err error) (Summary, error) {
		sum.Elapsed = now().Sub(start)
		return sum, err
	}
	if firstErr != nil {
		return stop(firstErr)
	}
	if err := <-readErr; err != nil {
		return stop(err)
	}
	// Items whose references came later in the input (or in a batch that
	// was in flight at the same time): retry one batch at a time while
	// that makes progress, then reject what is left.
	final := false
	for len(deferred) > 0 {
		again := deferred
		deferred = nil
		// In input order, so a target held here is written before what
		// references it.
		sort.Slice(again, func(i, j int) bool { return again[i].seq < again[j].seq })
		for i := 0; i < len(again); i += batchSize {
			b := again[i:min(i+batchSize, len(again))]
			res, err := l.Sink.Write(ctx, b)
			if err != nil {
				return stop(fmt.Errorf("write batch starting at %s: %w", b[0].Source, err))
			}
			if err := record(b, res, final); err != nil {
				return stop(err)
			}
		}
		if len(deferred) == len(again) {
			final = true // no progress: the next round rejects
		}
	}
	report(true)
	return stop(nil)
}

// reorderWindow bounds the items between the reader and the batcher.
const reorderWindow = 1024

// numbered is an item and its position in the input.
type numbered struct {
	seq int64
	it  Item
}

// prepared is a validated item (or why it is skipped or rejected).
type prepared struct {
	seq     int64
	p       *Parsed
	skip    string
	err     error
	source  string
	rawBody []byte
}

// inOrder passes the workers' results on in input order, freeing a slot of
// window for each. Workers finish out of order, and batches follow the
// input so that a resource is written no later than what references it
// (when the input has it first).
func inOrder(in <-chan prepared, window <-chan struct{}) <-chan prepared {
	out := make(chan prepared)
	go func() {
		defer close(out)
		held := map[int64]prepared{}
		var next int64
		for pr := range in {
			held[pr.seq] = pr
			for {
				h, ok := held[next]
				if !ok {
					break
				}
				delete(held, next)
				next++
				out <- h
				<-window
			}
		}
	}()
	return out
}

// prepare looks at an item: its type (skipping unsupported ones), the id or
// identifier that makes the load idempotent, and the sink's validation.
func (l *Loader) prepare(it Item) (*Parsed, string, error) {
	if it.Problem != nil {
		return nil, "", it.Problem
	}
	obj, err := fhir.DecodeStrict(it.Body)
	if err != nil {
		return nil, "", err
	}
	typ := fhir.Str(obj, "resourceType")
	if typ == "" {
		return nil, "", fhir.Invalid("IMM-VAL-001", "resourceType", "the resource has no resourceType")
	}
	if !l.Sink.Supports(typ) {
		return nil, typ, nil
	}
	p := &Parsed{Item: it, Type: typ, ID: fhir.Str(obj, "id"), IfNoneExist: it.IfNoneExist, Obj: obj, RawID: fhir.Str(obj, "id")}
	if p.ID == "" {
		p.ID = idFromFullURL(it.FullURL)
	}
	if p.ID == "" && p.IfNoneExist == "" {
		for _, x := range fhir.Arr(obj, "identifier") {
			id, _ := x.(map[string]any)
			if sys, val := fhir.Str(id, "system"), fhir.Str(id, "value"); sys != "" && val != "" {
				p.IfNoneExist = "identifier=" + escapeToken(sys) + "|" + escapeToken(val)
				break
			}
		}
	}
	if p.ID != "" && !fhir.ValidID(p.ID) {
		return nil, "", fhir.Invalid("IMM-ID-001", typ+".id", "%q is not a valid resource id", p.ID)
	}
	if err := l.Sink.Prepare(p); err != nil {
		return nil, "", err
	}
	return p, "", nil
}

// escapeToken escapes a search value (search.html escaping) and makes it
// safe inside a query string.
func escapeToken(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `,`, `\,`, `|`, `\|`, `$`, `\$`)
	return queryEscape(r.Replace(s))
}

// writeReject appends one NDJSON line: where, the resource, the outcome.
func (l *Loader) writeReject(source string, body []byte, err error) error {
	if l.Rejects == nil {
		return nil
	}
	line := map[string]any{
		"source":  source,
		"outcome": fhir.OutcomeObject(fhir.AsError(err).Issues),
	}
	if json.Valid(body) {
		line["resource"] = json.RawMessage(body)
	} else {
		line["resource_text"] = string(body)
	}
	b, mErr := fhir.Marshal(line)
	if mErr != nil {
		return fmt.Errorf("write reject: %w", mErr)
	}
	if _, wErr := l.Rejects.Write(append(b, '\n')); wErr != nil {
		return fmt.Errorf("write reject: %w", wErr)
	}
	return nil
}
