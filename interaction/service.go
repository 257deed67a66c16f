// Package interaction implements the FHIR RESTful interactions (http.html)
// without HTTP: read, vread, create, update, patch, delete, history, search,
// batch/transaction and their conditional forms, one file each. Each takes
// request values and returns a result or a *fhir.Error. Only `server` imports
// it; it imports `fhir`, `profiles`, `search` and `store`.
package interaction

import (
	"context"
	"errors"
	"reflect"
	"time"

	"github.com/google/uuid"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/forecast"
	"github.com/immunis/immunis/profiles"
	"github.com/immunis/immunis/search"
	"github.com/immunis/immunis/store"
)

// Service carries what the interactions need; main wires it by fields.
type Service struct {
	Store     store.Store
	Validator *fhir.Validator
	Rules     *profiles.Rules
	Registry  *search.Registry
	Extractor *search.Extractor
	Compiler  *search.Compiler
	// Forecaster is the CDSi engine behind $immds-forecast (nil: the
	// operation answers 404 not-supported).
	Forecaster *forecast.Engine
	// BaseURL is the public FHIR base (e.g. http://127.0.0.1:8080/fhir),
	// used in links and to recognize absolute references to this server.
	BaseURL string
	// Now is the clock; NewID makes server-assigned ids.
	Now   func() time.Time
	NewID func() string
	// Access turns SMART authorization on (access.go); nil is none.
	Access *AccessControl
}

// Result is what a write or read interaction produced.
type Result struct {
	Resource *fhir.Resource
	// Created is true when the interaction created the resource (201).
	Created bool
	// NoOp is true when an update changed nothing and no version was made.
	NoOp bool
	// Issues are informational/warning issues worth returning.
	Issues []fhir.Issue
}

// NewUUIDv7 is the default id maker: time-ordered UUIDs keep the primary key
// index append-mostly.
func NewUUIDv7() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

func (s *Service) newID() string {
	if s.NewID != nil {
		return s.NewID()
	}
	return NewUUIDv7()
}

// CheckType answers 404 for types this server does not store.
func (s *Service) CheckType(typ string) error {
	if s.Registry.Supports(typ) {
		return nil
	}
	if fhir.IsTypeName(typ) {
		return fhir.Errorf(fhir.KindNotFound, fhir.IssueNotSupported, "IMM-TYPE-001",
			"resource type %q is not supported by this server", typ)
	}
	return fhir.NotFound("no route for %q", typ)
}

