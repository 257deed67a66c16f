package bulk

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/search"
	"github.com/immunis/immunis/store"
)

// Backend is the database side of exports (store.BulkStore).
type Backend interface {
	Barrier(ctx context.Context, now func() time.Time) (time.Time, error)
	CreateJob(ctx context.Context, j *store.BulkJob, files []store.BulkFile, maxActive int) error
	Job(ctx context.Context, id string) (*store.BulkJob, error)
	Files(ctx context.Context, id string) ([]store.BulkFile, error)
	File(ctx context.Context, id string, seq int) (*store.BulkFile, error)
	DeleteJob(ctx context.Context, id string) (bool, error)
	Claim(ctx context.Context, worker string, now, until time.Time) (*store.BulkJob, error)
	Renew(ctx context.Context, id, worker string, until time.Time) error
	Checkpoint(ctx context.Context, c store.BulkCheckpoint) error
	Release(ctx context.Context, id, worker string, now time.Time, cause string) error
	Expire(ctx context.Context, now time.Time) (int64, error)
	VersionAt(ctx context.Context, typ, id string, t time.Time) (*fhir.Resource, error)
	Scan(ctx context.Context, s store.BulkScan, fn func(*store.BulkRow) error) error
	Match(ctx context.Context, cands []store.BulkCandidate, sts []search.Statement) (map[int64]bool, error)
}

var _ Backend = (*store.BulkStore)(nil)

// Config are the export settings (cmd/immunis flags).
type Config struct {
	// MaxJobs bounds the exports queued or running at once, across
	// replicas; more kick-offs get 429. 0 is no limit.
	MaxJobs int
	// FileResources is the most resources one file holds.
	FileResources int
	// Expiry is how long a finished export's files are served.
	Expiry time.Duration
	// Lease is how long a worker holds a job without renewing it; a job
	// whose worker died is resumed elsewhere after it.
	Lease time.Duration
	// Workers is how many jobs this replica runs at once (0: none, it
	// only kicks off, reports and serves).
	Workers int
	// Poll is how often an idle worker looks for jobs.
	Poll time.Duration
	// MaxRate bounds the resources per second a job's worker reads (0:
	// no bound), to spread an export's load on a busy database over time.
	MaxRate int
}

// Defaults for the zero Config fields.
const (
	DefaultFileResources = 100_000
	DefaultExpiry        = time.Hour
	DefaultLease         = 30 * time.Second
	DefaultPoll          = time.Second
)

func (c Config) withDefaults() Config {
	if c.FileResources <= 0 {
		c.FileResources = DefaultFileResources
	}
	if c.Expiry <= 0 {
		c.Expiry = DefaultExpiry
	}
	if c.Lease <= 0 {
		c.Lease = DefaultLease
	}
	if c.Poll <= 0 {
		c.Poll = DefaultPoll
	}
	return c
}

// Manager kicks exports off, reports on them and serves their files; its
// Run starts this replica's workers. Wired by fields in main.
type Manager struct {
	Store     Backend
	Registry  *search.Registry
	Compiler  *search.Compiler
	Extractor *search.Extractor
	// CompartmentTypes are the types of the Patient compartment, which a
	// patient- or group-level export covers.
	CompartmentTypes []string
	// BaseURL is the public FHIR base, for references.
	BaseURL string
	// StatusURL prefixes status URLs (StatusURL/{id}) and file URLs
	// (StatusURL/{id}/file/{n}).
	StatusURL string
	Config    Config
	Log       *slog.Logger
	// Now is the clock; nil is the wall clock.
	Now func() time.Time

	nudge chan struct{}
	// scanPage, when set, is the rows per scan query (tests use small
	// pages to cross many page boundaries).
	scanPage int
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now().UTC()
	}
	return time.Now().UTC()
}

func (m *Manager) cfg() Config { return m.Config.withDefaults() }

func (m *Manager) log() *slog.Logger {
	if m.Log != nil {
		return m.Log
	}
	return slog.Default()
}

// KickOff is an export request, as interaction understood it.
type KickOff struct {
	Level   Level
	GroupID string
	Method  string // GET or POST
	Params  []Param
	// Request is the kick-off URL (without the parameters of a POST).
	Request string
	// Lenient: Prefer: handling=lenient; problems with parameters are
	// reported in the manifest instead of failing the kick-off.
	Lenient bool
	// Owner identifies the client; only it may use the job ("" with
	// authorization off).
	Owner               string
	RequiresAccessToken bool
	// Access is what the client may read; nil allows everything.
	Access *Access
}

// Accepted is a kicked-off export.
type Accepted struct {
	ID        string
	StatusURL string
	// Issues are the problems let pass under lenient handling.
	Issues []fhir.Issue
}

