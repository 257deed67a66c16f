package e2e

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// Bulk Data $export over HTTP against the real binary, on both stores.

func TestBulkExportFlow(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Server) {
		pids, iids := seedBulk(t, s, 30, 3)
		// A resource outside the Patient compartment, and a deleted one.
		s.Do(t, "PUT", "Organization/bo1", `{"resourceType":"Organization","id":"bo1","name":"Clinic"}`).Expect(t, 201)
		s.Do(t, "PUT", "Patient/gone", withID(patient("Gone"), "gone")).Expect(t, 201)
		s.Do(t, "DELETE", "Patient/gone", nil).Expect(t, 204)
		c := exportClient{s: s}

		// The CapabilityStatement names the three operations.
		meta := string(s.Do(t, "GET", "metadata", nil).Expect(t, 200).Body)
		for _, def := range []string{"OperationDefinition/export", "OperationDefinition/patient-export", "OperationDefinition/group-export"} {
			if !strings.Contains(meta, "http://hl7.org/fhir/uv/bulkdata/"+def) {
				t.Errorf("metadata does not list %s", def)
			}
		}

		status := c.kickOff(t, "GET", "$export", nil)
		m, r := c.wait(t, status)
		if _, err := time.Parse(http1123, r.Header.Get("Expires")); err != nil {
			t.Errorf("Expires %q: %v", r.Header.Get("Expires"), err)
		}
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Errorf("manifest Content-Type %q", r.Header.Get("Content-Type"))
		}
		if m.Request != s.Base+"/$export" || m.RequiresAccessToken || m.Deleted != nil || len(m.Error) != 0 {
			t.Errorf("manifest %+v", m)
		}
		if _, err := time.Parse(time.RFC3339Nano, m.TransactionTime); err != nil {
			t.Errorf("transactionTime %q", m.TransactionTime)
		}
		got := c.all(t, m)
		want := map[string][]string{"Patient": pids, "Immunization": iids, "Organization": {"bo1"}}
		for typ, w := range want {
			if g := sortedCopy(got[typ]); !slices.Equal(g, sortedCopy(w)) {
				t.Errorf("%s: %d exported, %d stored", typ, len(g), len(w))
			}
		}
		// The counts agree with what the server's own search counts.
		for typ, ids := range got {
			total := s.Do(t, "GET", typ+"?_summary=count", nil).Expect(t, 200).JSON(t)["total"]
			if n, _ := total.(float64); int(n) != len(ids) {
				t.Errorf("%s: exported %d, search counts %v", typ, len(ids), total)
			}
		}

		// Patient level, a _type and a _typeFilter, as a POST.
		params := `{"resourceType":"Parameters","parameter":[
			{"name":"_type","valueString":"Patient"},
			{"name":"_typeFilter","valueString":"Patient?_id=bp1,bp2"},
			{"name":"_outputFormat","valueString":"application/fhir+ndjson"}]}`
		m, _ = c.wait(t, c.kickOff(t, "POST", "Patient/$export", params))
		if g := sortedCopy(c.all(t, m)["Patient"]); !slices.Equal(g, []string{"bp1", "bp2"}) {
			t.Errorf("POST Patient/$export: %v", g)
		}
		if m.Request != s.Base+"/Patient/$export" {
			t.Errorf("POST request %q", m.Request)
		}

		// Group level with the patient parameter.
		s.Do(t, "PUT", "Group/bg", `{"resourceType":"Group","id":"bg","type":"person","actual":true,
			"member":[{"entity":{"reference":"Patient/bp3"}},{"entity":{"reference":"Patient/bp4"}}]}`).Expect(t, 201)
		params = `{"resourceType":"Parameters","parameter":[
			{"name":"patient","valueReference":{"reference":"Patient/bp4"}},
			{"name":"_type","valueString":"Patient,Immunization"}]}`
		m, _ = c.wait(t, c.kickOff(t, "POST", "Group/bg/$export", params))
		g := c.all(t, m)
		if !slices.Equal(g["Patient"], []string{"bp4"}) || len(g["Immunization"]) != 3 {
			t.Errorf("Group/bg/$export for bp4: %v", g)
		}
	})
}

// http1123 is the layout of HTTP dates (Expires).
const http1123 = "Mon, 02 Jan 2006 15:04:05 GMT"

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

