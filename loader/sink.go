package loader

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/interaction"
)

func queryEscape(s string) string { return url.QueryEscape(s) }

// DBSink loads through the interaction layer into the configured store.
type DBSink struct {
	Service *interaction.Service
	cache   interaction.RefCache
}

// Supports implements Sink.
func (d *DBSink) Supports(typ string) bool { return d.Service.Registry.Supports(typ) }

// Prepare validates like the REST API does (google/fhir R4 + profile rules).
func (d *DBSink) Prepare(p *Parsed) error {
	return d.Service.ValidateDecoded(p.Type, p.Body, p.Obj)
}

// Write implements Sink: one database transaction per batch.
func (d *DBSink) Write(ctx context.Context, batch []*Parsed) ([]Result, error) {
	items := make([]interaction.LoadItem, len(batch))
	for i, p := range batch {
		items[i] = interaction.LoadItem{Type: p.Type, ID: p.ID, IfNoneExist: p.IfNoneExist, Obj: p.Obj,
			Raw: fhir.Raw{Body: p.Body, ID: p.RawID}}
	}
	res, err := d.Service.LoadBatch(ctx, items, &d.cache)
	if err != nil {
		return nil, err
	}
	out := make([]Result, len(res))
	for i, r := range res {
		out[i] = Result{Outcome: r.Outcome, Err: r.Err}
	}
	return out, nil
}

// HTTPSink loads over HTTP through a running server, as batch Bundles of
// PUT (known id) or conditional POST entries; the server validates.
type HTTPSink struct {
	BaseURL string // FHIR base, e.g. http://127.0.0.1:8080/fhir
	Client  *http.Client
	// Header is added to every request (e.g. Authorization).
	Header http.Header
	types  map[string]bool
}

// Init reads the server's CapabilityStatement for the types it stores.
func (h *HTTPSink) Init(ctx context.Context) error {
	if h.Client == nil {
		h.Client = &http.Client{Timeout: 5 * time.Minute}
	}
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(h.BaseURL, "/")+"/metadata", nil)
	if err != nil {
		return err
	}
	h.addHeaders(req)
	resp, err := h.Client.Do(req)
	if err != nil {
		return fmt.Errorf("read %s/metadata: %w", h.BaseURL, err)
	}
	defer resp.Body.Close()
	var cs struct {
		Rest []struct {
			Resource []struct {
				Type string `json:"type"`
			} `json:"resource"`
		} `json:"rest"`
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("read %s/metadata: HTTP %d", h.BaseURL, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&cs); err != nil {
		return fmt.Errorf("read %s/metadata: %w", h.BaseURL, err)
	}
	h.types = map[string]bool{}
	for _, r := range cs.Rest {
		for _, res := range r.Resource {
			h.types[res.Type] = true
		}
	}
	return nil
}

func (h *HTTPSink) addHeaders(req *http.Request) {
	for k, vs := range h.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
}

// Supports implements Sink.
func (h *HTTPSink) Supports(typ string) bool { return h.types[typ] }

// Prepare implements Sink; the server validates.
func (h *HTTPSink) Prepare(*Parsed) error { return nil }

// Write implements Sink.
func (h *HTTPSink) Write(ctx context.Context, batch []*Parsed) ([]Result, error) {
	entries := make([]any, len(batch))
	for i, p := range batch {
		req := map[string]any{"method": "PUT", "url": p.Type + "/" + p.ID}
		body := p.Body
		if p.ID == "" {
			req = map[string]any{"method": "POST", "url": p.Type}
			if p.IfNoneExist != "" {
				req["ifNoneExist"] = p.IfNoneExist
			}
		} else {
			// PUT needs the id in the body too.
			var obj map[string]any
			if err := json.Unmarshal(body, &obj); err == nil {
				obj["id"] = p.ID
				if b, err := fhir.Marshal(obj); err == nil {
					body = b
				}
			}
		}
		entries[i] = map[string]any{"resource": json.RawMessage(body), "request": req}
	}
	payload, err := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "batch", "entry": entries})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimSuffix(h.BaseURL, "/"), bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Prefer", "return=OperationOutcome")
	h.addHeaders(req)
	resp, err := h.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("POST batch: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("POST batch: %w", err)
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("POST batch: HTTP %d: %s", resp.StatusCode, raw)
	}
	var out struct {
		Entry []struct {
			Response struct {
				Status  string          `json:"status"`
				Outcome json.RawMessage `json:"outcome"`
			} `json:"response"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || len(out.Entry) != len(batch) {
		return nil, fmt.Errorf("POST batch: unexpected response (%d entries for %d): %v", len(out.Entry), len(batch), err)
	}
	res := make([]Result, len(batch))
	for i, e := range out.Entry {
		st := e.Response.Status
		switch {
		case strings.HasPrefix(st, "201"):
			res[i].Outcome = interaction.LoadCreated
		case strings.HasPrefix(st, "200"):
			res[i].Outcome = interaction.LoadUpdated
			if bytes.Contains(e.Response.Outcome, []byte(interaction.NoChangeMsgID)) {
				res[i].Outcome = interaction.LoadUnchanged
			}
		default:
			res[i].Outcome = interaction.LoadRejected
			res[i].Err = outcomeError(st, e.Response.Outcome)
		}
	}
	return res, nil
}

// outcomeError rebuilds a *fhir.Error from a response entry's outcome.
func outcomeError(status string, raw json.RawMessage) error {
	var oo struct {
		Issue []struct {
			Severity    string   `json:"severity"`
			Code        string   `json:"code"`
			Diagnostics string   `json:"diagnostics"`
			Expression  []string `json:"expression"`
			Details     struct {
				Coding []struct {
					Code string `json:"code"`
				} `json:"coding"`
			} `json:"details"`
		} `json:"issue"`
	}
	_ = json.Unmarshal(raw, &oo)
	fe := &fhir.Error{Kind: fhir.KindInvalid}
	for _, is := range oo.Issue {
		i := fhir.Issue{Severity: fhir.Severity(is.Severity), Code: fhir.IssueType(is.Code), Diagnostics: is.Diagnostics, Expression: is.Expression}
		if len(is.Details.Coding) > 0 {
			i.MsgID = is.Details.Coding[0].Code
		}
		fe.Issues = append(fe.Issues, i)
	}
	if len(fe.Issues) == 0 {
		fe.Issues = []fhir.Issue{{Severity: fhir.SeverityError, Code: fhir.IssueProcessing, Diagnostics: "server answered " + status}}
	}
	return fe
}
