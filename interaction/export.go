package interaction

import (
	"context"
	"encoding/json"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/immunis/immunis/auth"
	"github.com/immunis/immunis/bulk"
	"github.com/immunis/immunis/fhir"
)

// Exports is Bulk Data $export (hl7.org/fhir/uv/bulkdata/export.html): it
// turns a kick-off request and its grant into a bulk.KickOff, and lets
// only the client that started an export poll, download or cancel it.
// The work is the bulk package's.
type Exports struct {
	Service *Service
	Bulk    *bulk.Manager
}

// ExportRequest is a kick-off as the server received it.
type ExportRequest struct {
	// Type and ID name where $export was asked: "" (system), "Patient",
	// or "Group" with the Group's id.
	Type, ID string
	Method   string
	Query    url.Values
	// Body is a POST's Parameters resource (may be empty).
	Body []byte
	// URL is the kick-off URL as sent (the manifest's request).
	URL     string
	Lenient bool
}

// exportPermission is what reading a type for an export needs: r and s,
// which v1 read and v2 rs scopes give.
const exportPermission = auth.PermRead | auth.PermSearch

// KickOff starts an export.
func (e *Exports) KickOff(ctx context.Context, req ExportRequest) (*bulk.Accepted, error) {
	k := &bulk.KickOff{Level: bulk.LevelSystem, Method: req.Method, Request: req.URL, Lenient: req.Lenient}
	switch req.Type {
	case "Patient":
		k.Level = bulk.LevelPatient
	case "Group":
		k.Level, k.GroupID = bulk.LevelGroup, req.ID
	}
	if k.Level == bulk.LevelGroup && !fhir.ValidID(k.GroupID) {
		return nil, notFoundResource("Group", k.GroupID)
	}
	params, err := exportParams(req)
	if err != nil {
		return nil, err
	}
	k.Params = params
	owner, access, err := e.grant(ctx)
	if err != nil {
		return nil, err
	}
	k.Owner, k.Access, k.RequiresAccessToken = owner, access, e.Service.Access != nil
	return e.Bulk.KickOff(ctx, k)
}

// Status reports on an export of the requesting client.
func (e *Exports) Status(ctx context.Context, id string) (*bulk.Status, error) {
	owner, err := e.owner(ctx)
	if err != nil {
		return nil, err
	}
	return e.Bulk.Status(ctx, id, owner)
}

// Cancel deletes an export of the requesting client.
func (e *Exports) Cancel(ctx context.Context, id string) error {
	owner, err := e.owner(ctx)
	if err != nil {
		return err
	}
	return e.Bulk.Cancel(ctx, id, owner)
}

// OpenFile opens a file of an export of the requesting client.
func (e *Exports) OpenFile(ctx context.Context, id string, seq int) (*bulk.File, error) {
	owner, err := e.owner(ctx)
	if err != nil {
		return nil, err
	}
	return e.Bulk.OpenFile(ctx, id, seq, owner)
}

// owner identifies the requesting client: "" with authorization off,
// else the token's client at its issuer.
func (e *Exports) owner(ctx context.Context) (string, error) {
	if e.Service.Access == nil {
		return "", nil
	}
	g := GrantFrom(ctx)
	if g == nil {
		return "", errNoGrant()
	}
	client := g.ClientID
	if client == "" {
		client = g.Subject
	}
	return ClientSource(g.Issuer, client), nil
}

// grant turns the request's grant into the export's owner and access.
// Exports need system/ (or user/) scopes: a patient/ scope's clauses are
// for an app acting for one patient, not for bulk access, and are left
// out. Granular scopes (system/Immunization.rs?status=completed) carry
// their query into the export.
func (e *Exports) grant(ctx context.Context) (string, *bulk.Access, error) {
	owner, err := e.owner(ctx)
	if err != nil || e.Service.Access == nil {
		return owner, nil, err
	}
	g := GrantFrom(ctx)
	a := &bulk.Access{Types: map[string][]bulk.Clause{}}
	var readable []string
	for _, typ := range e.Service.Registry.Types() {
		acc := g.Access(typ, exportPermission)
		if !acc.Allowed {
			continue
		}
		for _, c := range acc.Clauses {
			if c.Patient != "" {
				continue
			}
			a.Types[typ] = append(a.Types[typ], bulk.Clause{Query: c.Query.Encode()})
		}
		if len(a.Types[typ]) > 0 {
			readable = append(readable, typ)
		}
	}
	allowed := len(readable) > 0
	reason := "system/ or user/ read scopes on " + strings.Join(readable, ", ")
	if !allowed {
		reason = "no system/ or user/ scope allows reading any type"
	}
	e.Service.audit(ctx, g, auth.InteractionOperation, "export", "", "", allowed, reason)
	if !allowed {
		return "", nil, forbidden(auth.InteractionOperation, "export", "", exportPermission, reason)
	}
	return owner, a, nil
}

// exportParams lists the kick-off parameters: the query of a GET, the
// Parameters resource of a POST (export.html: "Servers SHALL support GET
// requests and MAY support POST requests that supply parameters using the
// FHIR Parameters Resource").
func exportParams(req ExportRequest) ([]bulk.Param, error) {
	var out []bulk.Param
	names := make([]string, 0, len(req.Query))
	for k := range req.Query {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range req.Query[k] {
			out = append(out, bulk.Param{Name: k, Value: v})
		}
	}
	if req.Method != "POST" || len(strings.TrimSpace(string(req.Body))) == 0 {
		return out, nil
	}
	var p struct {
		ResourceType string            `json:"resourceType"`
		Parameter    []json.RawMessage `json:"parameter"`
	}
	if err := json.Unmarshal(req.Body, &p); err != nil || p.ResourceType != "Parameters" {
		return nil, fhir.Invalid("IMM-BULK-001", "", "a POST kick-off takes a Parameters resource")
	}
	for i, raw := range p.Parameter {
		prm, err := exportParam(raw)
		if err != nil {
			return nil, fhir.Invalid("IMM-BULK-001", "Parameters.parameter["+strconv.Itoa(i)+"]", "%v", err)
		}
		out = append(out, prm)
	}
	return out, nil
}

// exportParam reads one Parameters.parameter: its name and its value as a
// string (a Reference's reference for patient).
func exportParam(raw json.RawMessage) (bulk.Param, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return bulk.Param{}, err
	}
	var name string
	if err := json.Unmarshal(fields["name"], &name); err != nil || name == "" {
		return bulk.Param{}, errorString("a parameter needs a name")
	}
	for k, v := range fields {
		if !strings.HasPrefix(k, "value") {
			continue
		}
		if k == "valueReference" {
			var ref struct {
				Reference string `json:"reference"`
			}
			if err := json.Unmarshal(v, &ref); err != nil {
				return bulk.Param{}, errorString("parameter " + name + ": malformed valueReference")
			}
			return bulk.Param{Name: name, Value: ref.Reference}, nil
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return bulk.Param{}, errorString("parameter " + name + ": " + k + " must be a string")
		}
		return bulk.Param{Name: name, Value: s}, nil
	}
	return bulk.Param{}, errorString("parameter " + name + " has no value")
}

type errorString string

func (e errorString) Error() string { return string(e) }
