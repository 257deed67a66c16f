package interaction

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/immunis/immunis/auth"
	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/store"
)

// BundleOptions are the request-level settings of a batch or transaction.
type BundleOptions struct {
	// ReturnRepresentation puts each written resource in its response
	// entry (Prefer: return=representation).
	ReturnRepresentation bool
}

// entry is one parsed Bundle.entry of a batch or transaction.
type entry struct {
	index       int
	method      string
	typ, id     string
	version     string // GET …/_history/v
	query       string // conditional criteria, or search parameters for GET
	ifMatch     string
	ifNoneExist string
	fullURL     string
	obj         fhir.Object
	patch       jsonpatch.Patch

	// outcome of processing
	res     *fhir.Resource
	created bool
	noop    bool // an update that changed nothing
	status  string
	outcome []fhir.Issue
	bundle  *fhir.Bundle // GET searches
}

// Bundle processes a batch or transaction Bundle (http.html#transaction).
// A transaction is one database transaction: every entry succeeds or
// nothing is written. A batch processes each entry on its own.
func (s *Service) Bundle(ctx context.Context, body []byte, opt BundleOptions) (*fhir.Bundle, error) {
	obj, err := fhir.DecodeStrict(body)
	if err != nil {
		return nil, err
	}
	if rt := fhir.Str(obj, "resourceType"); rt != "Bundle" {
		return nil, fhir.Invalid("IMM-TX-001", "resourceType", "POST to the base expects a Bundle, got %q", rt)
	}
	btype := fhir.Str(obj, "type")
	if btype != "batch" && btype != "transaction" {
		return nil, fhir.Invalid("IMM-TX-002", "Bundle.type", "Bundle.type must be batch or transaction, got %q", btype)
	}
	raw := fhir.Arr(obj, "entry")
	entries := make([]*entry, 0, len(raw))
	var issues []fhir.Issue
	for i, r := range raw {
		m, _ := r.(map[string]any)
		e, err := s.parseEntry(i, m, btype == "transaction")
		if err != nil {
			if btype == "transaction" {
				issues = append(issues, prefixIssues(fhir.AsError(err).Issues, i)...)
				continue
			}
			e = &entry{index: i}
			e.fail(err)
		}
		entries = append(entries, e)
	}
	if len(issues) > 0 {
		return nil, &fhir.Error{Kind: fhir.KindInvalid, Issues: issues}
	}
	if btype == "transaction" {
		if err := s.transaction(ctx, entries); err != nil {
			return nil, err
		}
	} else {
		s.batch(ctx, entries)
	}
	out := fhir.NewBundle(btype + "-response")
	out.ID = s.newID()
	for _, e := range entries {
		out.Entry = append(out.Entry, s.responseEntry(e, opt))
	}
	return out, nil
}

// prefixIssues points each issue's expression into Bundle.entry[i].
func prefixIssues(issues []fhir.Issue, i int) []fhir.Issue {
	out := make([]fhir.Issue, len(issues))
	for k, is := range issues {
		is.Expression = append([]string(nil), is.Expression...)
		for j, e := range is.Expression {
			is.Expression[j] = fmt.Sprintf("Bundle.entry[%d].resource.%s", i, e)
		}
		if len(is.Expression) == 0 {
			is.Expression = []string{fmt.Sprintf("Bundle.entry[%d]", i)}
		}
		is.Diagnostics = fmt.Sprintf("entry %d: %s", i, is.Diagnostics)
		out[k] = is
	}
	return out
}

func (e *entry) fail(err error) {
	fe := fhir.AsError(err)
	e.status = statusLine(fe.Kind)
	e.outcome = fe.Issues
}

