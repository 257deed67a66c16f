package interaction

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	"github.com/immunis/immunis/auth"
	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/search"
	"github.com/immunis/immunis/store"
)

// Patient/{id}/$immds-forecast: this server's extension of the IG. It
// forecasts from the stored record (the Patient and its Immunizations) as of
// assessmentDate (default: today in the server's time zone), answers the
// IG's Parameters, and with persist=true stores the recommendation and its
// evaluations (immds_persist.go).

// instanceParams are the parameters of an instance-level call, from the URL
// and, for POST, a Parameters body.
type instanceParams struct {
	assessmentDate string
	persist        bool
	otherSeries    bool
}

func readInstanceParams(req ImmDSRequest) (instanceParams, error) {
	var p instanceParams
	for k, vs := range req.Query {
		if len(vs) == 0 {
			continue
		}
		v := vs[len(vs)-1]
		switch k {
		case "_format", "_pretty":
		case "assessmentDate":
			p.assessmentDate = v
		case "persist", "otherSeriesEvaluations":
			b, err := strconv.ParseBool(v)
			if err != nil || (v != "true" && v != "false") {
				return p, fhir.Invalid("IMM-FC-003", k, "parameter %s must be true or false, not %q", k, v)
			}
			if k == "persist" {
				p.persist = b
			} else {
				p.otherSeries = b
			}
		case "patient", "immunization":
			return p, notAtInstance(k, k)
		default:
			return p, unknownParam(k, k)
		}
	}
	if len(req.Body) == 0 {
		return p, nil
	}
	env, err := decodeEnvelope(req.Body)
	if err != nil {
		return p, err
	}
	for i := range env.Parameter {
		pa := &env.Parameter[i]
		expr := paramExpr(i)
		switch pa.Name {
		case "assessmentDate":
			if pa.ValueDate == nil || pa.Resource != nil || pa.ValueBoolean != nil {
				return p, wrongType(pa.Name, expr)
			}
			p.assessmentDate = *pa.ValueDate
		case "persist", "otherSeriesEvaluations":
			if pa.ValueBoolean == nil || pa.Resource != nil || pa.ValueDate != nil {
				return p, wrongType(pa.Name, expr)
			}
			if pa.Name == "persist" {
				p.persist = *pa.ValueBoolean
			} else {
				p.otherSeries = *pa.ValueBoolean
			}
		case "patient", "immunization", "observation":
			return p, notAtInstance(pa.Name, expr)
		default:
			return p, unknownParam(pa.Name, expr)
		}
	}
	return p, nil
}

func notAtInstance(name, expr string) error {
	return fhir.Invalid("IMM-FC-022", expr,
		"parameter %s is not taken by Patient/{id}/$immds-forecast: it forecasts from the stored record (use POST /fhir/$immds-forecast to send resources)", name)
}

// patientForecast runs the instance-level operation.
func (s *Service) patientForecast(ctx context.Context, req ImmDSRequest, v *immdsVocab) (*ImmDSAnswer, error) {
	p, err := readInstanceParams(req)
	if err != nil {
		return nil, err
	}
	if p.persist && req.Method != "POST" {
		return nil, fhir.Errorf(fhir.KindMethodNotAllowed, fhir.IssueNotSupported, "IMM-FC-023",
			"persist=true changes state: invoke Patient/{id}/$immds-forecast with POST")
	}
	pr, err := s.Read(ctx, "Patient", req.PatientID)
	if err != nil {
		return nil, err
	}
	r := &immdsRequest{patientID: pr.ID, otherSeries: p.otherSeries}
	if p.assessmentDate == "" {
		p.assessmentDate = s.today()
	}
	if err := r.setAssessmentDate(p.assessmentDate, "assessmentDate"); err != nil {
		return nil, err
	}
	var pt resourceIn
	if err := decodeStored(pr.Body, &pt); err != nil {
		return nil, fhir.Internal(fmt.Errorf("decode stored Patient/%s: %w", pr.ID, err))
	}
	if err := r.setPatient(&pt, "Patient"); err != nil {
		return nil, storedDataError("Patient/"+pr.ID, err)
	}
	if err := r.checkDates("assessmentDate"); err != nil {
		return nil, err
	}
	imms, err := s.patientImmunizations(ctx, pr.ID)
	if err != nil {
		return nil, err
	}
	for n, ir := range imms {
		var im resourceIn
		if err := decodeStored(ir.Body, &im); err != nil {
			return nil, fhir.Internal(fmt.Errorf("decode stored Immunization/%s: %w", ir.ID, err))
		}
		if err := s.addImmunization(r, &im, "Immunization", n+1); err != nil {
			return nil, storedDataError("Immunization/"+ir.ID, err)
		}
	}
	res, err := s.runEngine(r)
	if err != nil {
		return nil, err
	}
	if p.persist {
		return s.persistForecast(ctx, r, &res, v)
	}
	return r.answer(&res, s.Forecaster, v), nil
}

// storedDataError: the stored record cannot be forecast (a Patient without
// birthDate); the request itself was fine, so 422 rather than 400.
func storedDataError(ref string, err error) error {
	fe := fhir.AsError(err)
	if fe.Kind != fhir.KindInvalid {
		return err
	}
	out := *fe
	out.Kind = fhir.KindUnprocessable
	out.Issues = append([]fhir.Issue(nil), fe.Issues...)
	for i := range out.Issues {
		out.Issues[i].Diagnostics = ref + ": " + out.Issues[i].Diagnostics
	}
	return &out
}

// patientImmunizations returns every stored Immunization of the patient,
// paging by keyset through the search index (patient reference).
func (s *Service) patientImmunizations(ctx context.Context, patientID string) ([]*fhir.Resource, error) {
	q, err := s.Registry.Parse("Immunization", url.Values{
		"patient": {"Patient/" + patientID},
		"_count":  {strconv.Itoa(search.MaxCount)},
	}, search.Strict)
	if err != nil {
		return nil, err
	}
	q.Sort = nil
	q.Scope = s.scope(ctx, auth.PermSearch) // only the doses the token may see (access.go)
	var out []*fhir.Resource
	for {
		st, err := s.Compiler.Page(q)
		if err != nil {
			return nil, fhir.Internal(fmt.Errorf("compile immunization search: %w", err))
		}
		n := 0
		var last int64
		err = s.Store.Query(ctx, st, func(r store.Row) error {
			if n < q.Count {
				out = append(out, r.Resource)
				last = r.RID
			}
			n++
			return nil
		})
		if err != nil {
			return nil, storeErr(err)
		}
		if n <= q.Count {
			return out, nil
		}
		q.Cursor = &search.Cursor{RID: last}
	}
}
