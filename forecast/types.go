package forecast

import (
	"errors"
	"fmt"
	"strings"
)

// Gender is the patient gender as CDSi uses it (Table 5-2): the sex that
// selects gender-specific series (HPV, pregnancy-related series).
type Gender uint8

// Genders. The zero value is GenderUnknown, the spec's assumed value.
const (
	GenderUnknown Gender = iota
	GenderFemale
	GenderMale
	GenderTransgender
)

// ParseGender reads F/M/U/T or female/male/unknown/transgender (any case);
// anything else is GenderUnknown.
func ParseGender(s string) Gender {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "f", "female":
		return GenderFemale
	case "m", "male":
		return GenderMale
	case "t", "transgender":
		return GenderTransgender
	}
	return GenderUnknown
}

func (g Gender) String() string {
	switch g {
	case GenderFemale:
		return "Female"
	case GenderMale:
		return "Male"
	case GenderTransgender:
		return "Transgender"
	}
	return "Unknown"
}

// DoseCondition says whether a dose record is an administered dose and,
// if so, whether it carries a condition that prevents its evaluation
// (section 6.1).
type DoseCondition uint8

const (
	// Administered: an ordinary administered dose, evaluated normally.
	Administered DoseCondition = iota
	// SubStandard: the dose condition flag of Table 6-3 is 'Y' (sub-potent,
	// recalled, cold-chain break, partial dose, …). The dose is evaluated
	// as "Sub-standard" and does not satisfy its target dose.
	SubStandard
	// NotAdministered: a refusal or a "not done" record. It is not a
	// vaccine dose administered, so the engine ignores it entirely.
	NotAdministered
)

// Dose is one vaccine dose record of the patient's immunization history.
type Dose struct {
	// ID is an opaque identifier chosen by the caller; evaluations refer
	// back to it.
	ID string
	// Date is the date administered.
	Date Date
	// CVX is the CDC vaccine code ("03" and "3" are the same).
	CVX string
	// MVX (manufacturer), TradeName and Volume (mL) are optional. They are
	// used by Evaluate for Preferable Vaccine (section 6.8); an empty
	// value never disqualifies a dose.
	MVX       string
	TradeName string
	Volume    float64
	// LotExpiration, when set, marks the dose sub-standard if it was given
	// after that date (Table 6-3).
	LotExpiration Date
	// Condition flags sub-standard doses and records that were never
	// administered.
	Condition DoseCondition
}

// Observation is an active patient observation expressed as a CDSi coded
// observation ("042" Smoke cigarettes, "007" Pregnant, …). Date, when
// known, is used by intervals measured "from relevant observation".
type Observation struct {
	Code string
	Date Date
}

// Input is one patient to evaluate and forecast.
type Input struct {
	// AssessmentDate is "today" for the evaluation (required).
	AssessmentDate Date
	// BirthDate is the patient's date of birth (required).
	BirthDate Date
	Gender    Gender
	// BirthCountry is used by evidence of immunity by birth date
	// (Table 7-3). Empty is read as "U.S.": the engine serves a U.S. IIS.
	BirthCountry string
	Doses        []Dose
	Observations []Observation
	// Trace collects a human-readable reasoning trace in Result.Trace.
	// When false, no trace work is done at all.
	Trace bool
}

// Validation errors returned by Engine.Forecast, wrapped with detail.
var (
	ErrNoBirthDate      = errors.New("missing birth date")
	ErrNoAssessmentDate = errors.New("missing assessment date")
	ErrBadDose          = errors.New("bad dose")
)

// SeriesStatus is a patient series status (and vaccine group status).
type SeriesStatus uint8

// Series statuses (Table 7-10 and Table 9-4).
const (
	NotComplete SeriesStatus = iota
	Complete
	Immune
	Contraindicated
	AgedOut
	NotRecommended
)

func (s SeriesStatus) String() string {
	switch s {
	case Complete:
		return "Complete"
	case Immune:
		return "Immune"
	case Contraindicated:
		return "Contraindicated"
	case AgedOut:
		return "Aged Out"
	case NotRecommended:
		return "Not Recommended"
	}
	return "Not Complete"
}

