package bulk

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/search"
	"github.com/immunis/immunis/store"
)

// File is one file of a complete export, ready to be written.
type File struct {
	Type  string
	Count int64
	// Expires is when the file stops being served.
	Expires time.Time

	m    *Manager
	job  *store.BulkJob
	spec *Spec
	f    *store.BulkFile
}

// ErrCountMismatch means a regenerated file did not have the lines the
// manifest announced: the snapshot was changed behind the export's back
// (history removed, or index rows rebuilt differently).
var ErrCountMismatch = errors.New("regenerated file does not match its manifest count")

// OpenFile finds file seq of an export its owner started.
func (m *Manager) OpenFile(ctx context.Context, id string, seq int, owner string) (*File, error) {
	j, err := m.job(ctx, id, owner)
	if err != nil {
		return nil, err
	}
	if j.Status != store.BulkComplete {
		return nil, fhir.Errorf(fhir.KindNotFound, fhir.IssueNotFound, "IMM-BULK-053", "export %q is not complete; poll its status first", id)
	}
	f, err := m.Store.File(ctx, id, seq)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fhir.Errorf(fhir.KindNotFound, fhir.IssueNotFound, "IMM-BULK-054", "export %q has no file %d", id, seq)
	}
	if err != nil {
		return nil, fhir.Internal(err)
	}
	spec, err := decodeSpec(j.Spec)
	if err != nil {
		return nil, fhir.Internal(err)
	}
	typ := f.Type
	if f.Kind == store.BulkDeleted {
		typ = "Bundle"
	}
	return &File{Type: typ, Count: f.Count, Expires: j.ExpiresAt, m: m, job: j, spec: spec, f: f}, nil
}

// WriteTo writes the file as NDJSON, one resource per line, regenerating
// it from the export's snapshot as it goes. It returns ErrCountMismatch
// (after writing) when the lines are not what the manifest says; the
// caller should then break the response off rather than end it cleanly.
func (f *File) WriteTo(ctx context.Context, w io.Writer) error {
	if f.f.Kind == store.BulkError {
		_, err := w.Write(f.f.Body)
		return err
	}
	st := step{Type: f.f.Type, Deleted: f.f.Kind == store.BulkDeleted}
	p, err := f.m.plan(f.spec, f.job.TransactionTime, st)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var n int64
	err = f.m.each(ctx, p, f.f.From, f.f.To, !st.Deleted, func(r *store.BulkRow) error {
		n++
		if st.Deleted {
			return writeDeletion(bw, f.f.Type, r)
		}
		return writeResource(bw, p.elements, f.f.Type, r.Content)
	})
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if n != f.f.Count {
		return fmt.Errorf("%w: export %s file %d has %d lines, the manifest says %d", ErrCountMismatch, f.job.ID, f.f.Seq, n, f.f.Count)
	}
	return nil
}

// writeResource writes one resource as one line: as stored, or subset to
// the _elements asked (and tagged SUBSETTED).
func writeResource(w *bufio.Writer, elements *search.Query, typ string, body []byte) error {
	if elements != nil {
		sub, err := search.Subset(elements, typ, body)
		if err != nil {
			return err
		}
		body = sub
	}
	if bytes.IndexByte(body, '\n') >= 0 {
		// JSON whitespace only; a line must hold the whole resource.
		var buf bytes.Buffer
		if err := json.Compact(&buf, body); err != nil {
			return fmt.Errorf("stored %s is not JSON: %w", typ, err)
		}
		body = buf.Bytes()
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	return w.WriteByte('\n')
}

// deletion is a line of a deleted file (export.html "deleted"): a
// transaction Bundle that deletes one resource.
type deletion struct {
	ResourceType string          `json:"resourceType"`
	Meta         deletionMeta    `json:"meta"`
	Type         string          `json:"type"`
	Entry        []deletionEntry `json:"entry"`
}

type deletionMeta struct {
	LastUpdated string `json:"lastUpdated"`
}

type deletionEntry struct {
	Request deletionRequest `json:"request"`
}

type deletionRequest struct {
	Method string `json:"method"`
	URL    string `json:"url"`
}

func writeDeletion(w *bufio.Writer, typ string, r *store.BulkRow) error {
	b, err := json.Marshal(deletion{
		ResourceType: "Bundle",
		Meta:         deletionMeta{LastUpdated: fhir.FormatInstant(r.LastUpdated)},
		Type:         "transaction",
		Entry:        []deletionEntry{{Request: deletionRequest{Method: "DELETE", URL: typ + "/" + r.ID}}},
	})
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	return w.WriteByte('\n')
}