// statusLine is the response.status of a failed batch entry. Batch
// responses carry HTTP status text in the Bundle, so interaction knows these
// few lines; the server maps the same Kinds to its own status codes.
func statusLine(k fhir.Kind) string {
	switch k {
	case fhir.KindInvalid:
		return "400 Bad Request"
	case fhir.KindNotFound:
		return "404 Not Found"
	case fhir.KindGone:
		return "410 Gone"
	case fhir.KindConflict:
		return "409 Conflict"
	case fhir.KindPreconditionFailed:
		return "412 Precondition Failed"
	case fhir.KindUnprocessable:
		return "422 Unprocessable Entity"
	case fhir.KindForbidden:
		return "403 Forbidden"
	case fhir.KindUnauthorized:
		return "401 Unauthorized"
	case fhir.KindMethodNotAllowed:
		return "405 Method Not Allowed"
	case fhir.KindNotModified:
		return "304 Not Modified"
	}
	return "500 Internal Server Error"
}

// parseEntry reads request and resource of one entry and validates the
// resource as the single interaction would.
func (s *Service) parseEntry(i int, m fhir.Object, transaction bool) (*entry, error) {
	e := &entry{index: i, fullURL: fhir.Str(m, "fullUrl")}
	req := fhir.Obj(m, "request")
	if req == nil {
		return nil, fhir.Invalid("IMM-TX-003", fmt.Sprintf("Bundle.entry[%d].request", i), "entry %d has no request", i)
	}
	e.method = fhir.Str(req, "method")
	e.ifMatch = fhir.Str(req, "ifMatch")
	e.ifNoneExist = fhir.Str(req, "ifNoneExist")
	rawURL := fhir.Str(req, "url")
	if b := strings.TrimSuffix(s.BaseURL, "/") + "/"; strings.HasPrefix(rawURL, b) {
		rawURL = rawURL[len(b):]
	}
	path, query, _ := strings.Cut(rawURL, "?")
	e.query = query
	parts := strings.Split(strings.Trim(path, "/"), "/")
	e.typ = parts[0]
	if len(parts) > 1 {
		e.id = parts[1]
	}
	if len(parts) == 4 && parts[2] == "_history" {
		e.version = parts[3]
	}
	if err := s.CheckType(e.typ); err != nil {
		return nil, err
	}
	res := fhir.Obj(m, "resource")
	switch e.method {
	case "POST", "PUT":
		if res == nil {
			return nil, fhir.Invalid("IMM-TX-004", fmt.Sprintf("Bundle.entry[%d].resource", i), "a %s entry needs a resource", e.method)
		}
		body, err := fhir.Marshal(res)
		if err != nil {
			return nil, fhir.Internal(err)
		}
		// The Bundle was decoded strictly already: validate the entry's
		// tree without decoding it again.
		typ := fhir.Str(res, "resourceType")
		if typ == "" {
			return nil, fhir.Invalid("IMM-VAL-001", fmt.Sprintf("Bundle.entry[%d].resource.resourceType", i), "the resource has no resourceType")
		}
		if err := s.ValidateDecoded(typ, body, res); err != nil {
			return nil, err
		}
		obj := res
		if typ != e.typ {
			return nil, fhir.Invalid("IMM-TX-005", fmt.Sprintf("Bundle.entry[%d].request.url", i), "request.url %q does not match resourceType %q", rawURL, typ)
		}
		e.obj = obj
		if e.method == "PUT" && e.id == "" && e.query == "" {
			return nil, fhir.Invalid("IMM-TX-006", fmt.Sprintf("Bundle.entry[%d].request.url", i), "PUT needs Type/id or Type?criteria, got %q", rawURL)
		}
		if e.method == "PUT" && e.id != "" {
			if !fhir.ValidID(e.id) {
				return nil, fhir.Invalid("IMM-ID-001", fmt.Sprintf("Bundle.entry[%d].request.url", i), "%q is not a valid resource id", e.id)
			}
			if bid := fhir.Str(obj, "id"); bid != e.id {
				return nil, fhir.Invalid("IMM-ID-003", fmt.Sprintf("Bundle.entry[%d].resource.id", i), "the resource id %q does not match request.url %q", bid, rawURL)
			}
		}
	case "PATCH":
		p, err := entryPatch(res)
		if err != nil {
			return nil, fhir.Invalid("IMM-TX-007", fmt.Sprintf("Bundle.entry[%d].resource", i), "%v", err)
		}
		e.patch = p
		if e.id == "" {
			return nil, fhir.Invalid("IMM-TX-006", fmt.Sprintf("Bundle.entry[%d].request.url", i), "PATCH needs Type/id")
		}
	case "DELETE":
		if e.id == "" && e.query == "" {
			return nil, fhir.Invalid("IMM-TX-006", fmt.Sprintf("Bundle.entry[%d].request.url", i), "DELETE needs Type/id or Type?criteria")
		}
	case "GET", "HEAD":
	default:
		return nil, fhir.Invalid("IMM-TX-008", fmt.Sprintf("Bundle.entry[%d].request.method", i), "unsupported request.method %q", e.method)
	}
	return e, nil
}

