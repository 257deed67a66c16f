package bulk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/store"
)

// Status is the answer to a status poll (export.html "Bulk Data Status
// Request"): in progress (Manifest nil, Failure nil), complete (Manifest),
// or failed (Failure).
type Status struct {
	Progress string
	// RetryAfter is the suggested delay before the next poll.
	RetryAfter time.Duration
	Manifest   []byte
	// Expires is when the files stop being served (complete or failed).
	Expires time.Time
	Failure *fhir.Error
}

// Status reports on an export its owner started.
func (m *Manager) Status(ctx context.Context, id, owner string) (*Status, error) {
	j, err := m.job(ctx, id, owner)
	if err != nil {
		return nil, err
	}
	switch j.Status {
	case store.BulkComplete:
		files, err := m.Store.Files(ctx, id)
		if err != nil {
			return nil, fhir.Internal(err)
		}
		spec, err := decodeSpec(j.Spec)
		if err != nil {
			return nil, fhir.Internal(err)
		}
		body, err := m.manifest(j, spec, files)
		if err != nil {
			return nil, fhir.Internal(err)
		}
		return &Status{Manifest: body, Expires: j.ExpiresAt}, nil
	case store.BulkFailed:
		m.log().Error("bulk: status of a failed export", "job", id, "err", j.Error)
		return &Status{Expires: j.ExpiresAt, Failure: &fhir.Error{Kind: fhir.KindInternal, Issues: []fhir.Issue{{
			Severity: fhir.SeverityError, Code: fhir.IssueException, MsgID: "IMM-BULK-052",
			Diagnostics: "the export failed; the server log has the cause (export " + id + ")"}}}}, nil
	}
	return &Status{Progress: j.Progress, RetryAfter: retryAfter(m.now().Sub(j.CreatedAt))}, nil
}

// retryAfter backs off with the age of the export: a second at first, up
// to half a minute for long ones.
func retryAfter(age time.Duration) time.Duration {
	d := age / 10
	return min(max(d.Round(time.Second), time.Second), 30*time.Second)
}

// manifestItem is one file of a manifest.
type manifestItem struct {
	Type  string `json:"type"`
	URL   string `json:"url"`
	Count int64  `json:"count"`
}

// manifest is the complete status body (export.html "Response - Complete
// Status").
type manifest struct {
	TransactionTime     string          `json:"transactionTime"`
	Request             string          `json:"request"`
	RequiresAccessToken bool            `json:"requiresAccessToken"`
	Output              []manifestItem  `json:"output"`
	Deleted             *[]manifestItem `json:"deleted,omitempty"`
	Error               []manifestItem  `json:"error"`
}

func (m *Manager) manifest(j *store.BulkJob, spec *Spec, files []store.BulkFile) ([]byte, error) {
	mf := manifest{
		TransactionTime:     fhir.FormatInstant(j.TransactionTime),
		Request:             spec.Request,
		RequiresAccessToken: spec.RequiresAccessToken,
		Output:              []manifestItem{},
		Error:               []manifestItem{},
	}
	if !spec.Since.IsZero() {
		mf.Deleted = &[]manifestItem{}
	}
	for _, f := range files {
		it := manifestItem{Type: f.Type, URL: m.StatusURL + "/" + j.ID + "/file/" + strconv.Itoa(f.Seq), Count: f.Count}
		switch f.Kind {
		case store.BulkOutput:
			mf.Output = append(mf.Output, it)
		case store.BulkDeleted:
			it.Type = "Bundle"
			*mf.Deleted = append(*mf.Deleted, it)
		case store.BulkError:
			mf.Error = append(mf.Error, it)
		}
	}
	return encodeJSON(mf)
}

// outcomeLines renders issues as NDJSON, one OperationOutcome each.
func outcomeLines(issues []fhir.Issue) ([]byte, error) {
	var b bytes.Buffer
	for _, is := range issues {
		line, err := fhir.Marshal(fhir.OutcomeObject([]fhir.Issue{is}))
		if err != nil {
			return nil, err
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

func encodeJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return b, nil
}
