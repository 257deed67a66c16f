package interaction

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/forecast"
)

// $immds-forecast (HL7 Immunization Decision Support Forecast IG 2.0.0,
// OperationDefinition ImmDSForecastOperation): the CDSi engine behind the
// IG's operation at the system level, and this server's extension at the
// instance level, Patient/{id}/$immds-forecast, which forecasts from the
// stored record and can persist the result (immds_persist.go).

// ImmDSRequest is one invocation of $immds-forecast.
type ImmDSRequest struct {
	// PatientID is the Patient of an instance-level call; "" at the system
	// level.
	PatientID string
	Method    string     // GET or POST
	Query     url.Values // URL parameters (_format and _pretty are the server's)
	Body      []byte     // POST body; may be empty at the instance level
}

// ImmDSAnswer is the Parameters answer. Its bytes live in a pooled buffer:
// call Release once they are written.
type ImmDSAnswer struct{ w *jsonBuf }

// Bytes is the Parameters resource as JSON.
func (a *ImmDSAnswer) Bytes() []byte { return a.w.b }

// Release returns the buffer to the pool; Bytes must not be used after.
func (a *ImmDSAnswer) Release() {
	if a.w != nil {
		putJSONBuf(a.w)
		a.w = nil
	}
}

// ImmDSForecast runs $immds-forecast.
func (s *Service) ImmDSForecast(ctx context.Context, req ImmDSRequest) (*ImmDSAnswer, error) {
	if s.Forecaster == nil {
		return nil, fhir.Errorf(fhir.KindNotFound, fhir.IssueNotSupported, "IMM-FC-000", "$immds-forecast is not available: no forecast engine is configured")
	}
	if err := s.allowForecast(ctx, req.PatientID); err != nil { // access.go
		return nil, err
	}
	v, err := s.vocab()
	if err != nil {
		return nil, fhir.Internal(err)
	}
	if req.PatientID != "" {
		return s.patientForecast(ctx, req, v)
	}
	if req.Method != "POST" {
		return nil, fhir.Errorf(fhir.KindMethodNotAllowed, fhir.IssueNotSupported, "IMM-FC-020",
			"$immds-forecast takes resources as input: POST a Parameters resource")
	}
	if len(strings.TrimSpace(string(req.Body))) == 0 {
		return nil, fhir.Invalid("IMM-FC-001", "", "$immds-forecast takes a Parameters resource; the body is empty")
	}
	r, err := s.readParameters(req.Body)
	if err != nil {
		return nil, err
	}
	res, err := s.runEngine(r)
	if err != nil {
		return nil, err
	}
	return r.answer(&res, s.Forecaster, v), nil
}