// entryPatch reads a JSON Patch carried in a Binary resource.
func entryPatch(res fhir.Object) (jsonpatch.Patch, error) {
	if fhir.Str(res, "resourceType") != "Binary" || fhir.Str(res, "contentType") != "application/json-patch+json" {
		return nil, fmt.Errorf("a PATCH entry carries a Binary resource with contentType application/json-patch+json")
	}
	data, err := base64.StdEncoding.DecodeString(fhir.Str(res, "data"))
	if err != nil {
		return nil, fmt.Errorf("Binary.data is not base64: %v", err)
	}
	p, err := jsonpatch.DecodePatch(data)
	if err != nil {
		return nil, fmt.Errorf("not a JSON Patch document: %v", err)
	}
	return p, nil
}

// transaction runs every entry in one database transaction, in the order
// http.html#trules prescribes: DELETE, POST, PUT/PATCH, then GET/HEAD.
func (s *Service) transaction(ctx context.Context, entries []*entry) error {
	// Ids for new resources are chosen before the transaction, so that
	// references to their fullUrls can be rewritten and retries reuse them.
	newIDs := map[*entry]string{}
	seenFull := map[string]int{}
	for _, e := range entries {
		if e.fullURL != "" {
			if j, dup := seenFull[e.fullURL]; dup {
				return fhir.Invalid("IMM-TX-009", fmt.Sprintf("Bundle.entry[%d].fullUrl", e.index), "fullUrl %q is used by entries %d and %d", e.fullURL, j, e.index)
			}
			seenFull[e.fullURL] = e.index
		}
		if e.method == "POST" {
			newIDs[e] = s.newID()
		}
	}
	// Every entry passes the token's scopes before anything is written
	// (access.go); per-resource checks then run inside the transaction.
	for _, e := range entries {
		if err := s.allowEntry(ctx, e); err != nil {
			return entryErr(e, err)
		}
	}
	err := s.Store.Write(ctx, func(tx store.Tx) error {
		at := s.now()
		ids := map[string]string{} // fullUrl → Type/id
		// 1. Conditional criteria decide ids before references are rewritten.
		for _, e := range entries {
			e.res, e.created, e.status, e.outcome, e.bundle, e.noop = nil, false, "", nil, nil, false
			switch {
			case e.method == "POST" && e.ifNoneExist != "":
				if err := tx.Lock(ctx, "cond:"+e.typ+"?"+e.ifNoneExist); err != nil {
					return err
				}
				found, err := s.searchInTx(ctx, tx, e.typ, e.ifNoneExist)
				if err != nil {
					return entryErr(e, err)
				}
				switch len(found) {
				case 0:
					e.id = newIDs[e]
				case 1:
					e.id, e.res, e.status = found[0].ID, found[0], "200 OK"
				default:
					return entryErr(e, fhir.Errorf(fhir.KindPreconditionFailed, fhir.IssueMultipleMatches, "IMM-COND-004",
						"ifNoneExist %q matches more than one %s", e.ifNoneExist, e.typ))
				}
			case e.method == "POST":
				e.id = newIDs[e]
			case (e.method == "PUT" || e.method == "DELETE") && e.id == "":
				if err := tx.Lock(ctx, "cond:"+e.typ+"?"+e.query); err != nil {
					return err
				}
				found, err := s.searchInTx(ctx, tx, e.typ, e.query)
				if err != nil {
					return entryErr(e, err)
				}
				switch {
				case len(found) == 1:
					e.id = found[0].ID
				case len(found) > 1:
					return entryErr(e, fhir.Errorf(fhir.KindPreconditionFailed, fhir.IssueMultipleMatches, "IMM-COND-005",
						"criteria %q match more than one %s", e.query, e.typ))
				case e.method == "PUT":
					if bid := fhir.Str(e.obj, "id"); bid != "" {
						e.id = bid
					} else {
						e.id = newIDs[e]
						if e.id == "" {
							e.id = s.newID()
							newIDs[e] = e.id
						}
					}
				}
			}
			if e.fullURL != "" && e.id != "" && (e.method == "POST" || e.method == "PUT") {
				ids[e.fullURL] = e.typ + "/" + e.id
			}
		}
		// 2. Rewrite references in every resource.
		for _, e := range entries {
			if e.obj != nil {
				if err := s.resolveReferences(ctx, tx, e.typ, e.obj, ids); err != nil {
					return entryErr(e, err)
				}
			}
		}
		// 3. Writes in the prescribed order.
		var deleted []*entry
		for _, phase := range []string{"DELETE", "POST", "PUT", "GET"} {
			if phase == "POST" {
				// Creates have server-assigned ids and touch nothing else:
				// all of them go to the database in one statement.
				if err := s.createEntries(ctx, tx, entries, at); err != nil {
					return err
				}
				continue
			}
			for _, e := range entries {
				if e.res != nil && e.method == "POST" {
					continue // matched ifNoneExist
				}
				m := e.method
				if m == "PATCH" {
					m = "PUT"
				}
				if m == "HEAD" {
					m = "GET"
				}
				if m != phase {
					continue
				}
				if err := s.runEntry(ctx, tx, e, at); err != nil {
					return entryErr(e, err)
				}
				if e.method == "DELETE" && e.res != nil && e.res.Deleted {
					deleted = append(deleted, e)
				}
			}
		}
		// 4. References and referential integrity, now that every write is
		// visible inside the transaction.
		var written []typedObject
		for _, e := range entries {
			if e.obj != nil && (e.method == "POST" || e.method == "PUT" || e.method == "PATCH") {
				e := e
				written = append(written, typedObject{e.typ, e.obj, func(err error) error { return entryErr(e, err) }})
			}
		}
		if err := s.verifyReferencesOf(ctx, tx, written); err != nil {
			return err
		}
		for _, e := range deleted {
			if err := s.checkNotReferenced(ctx, tx, e.typ, e.res.ID); err != nil {
				return entryErr(e, err)
			}
		}
		return nil
	})
	if err != nil {
		return storeErr(err)
	}
	return nil
}

