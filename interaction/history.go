package interaction

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strconv"
	"time"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/search"
	"github.com/immunis/immunis/store"
)

// History implements history at instance (typ and id), type (typ) and
// system level (neither) (http.html#history): newest first, with _since,
// _at, _count and keyset paging behind an opaque _cursor.
func (s *Service) History(ctx context.Context, typ, id string, params url.Values) (*fhir.Bundle, error) {
	path := "_history"
	if typ != "" {
		if err := s.CheckType(typ); err != nil {
			return nil, err
		}
		path = typ + "/_history"
		if id != "" {
			path = typ + "/" + id + "/_history"
		}
	}
	q := store.HistoryQuery{Type: typ, ID: id, Limit: search.DefaultCount}
	kept := url.Values{}
	for name, vals := range params {
		if len(vals) == 0 {
			continue
		}
		v := vals[len(vals)-1]
		switch name {
		case "_since", "_at":
			d, err := fhir.ParseDate(v, time.UTC)
			if err != nil || d.Precision < fhir.PrecisionSecond && name == "_since" {
				return nil, fhir.Invalid("IMM-HIST-001", name, "%s must be an instant like 2024-01-02T03:04:05Z, got %q", name, v)
			}
			if name == "_since" {
				q.Since = d.Time
			} else {
				q.AtFrom, q.AtTo = d.Time, d.End().Add(-time.Microsecond)
			}
			kept.Set(name, v)
		case "_count":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return nil, fhir.Invalid("IMM-HIST-002", "_count", "_count must be a non-negative integer, got %q", v)
			}
			q.Limit = min(n, search.MaxCount)
			kept.Set(name, v)
		case "_cursor":
			k, err := decodeHistoryKey(v)
			if err != nil {
				return nil, fhir.Invalid("IMM-HIST-003", "_cursor", "malformed _cursor")
			}
			q.After = k
		case "_format", "_pretty", "_list", "_sort":
		}
	}
	keep, err := s.historyAccess(ctx, typ, id, &q) // access.go
	if err != nil {
		return nil, err
	}
	limit := q.Limit
	q.Limit = limit + 1
	var versions []*fhir.Resource
	if limit > 0 {
		versions, err = s.Store.History(ctx, q)
		if err != nil {
			return nil, storeErr(err)
		}
	}
	if id != "" && len(versions) == 0 && q.After == nil {
		if _, err := s.Store.Read(ctx, typ, id); err != nil {
			return nil, notFoundResource(typ, id)
		}
	}
	b := fhir.NewBundle("history")
	b.Link = append(b.Link, fhir.BundleLink{Relation: "self", URL: s.link(path, kept, "")})
	if len(versions) > limit {
		versions = versions[:limit]
		last := versions[len(versions)-1]
		b.Link = append(b.Link, fhir.BundleLink{Relation: "next", URL: s.link(path, kept, encodeHistoryKey(store.HistoryKey{
			LastUpdated: last.LastUpdated.UnixMicro(), RID: last.RID, Version: last.Version}))})
	}
	for _, v := range versions {
		if keep(v) {
			b.Entry = append(b.Entry, s.historyEntry(v))
		}
	}
	return b, nil
}

func (s *Service) historyEntry(v *fhir.Resource) fhir.Entry {
	e := fhir.Entry{FullURL: s.BaseURL + "/" + v.Ref()}
	req := &fhir.EntryRequest{Method: v.Method, URL: v.Ref()}
	resp := &fhir.EntryResponse{Etag: v.ETag(), LastModified: fhir.FormatInstant(v.LastUpdated)}
	switch {
	case v.Method == "POST":
		req.URL = v.Type
		resp.Status = "201 Created"
	case v.Version == 1:
		resp.Status = "201 Created" // create-on-update
	case v.Method == "DELETE":
		resp.Status = "204 No Content"
	default:
		resp.Status = "200 OK"
	}
	if !v.Deleted {
		e.Resource = v.Body
	}
	e.Request, e.Response = req, resp
	return e
}

// link builds an absolute URL under the FHIR base with the kept
// parameters and, when given, a _cursor.
func (s *Service) link(path string, kept url.Values, cursor string) string {
	q := url.Values{}
	for k, v := range kept {
		q[k] = v
	}
	if cursor != "" {
		q.Set("_cursor", cursor)
	}
	u := s.BaseURL + "/" + path
	if enc := q.Encode(); enc != "" {
		u += "?" + enc
	}
	return u
}

func encodeHistoryKey(k store.HistoryKey) string {
	b, _ := json.Marshal(k)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeHistoryKey(s string) (*store.HistoryKey, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	var k store.HistoryKey
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, err
	}
	return &k, nil
}
