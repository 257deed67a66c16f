package main

import (
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/immunis/immunis/bulk"
	"github.com/immunis/immunis/conformance"
	"github.com/immunis/immunis/interaction"
	"github.com/immunis/immunis/profiles"
	"github.com/immunis/immunis/server"
	"github.com/immunis/immunis/store"
)

// bulkSettings are the Bulk Data $export settings.
type bulkSettings struct {
	Workers       int
	MaxJobs       int
	FileResources int
	Expiry        time.Duration
	Lease         time.Duration
	MaxRate       int
}

func registerBulk(s *settings, b *bulkSettings) {
	s.int(&b.Workers, "bulk-workers", 2, "$export jobs this replica runs at once (0: it only kicks off, reports and serves files)")
	s.int(&b.MaxJobs, "bulk-max-jobs", 4, "$export jobs queued or running at once across all replicas; more kick-offs get 429 (0: no limit)")
	s.int(&b.FileResources, "bulk-file-resources", bulk.DefaultFileResources, "most resources in one $export output file")
	s.duration(&b.Expiry, "bulk-expiry", bulk.DefaultExpiry, "how long a finished $export's files are served")
	s.int(&b.MaxRate, "bulk-max-rate", 0, "most resources per second one $export job reads, to spare a busy database (0: no limit)")
	s.duration(&b.Lease, "bulk-lease", bulk.DefaultLease, "how long a worker holds an $export job unrenewed; a job whose worker died resumes elsewhere after it")
}

// newExports wires $export over the store. The FHIR base's root (without
// /fhir) prefixes the status and file URLs.
func newExports(b *bulkSettings, db *store.DB, svc *interaction.Service, baseURL string, log *slog.Logger) *interaction.Exports {
	var compartment []string
	for t := range profiles.PatientCompartment {
		compartment = append(compartment, t)
	}
	slices.Sort(compartment)
	m := &bulk.Manager{
		Store:            db.Bulk(),
		Registry:         svc.Registry,
		Compiler:         svc.Compiler,
		Extractor:        svc.Extractor,
		CompartmentTypes: compartment,
		BaseURL:          baseURL,
		StatusURL:        strings.TrimSuffix(baseURL, "/fhir") + server.BulkPrefix,
		Config: bulk.Config{Workers: b.Workers, MaxJobs: b.MaxJobs, FileResources: b.FileResources,
			Expiry: b.Expiry, Lease: b.Lease, MaxRate: b.MaxRate},
		Log: log,
		Now: svc.Now,
	}
	return &interaction.Exports{Service: svc, Bulk: m}
}

// exportOperations are the $export entries of the CapabilityStatement.
func exportOperations() []conformance.Operation {
	const ig = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/"
	return []conformance.Operation{
		{Name: "export", Definition: ig + "export", System: true},
		{Name: "export", Definition: ig + "patient-export", Types: []string{"Patient"}},
		{Name: "export", Definition: ig + "group-export", Types: []string{"Group"}},
	}
}