// createEntries writes the POST entries of a transaction together.
func (s *Service) createEntries(ctx context.Context, tx store.Tx, entries []*entry, at time.Time) error {
	var (
		versions []*store.Version
		afters   []func() error
		owners   []*entry
	)
	for _, e := range entries {
		if e.method != "POST" || e.res != nil {
			continue // not a create, or matched ifNoneExist
		}
		v, after, err := s.prepareWrite(ctx, tx, e.typ, e.id, e.obj, nil, "POST", at)
		if err != nil {
			return entryErr(e, err)
		}
		versions, afters, owners = append(versions, v), append(afters, after), append(owners, e)
	}
	if len(versions) == 0 {
		return nil
	}
	if err := tx.PutMany(ctx, versions); err != nil {
		return err
	}
	for i, e := range owners {
		if err := afters[i](); err != nil {
			return entryErr(e, err)
		}
		e.res, e.created, e.status = versions[i].New, true, "201 Created"
	}
	return nil
}

// entryErr names the failing entry in the error.
func entryErr(e *entry, err error) error {
	fe := fhir.AsError(err)
	if fe.Kind == fhir.KindInternal {
		return err
	}
	out := *fe
	out.Issues = make([]fhir.Issue, len(fe.Issues))
	for i, is := range fe.Issues {
		is.Diagnostics = fmt.Sprintf("entry %d (%s %s): %s", e.index, e.method, e.typ, is.Diagnostics)
		out.Issues[i] = is
	}
	return &out
}