// readParameters reads the IG's input parameters (and this server's
// extensions) into a request.
func (s *Service) readParameters(body []byte) (*immdsRequest, error) {
	p, err := decodeEnvelope(body)
	if err != nil {
		return nil, err
	}
	r := &immdsRequest{}
	var (
		assessment, patient = -1, -1
		imms, obs           []int
	)
	for i := range p.Parameter {
		pa := &p.Parameter[i]
		expr := paramExpr(i)
		if pa.Name == "" {
			return nil, fhir.Errorf(fhir.KindInvalid, fhir.IssueRequired, "IMM-FC-002", "every parameter needs a name").At(expr + ".name")
		}
		if len(pa.Part) > 0 {
			return nil, fhir.Invalid("IMM-FC-003", expr+".part", "parameter %s takes no parts", pa.Name)
		}
		var wantValue bool // a value[x] rather than a resource
		switch pa.Name {
		case "assessmentDate":
			if assessment >= 0 {
				return nil, fhir.Invalid("IMM-FC-018", expr, "parameter assessmentDate is given twice (1..1)")
			}
			assessment, wantValue = i, true
		case "patient":
			if patient >= 0 {
				return nil, fhir.Invalid("IMM-FC-018", expr, "parameter patient is given twice (1..1)")
			}
			patient = i
		case "immunization":
			imms = append(imms, i)
		case "observation":
			obs = append(obs, i)
		case "otherSeriesEvaluations":
			if pa.ValueBoolean == nil || pa.Resource != nil {
				return nil, wrongType(pa.Name, expr)
			}
			r.otherSeries = *pa.ValueBoolean
			continue
		default:
			return nil, unknownParam(pa.Name, expr)
		}
		ok := pa.Resource != nil && pa.ValueDate == nil && pa.ValueBoolean == nil
		if wantValue {
			ok = pa.ValueDate != nil && pa.ValueBoolean == nil && pa.Resource == nil
		}
		if !ok {
			return nil, wrongType(pa.Name, expr)
		}
	}
	if assessment < 0 {
		return nil, missingParam("assessmentDate", "date")
	}
	if patient < 0 {
		return nil, missingParam("patient", "Patient")
	}
	expr := paramExpr(assessment)
	if err := r.setAssessmentDate(*p.Parameter[assessment].ValueDate, expr+".valueDate"); err != nil {
		return nil, err
	}
	expr = paramExpr(patient)
	pt := p.Parameter[patient].Resource
	if err := checkResource(pt, "patient", expr, "Patient"); err != nil {
		return nil, err
	}
	if err := r.setPatient(pt, expr+".resource"); err != nil {
		return nil, err
	}
	if err := r.checkDates(paramExpr(assessment) + ".valueDate"); err != nil {
		return nil, err
	}
	r.doses = make([]doseInfo, 0, len(imms))
	r.in.Doses = make([]forecast.Dose, 0, len(imms))
	for n, i := range imms {
		expr := paramExpr(i)
		im := p.Parameter[i].Resource
		if err := checkResource(im, "immunization", expr, "Immunization"); err != nil {
			return nil, err
		}
		if err := s.addImmunization(r, im, paramResourceExpr(i), n+1); err != nil {
			return nil, err
		}
	}
	for _, i := range obs {
		expr := paramExpr(i)
		o := p.Parameter[i].Resource
		if err := checkResource(o, "observation", expr, "Observation"); err != nil {
			return nil, err
		}
		if err := s.addObservation(r, o, expr+".resource"); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func wrongType(name, expr string) error {
	return fhir.Invalid("IMM-FC-003", expr, "parameter %s must be given as %s", name, valueTypes[name])
}

func missingParam(name, typ string) error {
	return fhir.Errorf(fhir.KindInvalid, fhir.IssueRequired, "IMM-FC-019",
		"parameter %s (%s, 1..1) is required", name, typ).At("Parameters.parameter")
}

// runEngine forecasts; the request was checked, so an engine error is a
// fault of ours unless it names bad input.
func (s *Service) runEngine(r *immdsRequest) (forecast.Result, error) {
	res, err := s.Forecaster.Forecast(r.in)
	if err != nil {
		if errors.Is(err, forecast.ErrBadDose) || errors.Is(err, forecast.ErrNoBirthDate) || errors.Is(err, forecast.ErrNoAssessmentDate) {
			return res, fhir.Errorf(fhir.KindUnprocessable, fhir.IssueProcessing, "IMM-FC-021", "the forecast engine refused the input: %v", err)
		}
		return res, fhir.Internal(fmt.Errorf("forecast: %w", err))
	}
	return res, nil
}

// answer writes the output Parameters: the evaluations, then the one
// recommendation (the IG example's order).
func (r *immdsRequest) answer(res *forecast.Result, e *forecast.Engine, v *immdsVocab) *ImmDSAnswer {
	w := getJSONBuf()
	w.obj()
	w.lit("resourceType", "Parameters")
	w.key("parameter")
	w.arr()
	evals := r.evaluations(res, e)
	for i := range evals {
		w.elem()
		w.obj()
		w.lit("name", "evaluation")
		w.key("resource")
		r.writeEvaluation(w, &evals[i], nil)
		w.end('}')
	}
	w.elem()
	w.obj()
	w.lit("name", "recommendation")
	w.key("resource")
	r.writeRecommendation(w, res, v, nil)
	w.end('}')
	w.end(']')
	w.end('}')
	return &ImmDSAnswer{w: w}
}

// today is the assessment date by default: today in the server's zone.
func (s *Service) today() string {
	loc := time.UTC
	if s.Extractor != nil && s.Extractor.Location != nil {
		loc = s.Extractor.Location
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	return now().In(loc).Format("2006-01-02")
}

// paramExpr is the FHIRPath of parameter i ("Parameters.parameter[3]"),
// which every check names; the common ones are made once, not per request.
func paramExpr(i int) string {
	if i >= 0 && i < len(paramExprs) {
		return paramExprs[i]
	}
	return "Parameters.parameter[" + strconv.Itoa(i) + "]"
}

// paramResourceExpr is paramExpr(i) + ".resource".
func paramResourceExpr(i int) string {
	if i >= 0 && i < len(paramExprs) {
		return paramResourceExprs[i]
	}
	return paramExpr(i) + ".resource"
}

var paramExprs, paramResourceExprs = func() (e, r [128]string) {
	for i := range e {
		e[i] = "Parameters.parameter[" + strconv.Itoa(i) + "]"
		r[i] = e[i] + ".resource"
	}
	return e, r
}()
