package synth

import (
	"bytes"
	"context"
	"slices"
	"strconv"
	"sync"
)

// Resource types, in the order Stream emits them.
const (
	TypeOrganization = "Organization"
	TypePractitioner = "Practitioner"
	TypePatient      = "Patient"
	TypeImmunization = "Immunization"
)

// resourceTypes are the types the generator writes, in output order.
var resourceTypes = [...]string{TypeOrganization, TypePractitioner, TypePatient, TypeImmunization}

// ResourceTypes lists the resource types the generator writes, in output order.
func ResourceTypes() []string { return slices.Clone(resourceTypes[:]) }

// Handler receives the stream. Resource gets one FHIR resource as compact JSON; Truth gets one
// truth record (see TruthRecord) as JSON. Both are called from a single goroutine, in a fixed
// order. The generator never writes to a slice it has handed over, so a handler may keep it
// (e.g. queue it for a batch) without copying. An error stops the stream.
type Handler interface {
	Resource(typ string, body []byte) error
	Truth(line []byte) error
}

// Generator produces a synthetic jurisdiction. It is safe to stream from one Generator
// several times; each stream yields the same output.
type Generator struct {
	cfg   Config
	t     *tables
	sched Forecaster
	zips  []zipInfo
	dir   *directory
	ns    string
	frags *fragments
}