// runEntry performs one entry inside tx.
func (s *Service) runEntry(ctx context.Context, tx store.Tx, e *entry, at time.Time) error {
	switch e.method {
	case "POST":
		r, err := s.createIn(ctx, tx, e.typ, e.obj, "", e.id, at)
		if err != nil {
			return err
		}
		e.res, e.created, e.status = r.Resource, true, "201 Created"
	case "PUT":
		r, err := s.updateIn(ctx, tx, e.typ, e.id, e.obj, e.ifMatch, "PUT", at)
		if err != nil {
			return err
		}
		e.res, e.created, e.noop = r.Resource, r.Created, r.NoOp
		e.status = "200 OK"
		if r.Created {
			e.status = "201 Created"
		}
	case "PATCH":
		r, obj, err := s.patchIn(ctx, tx, e.typ, e.id, e.patch, e.ifMatch, at)
		if err != nil {
			return err
		}
		e.obj = obj
		e.res, e.status = r.Resource, "200 OK"
	case "DELETE":
		if e.id == "" {
			e.status = "204 No Content" // conditional delete matched nothing
			return nil
		}
		r, err := s.deleteIn(ctx, tx, e.typ, e.id, at)
		if err != nil {
			return err
		}
		e.res, e.status = r.Resource, "204 No Content"
	case "GET", "HEAD":
		return s.getEntry(ctx, tx, e)
	}
	return nil
}

// getEntry reads or searches inside the transaction, so it sees the
// transaction's own writes.
func (s *Service) getEntry(ctx context.Context, tx store.Tx, e *entry) error {
	if e.id == "" {
		values, err := url.ParseQuery(e.query)
		if err != nil {
			return fhir.Invalid("IMM-TX-010", "", "malformed query %q", e.query)
		}
		found, err := s.searchAllInTx(ctx, tx, e.typ, values)
		if err != nil {
			return err
		}
		b := fhir.NewBundle("searchset")
		n := int64(len(found))
		b.Total = &n
		for _, r := range found {
			b.Entry = append(b.Entry, fhir.Entry{FullURL: s.BaseURL + "/" + r.Ref(), Resource: r.Body, Search: &fhir.EntrySearch{Mode: "match"}})
		}
		e.bundle, e.status = b, "200 OK"
		return nil
	}
	cur, err := tx.Current(ctx, e.typ, e.id)
	if err != nil {
		return err
	}
	if cur == nil {
		return notFoundResource(e.typ, e.id)
	}
	if ok, err := s.visible(ctx, tx, auth.InteractionRead, cur, nil); err != nil {
		return err
	} else if !ok {
		return notFoundResource(e.typ, e.id) // as if it did not exist
	}
	if cur.Deleted {
		return goneResource(cur)
	}
	e.res, e.status = cur, "200 OK"
	return nil
}

