package synth

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
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

// dirWriter writes one NDJSON file per resource type, plus the truth stream.
type dirWriter struct {
	dir   string
	gz    bool
	files map[string]*ndjsonFile
}

type ndjsonFile struct {
	name  string
	f     *os.File
	z     *gzip.Writer
	w     *bufio.Writer
	count int
}

func (d *dirWriter) file(typ string) (*ndjsonFile, error) {
	if f, ok := d.files[typ]; ok {
		return f, nil
	}
	name := typ + ".ndjson"
	if typ == "" {
		name = TruthFile
	}
	if d.gz {
		name += ".gz"
	}
	f, err := os.Create(filepath.Join(d.dir, name))
	if err != nil {
		return nil, err
	}
	nf := &ndjsonFile{name: name, f: f}
	var w io.Writer = f
	if d.gz {
		nf.z, _ = gzip.NewWriterLevel(f, gzip.BestSpeed)
		w = nf.z
	}
	nf.w = bufio.NewWriterSize(w, 1<<20)
	d.files[typ] = nf
	return nf, nil
}

func (d *dirWriter) write(typ string, b []byte) error {
	f, err := d.file(typ)
	if err != nil {
		return err
	}
	f.count++
	f.w.Write(b)
	return f.w.WriteByte('\n')
}

func (d *dirWriter) Resource(typ string, b []byte) error { return d.write(typ, b) }
func (d *dirWriter) Truth(b []byte) error                { return d.write("", b) }

func (d *dirWriter) close() error {
	var errs []error
	for _, f := range d.files {
		errs = append(errs, f.w.Flush())
		if f.z != nil {
			errs = append(errs, f.z.Close())
		}
		errs = append(errs, f.f.Close())
	}
	return errors.Join(errs...)
}

// WriteDir streams the jurisdiction into dir (created if needed) as Organization.ndjson,
// Practitioner.ndjson, Patient.ndjson, Immunization.ndjson (".gz" added when gz), truth.ndjson
// and manifest.json.
func (g *Generator) WriteDir(ctx context.Context, dir string, gz bool) (*Manifest, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	w := &dirWriter{dir: dir, gz: gz, files: map[string]*ndjsonFile{}}
	for _, t := range append(ResourceTypes(), "") {
		if _, err := w.file(t); err != nil {
			w.close()
			return nil, err
		}
	}
	sum, err := g.Stream(ctx, w)
	if cerr := w.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	m := g.manifest(sum, w)
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