// KickOff validates an export request, fixes its snapshot and queues it.
func (m *Manager) KickOff(ctx context.Context, k *KickOff) (*Accepted, error) {
	p := m.parseParams(k)
	if len(p.forbidden) > 0 {
		return nil, fhir.Errorf(fhir.KindForbidden, fhir.IssueForbidden, "IMM-BULK-003",
			"the token does not allow reading %v, which the export asks for", p.forbidden)
	}
	if len(p.issues) > 0 && !k.Lenient {
		return nil, &fhir.Error{Kind: fhir.KindInvalid, Issues: p.issues}
	}
	if k.Access != nil {
		p.spec.Access = m.access(k.Access, p.spec.Types)
		if len(p.spec.Types) == 0 {
			return nil, fhir.Errorf(fhir.KindForbidden, fhir.IssueForbidden, "IMM-BULK-004",
				"the token allows reading none of the resource types this export covers")
		}
	}
	at, err := m.Store.Barrier(ctx, m.now)
	if err != nil {
		return nil, fhir.Internal(err)
	}
	if err := m.resolvePatients(ctx, k, p, at); err != nil {
		return nil, err
	}
	if len(p.issues) > 0 && !k.Lenient {
		return nil, &fhir.Error{Kind: fhir.KindInvalid, Issues: p.issues}
	}
	issues := append(lenientIssues(p.issues), p.notes...)
	spec, err := encodeJSON(p.spec)
	if err != nil {
		return nil, fhir.Internal(err)
	}
	now := m.now()
	job := &store.BulkJob{ID: newJobID(), Owner: k.Owner, Status: store.BulkAccepted, Spec: spec,
		TransactionTime: at, CreatedAt: now, Progress: "queued"}
	var files []store.BulkFile
	if len(issues) > 0 {
		body, err := outcomeLines(issues)
		if err != nil {
			return nil, fhir.Internal(err)
		}
		files = append(files, store.BulkFile{Seq: 0, Kind: store.BulkError, Type: "OperationOutcome", Count: int64(len(issues)), Body: body})
	}
	err = m.Store.CreateJob(ctx, job, files, m.cfg().MaxJobs)
	if errors.Is(err, store.ErrBulkBusy) {
		return nil, tooMany(m.cfg().MaxJobs)
	}
	if err != nil {
		return nil, fhir.Internal(err)
	}
	m.Nudge()
	m.log().Info("bulk export accepted", "job", job.ID, "level", k.Level, "types", len(p.spec.Types), "transaction_time", at)
	return &Accepted{ID: job.ID, StatusURL: m.StatusURL + "/" + job.ID, Issues: issues}, nil
}

// access keeps the clauses of the exported types that the search engine
// can run exactly; a clause it cannot run is dropped (never widened), and
// a type left without clauses is not exported.
func (m *Manager) access(a *Access, types []string) map[string][]Clause {
	out := map[string][]Clause{}
	for _, t := range types {
		for _, c := range a.Types[t] {
			if c.Query != "" {
				v, err := parseQuery(c.Query)
				if err != nil || m.checkQuery(t, v) != nil {
					continue
				}
			}
			out[t] = append(out[t], c)
		}
	}
	return out
}

// tooMany is the 429 of a kick-off beyond Config.MaxJobs (export.html
// "Response - Error": 429 with Retry-After).
func tooMany(max int) *fhir.Error {
	return fhir.Errorf(fhir.KindTooManyRequests, fhir.IssueThrottled, "IMM-BULK-002",
		"%d exports are already in progress, the most this server runs at once; retry later", max).
		WithHeader("Retry-After", "10")
}

// lenientIssues turns the problems let pass into warnings for the error
// file and the kick-off's OperationOutcome.
func lenientIssues(in []fhir.Issue) []fhir.Issue {
	out := make([]fhir.Issue, len(in))
	for i, is := range in {
		if is.Severity == fhir.SeverityError {
			is.Severity = fhir.SeverityWarning
			is.Diagnostics += " (ignored under Prefer: handling=lenient)"
		}
		out[i] = is
	}
	return out
}

func newJobID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Nudge wakes this replica's idle workers (a job was queued here).
func (m *Manager) Nudge() {
	if m.nudge == nil {
		return
	}
	select {
	case m.nudge <- struct{}{}:
	default:
	}
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// notFound is the 404 of an unknown, expired or cancelled export.
func notFound(id string) *fhir.Error {
	return fhir.Errorf(fhir.KindNotFound, fhir.IssueNotFound, "IMM-BULK-050",
		"no export %q: it never existed, was cancelled, or its files have expired", id)
}

// job reads a job its owner may use.
func (m *Manager) job(ctx context.Context, id, owner string) (*store.BulkJob, error) {
	j, err := m.Store.Job(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, fhir.Internal(err)
	}
	if !j.ExpiresAt.IsZero() && !m.now().Before(j.ExpiresAt) {
		return nil, notFound(id)
	}
	if j.Owner != owner {
		return nil, fhir.Errorf(fhir.KindForbidden, fhir.IssueForbidden, "IMM-BULK-051",
			"export %q belongs to another client", id)
	}
	return j, nil
}

// Cancel deletes an export (running or finished) and its files
// (export.html "Bulk Data Delete Request"); its worker stops at its next
// lease renewal.
func (m *Manager) Cancel(ctx context.Context, id, owner string) error {
	if _, err := m.job(ctx, id, owner); err != nil {
		return err
	}
	if _, err := m.Store.DeleteJob(ctx, id); err != nil {
		return fhir.Internal(err)
	}
	m.log().Info("bulk export cancelled", "job", id)
	return nil
}