// MarshalText renders the spec name ("Not Complete", …).
func (s SeriesStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// EvalStatus is the evaluation status of a dose for one antigen.
type EvalStatus uint8

// Evaluation statuses (Table 6-31).
const (
	Valid EvalStatus = iota + 1
	NotValid
	Extraneous
	SubStandardStatus
)

func (s EvalStatus) String() string {
	switch s {
	case Valid:
		return "Valid"
	case NotValid:
		return "Not Valid"
	case Extraneous:
		return "Extraneous"
	case SubStandardStatus:
		return "Sub-standard"
	}
	return ""
}

// MarshalText renders the spec name ("Not Valid", …).
func (s EvalStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// ReasonCode is the machine-readable evaluation reason, in the vocabulary
// of the CDC test cases.
type ReasonCode string

// Reason codes. The empty code means "no reason" (a plain valid dose).
const (
	ReasonAgeTooYoung           ReasonCode = "age_too_young"
	ReasonAgeTooOld             ReasonCode = "age_too_old"
	ReasonIntervalTooSoon       ReasonCode = "interval_too_soon"
	ReasonInadvertentVaccine    ReasonCode = "inadvertent_vaccine"
	ReasonLiveVirusConflict     ReasonCode = "live_virus_conflict"
	ReasonSeriesAlreadyComplete ReasonCode = "series_already_complete"
	ReasonNotPreferableOrAllow  ReasonCode = "not_preferable_or_allowable"
	ReasonOther                 ReasonCode = "other"
)

// TestCaseText is the reason as the CDC test cases spell it ("Age: Too
// Young", …); empty for the empty code.
func (c ReasonCode) TestCaseText() string {
	switch c {
	case ReasonAgeTooYoung:
		return "Age: Too Young"
	case ReasonAgeTooOld:
		return "Age: Too Old"
	case ReasonIntervalTooSoon:
		return "Interval: too Soon"
	case ReasonInadvertentVaccine:
		return "Inadvertent Vaccine"
	case ReasonLiveVirusConflict:
		return "Live Virus Conflict"
	case ReasonSeriesAlreadyComplete:
		return "Series Already Complete"
	case ReasonNotPreferableOrAllow:
		return "Not a preferable or allowable vaccine"
	case ReasonOther:
		return "Other"
	}
	return ""
}

// DoseEvaluation is the evaluation of one input dose for one antigen, taken
// from the antigen's best patient series.
type DoseEvaluation struct {
	DoseID       string
	DoseIndex    int // index in Input.Doses
	Antigen      string
	VaccineGroup string
	Status       EvalStatus
	// Reason is the spec's evaluation reason text ("Too young", "Grace
	// period", "Too soon", …); several are joined with "; ".
	Reason     string
	ReasonCode ReasonCode
	// SeriesName, TargetDose (1-based, 0 when the dose was not evaluated
	// against a target dose) and SeriesDoses describe the patient series.
	SeriesName  string
	SeriesType  string // Standard, Risk, Evaluation Only
	TargetDose  int
	SeriesDoses int
}

// RecommendedVaccine is a vaccine recommended for the next dose
// (FORECASTRECVAC-1, FORECASTVG-9).
type RecommendedVaccine struct {
	CVX         string
	VaccineType string
}

// AntigenForecast is the forecast of one antigen's best patient series.
type AntigenForecast struct {
	Antigen     string
	SeriesName  string
	SeriesType  string // Standard, Risk, Evaluation Only
	SeriesDoses int
	Status      SeriesStatus
	Reason      string
	DoseNumber  int
	Earliest    Date
	Recommended Date
	PastDue     Date
	Latest      Date
}

// GroupForecast is a vaccine group forecast (chapter 9).
type GroupForecast struct {
	// VaccineGroup is the name from ScheduleSupportingData ("DTaP/Tdap/Td").
	VaccineGroup string
	Status       SeriesStatus
	// Reason is the forecast reason text, if any ("Patient series is
	// complete", "Patient has evidence of immunity", …).
	Reason string
	// DoseNumber is the dose to give next (0 when none is due).
	DoseNumber int
	// Earliest, Recommended, PastDue and Latest are zero when not set.
	Earliest    Date
	Recommended Date
	PastDue     Date
	Latest      Date
	Vaccines    []RecommendedVaccine
	// SeriesName and SeriesDoses describe the best patient series behind
	// the forecast (the first antigen's, for multi-antigen groups);
	// SeriesType is "Standard" or "Risk".
	SeriesName  string
	SeriesDoses int
	SeriesType  string
	// Antigens lists the CDSi antigens of the vaccine group (shared with the
	// Engine: read-only); Series the per-antigen best-series forecasts
	// blended into this one.
	Antigens []string
	Series   []AntigenForecast
}

// Result is the outcome of one Forecast call.
type Result struct {
	AssessmentDate Date
	// Groups holds one forecast per vaccine group, in the order of
	// ScheduleSupportingData.
	Groups []GroupForecast
	// Additional holds the further forecasts of vaccine groups whose best
	// series are of both types (a risk and a standard pathway); Groups
	// holds the one that drives care now (see chapter 9 and doc.go).
	Additional []GroupForecast
	// Evaluations holds, per input dose and antigen, the evaluation in the
	// antigen's best patient series behind Groups — or in another best
	// series where the dose is valid — ordered by dose then antigen. Doses
	// of antigens without any relevant series have none.
	Evaluations []DoseEvaluation
	// OtherEvaluations holds the evaluations of the same doses in the
	// antigens' other best patient series (those behind Additional): a
	// childhood dose is valid in the standard series and may be "too young"
	// in an adult risk series.
	OtherEvaluations []DoseEvaluation
	// Notices are non-fatal remarks: doses left out because they are dated
	// after the assessment date, have an unknown CVX code or a CVX code that
	// carries no CDSi antigen.
	Notices []string
	// Trace is the reasoning trace when Input.Trace was set.
	Trace []string
}

// Group returns the forecast of the named vaccine group.
func (r *Result) Group(name string) (GroupForecast, bool) {
	for _, g := range r.Groups {
		if g.VaccineGroup == name {
			return g, true
		}
	}
	return GroupForecast{}, false
}

// GroupEvaluation combines the evaluations of one dose for the antigens of
// a vaccine group into one status, the way a vaccine-group view shows it:
// the dose is Not Valid if it is not valid for any antigen it carries,
// else Sub-standard, else Valid if valid for any antigen, else Extraneous.
// The returned evaluation is the one that decided the status.
func (r *Result) GroupEvaluation(group, doseID string) (DoseEvaluation, bool) {
	return combineEvaluations(r.Evaluations, group, doseID, "")
}

// SeriesEvaluation is GroupEvaluation restricted to best patient series of
// one series type ("Standard" or "Risk"), searching Evaluations and
// OtherEvaluations.
func (r *Result) SeriesEvaluation(group, doseID, seriesType string) (DoseEvaluation, bool) {
	if ev, ok := combineEvaluations(r.Evaluations, group, doseID, seriesType); ok {
		return ev, true
	}
	return combineEvaluations(r.OtherEvaluations, group, doseID, seriesType)
}

func combineEvaluations(evs []DoseEvaluation, group, doseID, seriesType string) (DoseEvaluation, bool) {
	var best DoseEvaluation
	found := false
	rank := func(s EvalStatus) int {
		switch s {
		case NotValid:
			return 4
		case SubStandardStatus:
			return 3
		case Valid:
			return 2
		case Extraneous:
			return 1
		}
		return 0
	}
	for _, ev := range evs {
		if ev.VaccineGroup != group || ev.DoseID != doseID || (seriesType != "" && !strings.EqualFold(ev.SeriesType, seriesType)) {
			continue
		}
		if !found || rank(ev.Status) > rank(best.Status) {
			best, found = ev, true
		}
	}
	return best, found
}

func (in *Input) validate() error {
	if in.BirthDate == 0 {
		return ErrNoBirthDate
	}
	if in.AssessmentDate == 0 {
		return ErrNoAssessmentDate
	}
	if in.AssessmentDate < in.BirthDate {
		return fmt.Errorf("assessment date %s is before birth date %s", in.AssessmentDate, in.BirthDate)
	}
	for i := range in.Doses {
		d := &in.Doses[i]
		if d.Condition == NotAdministered {
			continue
		}
		if d.Date == 0 {
			return fmt.Errorf("%w %d (id %q): missing date administered", ErrBadDose, i+1, d.ID)
		}
		if d.Date < in.BirthDate {
			return fmt.Errorf("%w %d (id %q): administered %s, before the birth date %s", ErrBadDose, i+1, d.ID, d.Date, in.BirthDate)
		}
		if _, ok := parseCVX(d.CVX); !ok {
			return fmt.Errorf("%w %d (id %q): CVX %q is not a CVX code", ErrBadDose, i+1, d.ID, d.CVX)
		}
	}
	return nil
}