func TestBulkKickOffErrors(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		headers []string
		status  int
		msgID   string
	}{
		{"no Prefer", "$export", []string{"Accept", "application/fhir+json"}, 400, "IMM-BULK-006"},
		{"XML", "$export", []string{"Prefer", "respond-async", "Accept", "application/fhir+xml"}, 406, "IMM-FMT-002"},
		{"output format", "$export?_outputFormat=text/csv", nil, 400, "IMM-BULK-010"},
		{"since", "$export?_since=yesterday", nil, 400, "IMM-BULK-011"},
		{"unknown type", "$export?_type=Observation", nil, 400, "IMM-BULK-020"},
		{"type outside the compartment", "Patient/$export?_type=Organization", nil, 400, "IMM-BULK-021"},
		{"type filter", "$export?_typeFilter=" + url.QueryEscape("Patient?nonsense=1"), nil, 400, "IMM-BULK-032"},
		{"type filter result parameter", "$export?_typeFilter=" + url.QueryEscape("Patient?_sort=name"), nil, 400, "IMM-BULK-032"},
		{"chained type filter", "$export?_typeFilter=" + url.QueryEscape("Immunization?patient.name=x"), nil, 400, "IMM-BULK-032"},
		{"elements", "$export?_elements=Patient.name.given", nil, 400, "IMM-BULK-040"},
		{"associated data", "$export?includeAssociatedData=LatestProvenanceResources", nil, 400, "IMM-BULK-014"},
		{"patient in a GET", "Patient/$export?patient=Patient/x", nil, 400, "IMM-BULK-012"},
		{"unknown parameter", "$export?_count=10", nil, 400, "IMM-BULK-015"},
		{"unknown group", "Group/nope/$export", nil, 404, "IMM-BULK-062"},
		{"lenient", "$export?_type=Patient,Observation&includeAssociatedData=_x", []string{"Prefer", "handling=lenient"}, 202, ""},
	}
	s := Start(t, "sqlite", nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.headers
			if h == nil || tc.status == 202 {
				h = append([]string{"Prefer", "respond-async", "Accept", "application/fhir+json"}, h...)
			}
			if tc.status == 202 {
				h = []string{"Prefer", "respond-async, handling=lenient"}
			}
			r := s.Do(t, "GET", tc.path, nil, h...).Expect(t, tc.status)
			if tc.msgID != "" && !strings.Contains(string(r.Body), tc.msgID) {
				t.Errorf("want %s in %s", tc.msgID, r.Body)
			}
			if tc.status != 202 {
				return
			}
			// Lenient: the export runs, and the manifest reports what was let pass.
			c := exportClient{s: s}
			m, _ := c.wait(t, r.Header.Get("Content-Location"))
			if len(m.Error) != 1 || m.Error[0].Count != 2 || m.Error[0].Type != "OperationOutcome" {
				t.Fatalf("error files %+v", m.Error)
			}
			lines := c.download(t, m.Error[0].URL, false)
			if lines[0]["resourceType"] != "OperationOutcome" {
				t.Errorf("error line %v", lines[0])
			}
		})
	}
}

func TestBulkSinceCancelAndExpiry(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Server) {
		seedBulk(t, s, 3, 0)
		c := exportClient{s: s}
		first, _ := c.wait(t, c.kickOff(t, "GET", "$export?_type=Patient", nil))
		s.Do(t, "PUT", "Patient/bp1", withID(patient("Changed"), "bp1")).Expect(t, 200)
		s.Do(t, "DELETE", "Patient/bp2", nil).Expect(t, 204)
		status := c.kickOff(t, "GET", "$export?_type=Patient&_since="+url.QueryEscape(first.TransactionTime), nil)
		m, _ := c.wait(t, status)
		if g := c.all(t, m)["Patient"]; !slices.Equal(g, []string{"bp1"}) {
			t.Errorf("since: %v", g)
		}
		if len(m.Deleted) != 1 || m.Deleted[0].Type != "Bundle" || m.Deleted[0].Count != 1 {
			t.Fatalf("deleted %+v", m.Deleted)
		}
		del := c.download(t, m.Deleted[0].URL, true)
		if !strings.Contains(strings.Join(strings.Fields(toJSON(t, del[0])), ""), `"url":"Patient/bp2"`) {
			t.Errorf("deleted line %v", del[0])
		}

		// Cancel: the status and files are gone.
		s.Do(t, "DELETE", status, nil).Expect(t, 202)
		s.Do(t, "GET", status, nil).Expect(t, 404)
		s.Do(t, "GET", m.Output[0].URL, nil).Expect(t, 404)
	})
}

func TestBulkExpiryAndTooMany(t *testing.T) {
	t.Run("expiry", func(t *testing.T) {
		t.Parallel()
		s := Start(t, "sqlite", []string{"--bulk-expiry", "1s"})
		seedBulk(t, s, 2, 1)
		c := exportClient{s: s}
		status := c.kickOff(t, "GET", "$export", nil)
		m, _ := c.wait(t, status)
		time.Sleep(1500 * time.Millisecond)
		s.Do(t, "GET", status, nil).Expect(t, 404)
		s.Do(t, "GET", m.Output[0].URL, nil).Expect(t, 404)
	})
	t.Run("too many", func(t *testing.T) {
		t.Parallel()
		// No workers here: jobs stay queued.
		s := Start(t, "sqlite", []string{"--bulk-workers", "0", "--bulk-max-jobs", "2"})
		c := exportClient{s: s}
		first := c.kickOff(t, "GET", "$export", nil)
		c.kickOff(t, "GET", "$export", nil)
		r := s.Do(t, "GET", "$export", nil, "Prefer", "respond-async").Expect(t, 429)
		if r.Header.Get("Retry-After") == "" || !strings.Contains(string(r.Body), "IMM-BULK-002") {
			t.Errorf("429 %v %s", r.Header, r.Body)
		}
		// Cancelling one makes room.
		s.Do(t, "DELETE", first, nil).Expect(t, 202)
		c.kickOff(t, "GET", "$export", nil)
	})
}

func toJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
