// Package forecast is Immunis' immunization schedule engine: the CDC
// "Clinical Decision Support for Immunization" (CDSi) Logic Specification
// applied to the CDSi supporting data, which is embedded (see
// data/README.md and DataVersion). Given a patient, the doses they received
// and what is known about them, it says which doses count and what is due,
// when.
//
// The package is a leaf: it imports no other Immunis package and knows
// nothing of HTTP, SQL, storage or FHIR (interaction maps Result to
// ImmunizationRecommendation; forecastcli reads FHIR for the command line).
// Anyone may import it.
//
// # Use
//
//	eng, err := forecast.Default() // parsed once, shared, safe for concurrent use
//	res, err := eng.Forecast(forecast.Input{
//		AssessmentDate: forecast.MustDate("2025-11-10"),
//		BirthDate:      forecast.MustDate("2025-09-06"),
//		Gender:         forecast.GenderFemale,
//		Doses: []forecast.Dose{
//			{ID: "imm-1", Date: forecast.MustDate("2025-10-15"), CVX: "107"},
//		},
//	})
//	g, _ := res.Group("DTaP/Tdap/Td") // Status, DoseNumber, Earliest, Recommended, PastDue, Latest, Vaccines
//	ev, _ := res.GroupEvaluation("DTaP/Tdap/Td", "imm-1")
//
// Engine.Forecast is a pure function of its Input: it never mutates the
// Engine or the Input, and concurrent calls are safe. Input errors (no birth
// date, a dose without date or with a malformed CVX, a dose before birth)
// come back as errors wrapping ErrNoBirthDate, ErrNoAssessmentDate or
// ErrBadDose; the engine does not panic on input. Refusals and "not done"
// records (Dose.Condition == NotAdministered) are not doses administered and
// are ignored; sub-standard doses (sub-potent, recalled, expired lot) are
// evaluated "Sub-standard" (section 6.1). Doses dated after the assessment
// date and CVX codes that carry no CDSi antigen are left out and reported in
// Result.Notices.
//
// Lookups for other packages: VaccineGroups, Antigens (vaccine group or
// antigen → CDSi antigen names), VaccineGroupOf, UnspecifiedCVX (vaccine
// group → its "unspecified formulation" CVX, derived from the data),
// KnownCVX, CVXAntigens, CVXDescription, ObservationTitle and
// ObservationCodes. The embedded data has no NDC codes (the CDC trade-name
// table maps product names to CVX and MVX only), so the package offers no
// NDC → CVX mapping.
//
// # Organisation
//
// The code follows the specification's chapters, one file per section,
// citing its tables and business rules:
//
//	ch4_processing.go              4 processing model: gather data (4.1), organize history (4.2)
//	ch5_relevant_series.go         5.1 select relevant patient series (Tables 5-4, 5-5)
//	ch6_evaluate.go                4.4 / 6 evaluation loop, 6.10 satisfy target dose (Table 6-31)
//	ch6_1 … ch6_9                  dose condition, conditional skip, inadvertent vaccine, age,
//	                               preferable and allowable intervals, vaccine conflict,
//	                               preferable and allowable vaccine
//	ch7_forecast.go                7 driver: 7.1 conditional skip, 7.6 validate recommendation
//	ch7_2 … ch7_5                  evidence of immunity, contraindications, forecast need,
//	                               forecast dates and recommended vaccines
//	ch8_select_best_series.go      8.2, 8.3, 8.7 prioritized series, 8.8 best patient series
//	ch8_1_prefilter.go, ch8_4_…    8.1 pre-filter, 8.4 – 8.6 scoring
//	ch9_vaccine_group.go           9.1 – 9.3 vaccine group forecasts
//	date.go                        the date type and CALCDT date arithmetic
//	data.go, model.go              the embedded XML and its compiled, typed form
//
// Steps take values and return values; the only state of a call is its
// patient (read-only after section 4.2) and per-call scratch memory taken
// from a pool, so a typical patient costs a handful of allocations. A
// reasoning trace (Input.Trace) explains every decision and costs nothing
// when off.
//
// # Choices where the specification is silent or the CDC test cases decide
//
// Best series of both types (risk and standard) are blended separately
// (chapter 9); Result.Groups carries the forecast that drives care — for a
// single-antigen group the risk pathway, for a multiple-antigen group the
// risk pathway unless the standard pathway still owes a dose of an antigen
// the risk pathway covers — and Result.Additional the other. A dose's
// evaluation comes from the series behind Result.Groups unless the dose is
// valid in another best series of its antigen (a child's standard doses
// under an adult risk forecast), in which case that valid evaluation is
// reported; the other pathway's evaluations are in Result.OtherEvaluations.
// Likewise the forecast dose number counts the doses valid in any best
// series of the antigen. A risk series without valid doses is scored only
// between its minimum and maximum age to start, a standard one only from
// its minimum age to start. testdata/KNOWN_DIFFERENCES.md lists the CDC test
// cases the engine does not reproduce and why.
package forecast
