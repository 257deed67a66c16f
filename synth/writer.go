package synth

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
)

// Output file names inside the directory WriteDir fills.
const (
	ManifestFile = "manifest.json"
	TruthFile    = "truth.ndjson"
)

// Manifest is manifest.json: what was generated, from what, and the truth in summary. Its
// "output" list follows the Bulk Data export manifest (type, url, count).
type Manifest struct {
	TransactionTime string       `json:"transactionTime"`
	Generator       string       `json:"generator"`
	Seed            uint64       `json:"seed"`
	Patients        int          `json:"patients"`
	ZIPs            []string     `json:"zips"`
	AsOf            string       `json:"asOf"`
	RecordsSince    string       `json:"recordsSince"`
	Output          []OutputFile `json:"output"`
	Truth           OutputFile   `json:"truth"`
	Summary         *Summary     `json:"summary"`
}

// OutputFile is one file of the output.
type OutputFile struct {
	Type  string `json:"type"`
	URL   string `json:"url"`
	Count int    `json:"count"`
}

// dirWriter writes one NDJSON file per resource type, plus the truth stream ("" below).
type dirWriter struct {
	dir   string
	files map[string]*ndjsonFile
}

type ndjsonFile struct {
	name  string
	f     *os.File
	w     *bufio.Writer
	count int
}

func (d *dirWriter) create(typ, suffix string) error {
	name := typ + ".ndjson"
	if typ == "" {
		name = TruthFile
	}
	name += suffix
	f, err := os.Create(filepath.Join(d.dir, name))
	if err != nil {
		return err
	}
	d.files[typ] = &ndjsonFile{name: name, f: f, w: bufio.NewWriterSize(f, 1<<20)}
	return nil
}

func (d *dirWriter) write(typ string, b []byte) error {
	f := d.files[typ]
	f.count++
	f.w.Write(b)
	return f.w.WriteByte('\n')
}

func (d *dirWriter) Resource(typ string, b []byte) error { return d.write(typ, b) }
func (d *dirWriter) Truth(b []byte) error                { return d.write("", b) }

func (d *dirWriter) close() error {
	var errs []error
	for _, f := range d.files {
		errs = append(errs, f.w.Flush(), f.f.Close())
	}
	return errors.Join(errs...)
}

// gzipDirWriter writes the same files gzip-compressed. Workers compress each chunk of people
// into one gzip member per file, so compression uses every core; a file is the concatenation
// of its members (RFC 1952 §2.2), which gzip tools and Go's gzip.Reader read as one stream.
type gzipDirWriter struct {
	dirWriter
	pending map[string]*bytes.Buffer // lines written one by one, not yet compressed
	zs      sync.Pool                // *gzip.Writer
}

func (d *gzipDirWriter) write(typ string, b []byte) error {
	p := d.pending[typ]
	if p == nil {
		p = &bytes.Buffer{}
		d.pending[typ] = p
	}
	d.files[typ].count++
	p.Write(b)
	return p.WriteByte('\n')
}

func (d *gzipDirWriter) Resource(typ string, b []byte) error { return d.write(typ, b) }
func (d *gzipDirWriter) Truth(b []byte) error                { return d.write("", b) }

// member compresses data into one gzip member.
func (d *gzipDirWriter) member(data []byte) []byte {
	var out bytes.Buffer
	z, _ := d.zs.Get().(*gzip.Writer)
	if z == nil {
		z, _ = gzip.NewWriterLevel(&out, gzip.BestSpeed)
	} else {
		z.Reset(&out)
	}
	z.Write(data)
	z.Close()
	d.zs.Put(z)
	return out.Bytes()
}

// flushPending writes lines received one by one as a member of their own.
func (d *gzipDirWriter) flushPending(typ string) error {
	p := d.pending[typ]
	if p == nil || p.Len() == 0 {
		return nil
	}
	_, err := d.files[typ].w.Write(d.member(p.Bytes()))
	p.Reset()
	return err
}

func (d *gzipDirWriter) encodeChunk(c *chunk) {
	lines := map[string]*bytes.Buffer{}
	counts := map[string]int{}
	for _, it := range c.items {
		typ := ""
		if it.typ >= 0 {
			typ = resourceTypes[it.typ]
		}
		b := lines[typ]
		if b == nil {
			b = &bytes.Buffer{}
			lines[typ] = b
		}
		b.Write(c.buf[it.start:it.end])
		b.WriteByte('\n')
		counts[typ]++
	}
	c.encoded = map[string]encodedPart{}
	for typ, b := range lines {
		c.encoded[typ] = encodedPart{data: d.member(b.Bytes()), lines: counts[typ]}
	}
}

func (d *gzipDirWriter) writeChunk(c *chunk) error {
	for _, typ := range append(ResourceTypes(), "") {
		part, ok := c.encoded[typ]
		if !ok {
			continue
		}
		if err := d.flushPending(typ); err != nil {
			return err
		}
		f := d.files[typ]
		f.count += part.lines
		if _, err := f.w.Write(part.data); err != nil {
			return err
		}
	}
	return nil
}

func (d *gzipDirWriter) close() error {
	var errs []error
	for typ, f := range d.files {
		if err := d.flushPending(typ); err != nil {
			errs = append(errs, err)
		}
		if f.count == 0 { // a valid, empty gzip file
			f.w.Write(d.member(nil))
		}
	}
	return errors.Join(append(errs, d.dirWriter.close())...)
}

// WriteDir streams the jurisdiction into dir (created if needed) as Organization.ndjson,
// Practitioner.ndjson, Patient.ndjson, Immunization.ndjson and truth.ndjson (each ".gz" when gz)
// and manifest.json.
func (g *Generator) WriteDir(ctx context.Context, dir string, gz bool) (*Manifest, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	dw := dirWriter{dir: dir, files: map[string]*ndjsonFile{}}
	suffix := ""
	if gz {
		suffix = ".gz"
	}
	for _, t := range append(ResourceTypes(), "") {
		if err := dw.create(t, suffix); err != nil {
			dw.close()
			return nil, err
		}
	}
	var (
		h       Handler = &dw
		closeFn         = dw.close
	)
	if gz {
		gw := &gzipDirWriter{dirWriter: dw, pending: map[string]*bytes.Buffer{}}
		h, closeFn = gw, gw.close
	}
	sum, err := g.Stream(ctx, h)
	if cerr := closeFn(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	m := g.manifest(sum, &dw)
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return m, os.WriteFile(filepath.Join(dir, ManifestFile), append(b, '\n'), 0o644)
}

func (g *Generator) manifest(sum *Summary, w *dirWriter) *Manifest {
	m := &Manifest{TransactionTime: g.cfg.AsOf.String() + "T00:00:00Z", Generator: "immunis synth",
		Seed: g.cfg.Seed, Patients: g.cfg.Patients, AsOf: g.cfg.AsOf.String(),
		RecordsSince: g.cfg.RecordsSince.String(), Summary: sum}
	for _, z := range g.zips {
		m.ZIPs = append(m.ZIPs, z.zip)
	}
	for _, t := range resourceTypes {
		f := w.files[t]
		m.Output = append(m.Output, OutputFile{Type: t, URL: f.name, Count: f.count})
	}
	tf := w.files[""]
	m.Truth = OutputFile{Type: "Truth", URL: tf.name, Count: tf.count}
	return m
}