// parse validates body as a resource of type typ: strict JSON, FHIR R4
// structure, this server's profile rules.
func (s *Service) parse(typ string, body []byte) (fhir.Object, error) {
	obj, err := s.Validator.Parse(body)
	if err != nil {
		return nil, err
	}
	if rt := fhir.Str(obj, "resourceType"); rt != typ {
		return nil, fhir.Invalid("IMM-VAL-004", "resourceType", "resourceType %q does not match the type %q of the request", rt, typ)
	}
	if err := s.checkRules(typ, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

func (s *Service) checkRules(typ string, obj fhir.Object) error {
	if issues := s.Rules.Check(typ, obj); len(issues) > 0 {
		return &fhir.Error{Kind: fhir.KindUnprocessable, Issues: issues}
	}
	return nil
}

// write stores obj as the next version of typ/id inside tx. prev is the
// current version read under the lock (nil when none). References must
// already be resolved (resolveReferences); the caller verifies them
// (verifyReferences) before the transaction commits.
func (s *Service) write(ctx context.Context, tx store.Tx, typ, id string, obj fhir.Object, prev *fhir.Resource, method string, at time.Time) (*fhir.Resource, error) {
	v, after, err := s.prepareWrite(ctx, tx, typ, id, obj, prev, method, at)
	if err != nil {
		return nil, err
	}
	if err := tx.Put(ctx, v); err != nil {
		return nil, err
	}
	if err := after(); err != nil {
		return nil, err
	}
	return v.New, nil
}

// prepareWrite checks access and builds the version without writing it;
// after must run once the version is written (it checks the written
// version against the grant). Transactions use it to write many creates in
// one statement.
func (s *Service) prepareWrite(ctx context.Context, tx store.Tx, typ, id string, obj fhir.Object, prev *fhir.Resource, method string, at time.Time) (*store.Version, func() error, error) {
	after, err := s.guardWrite(ctx, tx, typ, id, obj, prev) // access.go
	if err != nil {
		return nil, nil, err
	}
	v, err := s.version(typ, id, obj, fhir.Raw{}, prev, method, at)
	if err != nil {
		return nil, nil, err
	}
	return v, after, nil
}

// version stamps obj as the next version of typ/id and derives its index
// rows, without writing. raw, when known, is the text obj came from (see
// fhir.StampRaw).
func (s *Service) version(typ, id string, obj fhir.Object, raw fhir.Raw, prev *fhir.Resource, method string, at time.Time) (*store.Version, error) {
	version := int64(1)
	if prev != nil {
		version = prev.Version + 1
	}
	body, err := fhir.StampRaw(raw, obj, id, version, at)
	if err != nil {
		return nil, fhir.Internal(err)
	}
	ix := s.Extractor.Extract(typ, obj)
	res := &fhir.Resource{Type: typ, ID: id, Version: version, LastUpdated: at, Body: body, Method: method}
	return &store.Version{New: res, Prev: prev, Index: &ix}, nil
}

// inTx runs fn in one database transaction (retried from the start on a
// serialization failure) and returns its result, store errors made FHIR
// errors.
func (s *Service) inTx(ctx context.Context, fn func(tx store.Tx) (*Result, error)) (*Result, error) {
	var res *Result
	err := s.Store.Write(ctx, func(tx store.Tx) error {
		r, err := fn(tx)
		res = r
		return err
	})
	if err != nil {
		return nil, storeErr(err)
	}
	return res, nil
}

// writeOne runs one write interaction in its own database transaction:
// resolve the references of obj, do the write, verify the references
// (those resolving found: do changes no reference).
func (s *Service) writeOne(ctx context.Context, typ string, obj fhir.Object, do func(tx store.Tx, at time.Time) (*Result, error)) (*Result, error) {
	return s.inTx(ctx, func(tx store.Tx) (*Result, error) {
		refs, err := s.resolveCollect(ctx, tx, typ, obj, nil)
		if err != nil {
			return nil, err
		}
		r, err := do(tx, s.now())
		if err != nil {
			return nil, err
		}
		return r, s.checkLive(ctx, tx, refs)
	})
}

// tombstone writes a deleted version of prev.
func (s *Service) tombstone(ctx context.Context, tx store.Tx, prev *fhir.Resource, at time.Time) (*fhir.Resource, error) {
	res := &fhir.Resource{Type: prev.Type, ID: prev.ID, Version: prev.Version + 1, LastUpdated: at, Deleted: true, Method: "DELETE"}
	if err := tx.Put(ctx, &store.Version{New: res, Prev: prev}); err != nil {
		return nil, err
	}
	return res, nil
}

// lockKey names the lock serializing writes to one resource.
func lockKey(typ, id string) string { return "res:" + typ + "/" + id }

// sameContent reports whether an update would change nothing but meta's
// server-owned elements: such updates make no new version (a re-sent or
// re-loaded resource is not a change).
func sameContent(stored []byte, obj fhir.Object) bool {
	old, err := fhir.DecodeStrict(stored)
	if err != nil {
		return false
	}
	strip := func(o fhir.Object) fhir.Object {
		c := make(fhir.Object, len(o))
		for k, v := range o {
			c[k] = v
		}
		if m := fhir.Obj(o, "meta"); m != nil {
			mc := make(fhir.Object, len(m))
			for k, v := range m {
				if k != "versionId" && k != "lastUpdated" {
					mc[k] = v
				}
			}
			if len(mc) == 0 {
				delete(c, "meta")
			} else {
				c["meta"] = mc
			}
		}
		return c
	}
	return reflect.DeepEqual(strip(old), strip(obj))
}

// storeErr turns store errors into FHIR errors.
func storeErr(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fhir.NotFound("resource not found")
	}
	var fe *fhir.Error
	if errors.As(err, &fe) {
		return fe
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &fhir.Error{Kind: fhir.KindUnavailable, Cause: err, Issues: []fhir.Issue{{
			Severity: fhir.SeverityError, Code: fhir.IssueTransient, MsgID: "IMM-TIME-001",
			Diagnostics: "the request was cancelled or timed out before it completed; nothing was written"}}}
	}
	return fhir.Internal(err)
}

func notFoundResource(typ, id string) *fhir.Error {
	return fhir.Errorf(fhir.KindNotFound, fhir.IssueNotFound, "IMM-NF-002", "%s/%s is not known", typ, id)
}

func goneResource(r *fhir.Resource) *fhir.Error {
	e := fhir.Errorf(fhir.KindGone, fhir.IssueDeleted, "IMM-GONE-001", "%s/%s was deleted (version %d)", r.Type, r.ID, r.Version)
	return e.WithHeader("ETag", r.ETag())
}

func versionConflict(typ, id string, want string, have int64) *fhir.Error {
	return fhir.Errorf(fhir.KindPreconditionFailed, fhir.IssueConflict, "IMM-VER-001",
		"version conflict on %s/%s: If-Match %s but the current version is %d", typ, id, want, have)
}