// New checks cfg and prepares a Generator.
func New(cfg Config) (*Generator, error) {
	t, err := loadTables()
	if err != nil {
		return nil, err
	}
	if err := cfg.validate(t); err != nil {
		return nil, err
	}
	g := &Generator{cfg: cfg, t: t, sched: cfg.Schedule, ns: cfg.namespace(), frags: newFragments(t)}
	if g.sched == nil {
		ts, err := NewTableSchedule()
		if err != nil {
			return nil, err
		}
		g.sched = ts
	}
	if len(cfg.ZIPs) == 0 {
		for _, z := range t.zips {
			g.zips = append(g.zips, z)
		}
		slices.SortFunc(g.zips, func(a, b zipInfo) int { return compareStrings(a.zip, b.zip) })
	}
	for _, z := range cfg.ZIPs {
		zi, ok := t.zips[z]
		if !ok {
			zi = zipInfo{zip: z, state: t.stateOf(z), area: "555"}
		}
		g.zips = append(g.zips, zi)
	}
	g.dir = buildDirectory(&g.cfg, t, g.zips)
	return g, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Config returns the configuration in use.
func (g *Generator) Config() Config { return g.cfg }

// Each streams every resource to fn and discards the truth records: the form a loader uses.
func (g *Generator) Each(ctx context.Context, fn func(typ string, body []byte) error) (*Summary, error) {
	return g.Stream(ctx, funcHandler(fn))
}

type funcHandler func(typ string, body []byte) error

func (f funcHandler) Resource(typ string, body []byte) error { return f(typ, body) }
func (f funcHandler) Truth([]byte) error                     { return nil }

// chunkSize is how many people one worker builds at a time.
const chunkSize = 64

type item struct {
	typ        int8 // index into resourceTypes; -1 for truth
	start, end int
}

type chunk struct {
	buf   []byte
	items []item
	stats Summary
	// encoded is set by a chunkEncoder: per output stream (resource type, or "" for truth) the
	// chunk's lines already encoded, and how many lines that is.
	encoded map[string]encodedPart
}

type encodedPart struct {
	data  []byte
	lines int
}

// chunkEncoder is a Handler that encodes whole chunks in the workers (e.g. compresses them) and
// writes them in order afterwards, instead of receiving resources one by one.
type chunkEncoder interface {
	Handler
	encodeChunk(c *chunk)      // in a worker goroutine
	writeChunk(c *chunk) error // in the delivering goroutine, in stream order
}

// Stream generates everything and hands it to h: Organizations, Practitioners, then each
// person's Patient records followed by their Immunizations, with truth records interleaved.
// Every reference points backwards in the stream, so a loader can write resources as they come.
// Memory stays bounded: at most a few chunks of people are in flight, whatever Config.Patients.
func (g *Generator) Stream(ctx context.Context, h Handler) (*Summary, error) {
	sum := g.newSummary()
	for i := range g.dir.orgs {
		if err := h.Resource(TypeOrganization, g.appendOrganization(nil, &g.dir.orgs[i])); err != nil {
			return nil, err
		}
		sum.Counts[TypeOrganization]++
	}
	for i := range g.dir.practitioners {
		if err := h.Resource(TypePractitioner, appendPractitioner(nil, &g.dir.practitioners[i])); err != nil {
			return nil, err
		}
		sum.Counts[TypePractitioner]++
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	nChunks := (g.cfg.Patients + chunkSize - 1) / chunkSize
	type job struct {
		n    int
		done chan *chunk
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	for w := 0; w < g.cfg.workers(); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var scratch []byte // grows to the largest chunk, reused
			for j := range jobs {
				c := &chunk{buf: scratch[:0]}
				if ctx.Err() == nil {
					g.buildChunk(c, j.n)
				}
				if enc, ok := h.(chunkEncoder); ok {
					enc.encodeChunk(c)
					scratch, c.buf = c.buf, nil
				} else {
					// Hand over an exact-size copy: handlers may keep slices of it.
					scratch, c.buf = c.buf, bytes.Clone(c.buf)
				}
				j.done <- c
			}
		}()
	}
	window := 2*g.cfg.workers() + 2
	var pending []chan *chunk
	var err error
	emit := func() {
		c := <-pending[0]
		pending = pending[1:]
		if err == nil {
			if err = ctx.Err(); err == nil {
				err = g.deliver(c, h, sum)
			}
			if err != nil {
				cancel()
			}
		}
	}
	for n := 0; n < nChunks && err == nil; n++ {
		done := make(chan *chunk, 1)
		select {
		case jobs <- job{n, done}:
			pending = append(pending, done)
		case <-ctx.Done():
			err = ctx.Err()
		}
		if len(pending) >= window {
			emit()
		}
	}
	close(jobs)
	for len(pending) > 0 {
		emit()
	}
	wg.Wait()
	if err != nil {
		return nil, err
	}
	sum.finish()
	return sum, nil
}

func (g *Generator) deliver(c *chunk, h Handler, sum *Summary) error {
	if enc, ok := h.(chunkEncoder); ok {
		if err := enc.writeChunk(c); err != nil {
			return err
		}
		sum.add(&c.stats)
		return nil
	}
	for _, it := range c.items {
		body := c.buf[it.start:it.end]
		if it.typ < 0 {
			if err := h.Truth(body); err != nil {
				return err
			}
			continue
		}
		if err := h.Resource(resourceTypes[it.typ], body); err != nil {
			return err
		}
	}
	sum.add(&c.stats)
	return nil
}

// buildChunk generates people n*chunkSize … into c, appending to c.buf.
func (g *Generator) buildChunk(c *chunk, n int) {
	c.stats.reset(g)
	lo := n * chunkSize
	hi := min(lo+chunkSize, g.cfg.Patients)
	for i := lo; i < hi; i++ {
		g.buildPerson(c, i)
	}
}

func (c *chunk) add(typ int8, start int) {
	c.items = append(c.items, item{typ: typ, start: start, end: len(c.buf)})
}

// buildPerson simulates one person and serializes their records.
func (g *Generator) buildPerson(c *chunk, i int) {
	r := newRNG(g.cfg.Seed, uint64(i))
	pr := r.sub(1)
	p := g.newPerson(i, &pr)
	s := &sim{g: g, p: p, r: r.sub(2), declined: map[string]bool{}, refused: map[string]int{}}
	s.childhood()
	s.flu()
	s.covid()
	s.adultCampaigns()
	s.r = r.sub(3)
	s.duplicatePatients()
	s.duplicateDoses()

	// Only what happened on or after RecordsSince is in the IIS.
	evs := s.events[:0]
	for _, e := range s.events {
		if e.date >= g.cfg.RecordsSince && e.date <= g.cfg.AsOf {
			evs = append(evs, e)
		}
	}
	slices.SortStableFunc(evs, func(a, b event) int {
		if a.date != b.date {
			return int(a.date - b.date)
		}
		return a.seq - b.seq
	})
	ids := make(map[int]string, len(evs))
	for k := range evs {
		evs[k].id = p.id + "-i" + strconv.Itoa(k+1)
		ids[evs[k].seq] = evs[k].id
	}
	for k := range p.records {
		start := len(c.buf)
		c.buf = g.appendPatient(c.buf, p, &p.records[k])
		c.add(2, start)
		c.stats.Counts[TypePatient]++
	}
	for k := range evs {
		start := len(c.buf)
		c.buf = g.appendImmunization(c.buf, p, &evs[k])
		c.add(3, start)
		c.stats.Counts[TypeImmunization]++
	}
	c.appendTruth(p, evs, ids)
	g.tally(&c.stats, p, evs)
}