// batch runs each entry on its own: in its own transaction, failures
// reported in the entry's response, never affecting the others.
func (s *Service) batch(ctx context.Context, entries []*entry) {
	for _, e := range entries {
		if e.status != "" { // failed to parse
			continue
		}
		if err := s.allowEntry(ctx, e); err != nil {
			e.fail(err)
			continue
		}
		err := s.Store.Write(ctx, func(tx store.Tx) error {
			e.res, e.created, e.status, e.outcome, e.bundle, e.noop = nil, false, "", nil, nil, false
			at := s.now()
			switch {
			case e.method == "POST" && e.ifNoneExist != "":
				if err := s.resolveReferences(ctx, tx, e.typ, e.obj, nil); err != nil {
					return err
				}
				r, err := s.createIn(ctx, tx, e.typ, e.obj, e.ifNoneExist, "", at)
				if err != nil {
					return err
				}
				e.res, e.created = r.Resource, r.Created
				e.status = "200 OK"
				if r.Created {
					e.status = "201 Created"
				}
			case (e.method == "PUT" || e.method == "DELETE") && e.id == "":
				if e.method == "PUT" {
					if err := s.resolveReferences(ctx, tx, e.typ, e.obj, nil); err != nil {
						return err
					}
					r, err := s.conditionalUpdateIn(ctx, tx, e.typ, e.query, e.obj, e.ifMatch, at)
					if err != nil {
						return err
					}
					e.res, e.created = r.Resource, r.Created
					e.status = "200 OK"
					if r.Created {
						e.status = "201 Created"
					}
				} else {
					found, err := s.searchInTx(ctx, tx, e.typ, e.query)
					if err != nil {
						return err
					}
					if len(found) > 1 {
						return fhir.Errorf(fhir.KindPreconditionFailed, fhir.IssueMultipleMatches, "IMM-COND-006", "criteria %q match more than one %s", e.query, e.typ)
					}
					if len(found) == 1 {
						e.id = found[0].ID
					}
					if err := s.runEntry(ctx, tx, e, at); err != nil {
						return err
					}
				}
			default:
				if e.method == "POST" {
					e.id = s.newID()
				}
				if e.obj != nil {
					if err := s.resolveReferences(ctx, tx, e.typ, e.obj, nil); err != nil {
						return err
					}
				}
				if err := s.runEntry(ctx, tx, e, at); err != nil {
					return err
				}
			}
			if e.obj != nil && e.method != "DELETE" && e.method != "GET" {
				if err := s.verifyReferences(ctx, tx, e.typ, e.obj); err != nil {
					return err
				}
			}
			if e.method == "DELETE" && e.res != nil && e.res.Deleted {
				return s.checkNotReferenced(ctx, tx, e.typ, e.res.ID)
			}
			return nil
		})
		if err != nil {
			e.fail(storeErr(err))
		}
	}
}

// NoChangeMsgID is the message id of the outcome of an update that wrote no
// version (the resource was identical); clients and loaders match on it.
const NoChangeMsgID = "IMM-WRITE-001"

func noChange() []fhir.Issue {
	return []fhir.Issue{{Severity: fhir.SeverityInformation, Code: fhir.IssueInformational, MsgID: NoChangeMsgID,
		Diagnostics: "no change: the resource was identical to the current version"}}
}

// responseEntry renders the response entry of e.
func (s *Service) responseEntry(e *entry, opt BundleOptions) fhir.Entry {
	out := fhir.Entry{Response: &fhir.EntryResponse{Status: e.status}}
	if e.status == "" {
		out.Response.Status = "200 OK"
	}
	if len(e.outcome) > 0 {
		out.Response.Outcome = fhir.MustMarshal(fhir.OutcomeObject(e.outcome))
		return out
	}
	if e.bundle != nil {
		out.Resource = fhir.MustMarshal(e.bundle)
		return out
	}
	if e.noop {
		out.Response.Outcome = fhir.MustMarshal(fhir.OutcomeObject(noChange()))
	}
	if r := e.res; r != nil {
		out.FullURL = s.BaseURL + "/" + r.Ref()
		out.Response.Etag = r.ETag()
		out.Response.LastModified = fhir.FormatInstant(r.LastUpdated)
		if e.method == "POST" || e.method == "PUT" || e.method == "PATCH" {
			out.Response.Location = r.Ref() + "/_history/" + fmt.Sprint(r.Version)
		}
		if !r.Deleted && (opt.ReturnRepresentation || e.method == "GET" || e.method == "HEAD") && e.method != "HEAD" {
			out.Resource = r.Body
		}
	}
	return out
}
