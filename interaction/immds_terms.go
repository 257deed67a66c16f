package interaction

import (
	"github.com/immunis/immunis/forecast"
)

// The vocabulary of $immds-forecast: the code systems of the HL7
// Immunization Decision Support Forecast IG 2.0.0 (terminology Bundle in
// conformance/data/immds/) and the few this server adds where the IG has
// no code for what the CDSi engine says. README "$immds-forecast" documents
// the mappings.
const (
	systemSNOMED         = "http://snomed.info/sct"
	systemLOINC          = "http://loinc.org"
	systemCVX            = "http://hl7.org/fhir/sid/cvx"
	systemMVX            = "http://hl7.org/fhir/sid/mvx"
	systemNDC            = "http://hl7.org/fhir/sid/ndc"
	systemDoseStatus     = "http://terminology.hl7.org/CodeSystem/immunization-evaluation-dose-status"
	systemForecastStatus = "http://hl7.org/fhir/us/immds/CodeSystem/ForecastStatus"
	systemForecastReason = "http://hl7.org/fhir/us/immds/CodeSystem/ForecastReason"
	systemStatusReason   = "http://hl7.org/fhir/us/immds/CodeSystem/StatusReason"
	systemDataAbsent     = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"

	profileEvaluation     = "http://hl7.org/fhir/us/immds/StructureDefinition/immds-immunizationevaluation"
	profileRecommendation = "http://hl7.org/fhir/us/immds/StructureDefinition/immds-immunizationrecommendation"

	// This server's additions. The IG's doseStatus has only valid and
	// notvalid; the CDSi status (extraneous, sub-standard) travels in a
	// second coding so that nothing the engine said is lost.
	systemCDSiEvalStatus = "https://immunis.dev/fhir/CodeSystem/cdsi-evaluation-status"
	// CDSi coded observations ("042" Smoke cigarettes), the code system of
	// the extension input parameter `observation`.
	SystemCDSiObservation = "https://immunis.dev/fhir/CodeSystem/cdsi-observation"
	extSeriesType         = "https://immunis.dev/fhir/StructureDefinition/cdsi-series-type"
	extOtherSeries        = "https://immunis.dev/fhir/StructureDefinition/cdsi-other-series"
	// systemForecastID identifies the resources a persisted forecast wrote,
	// so that the next run replaces exactly those.
	systemForecastID = "https://immunis.dev/fhir/sid/immds-forecast"
)

// concept is one coding.
type concept struct{ code, display string }

// targetDisease maps each CDSi antigen to a SNOMED CT disease. The IG binds
// targetDisease to its TargetDisease value set extensibly: its code is used
// wherever one fits; HPV, Chikungunya and Ebola have no fitting code there
// and get the SNOMED CT disorder. Meningococcal B shares the IG's
// "Meningococcal infectious disease"; the CDSi antigen name in
// targetDisease.text tells the two apart.
var targetDisease = map[string]concept{
	"Diphtheria":            {"397430003", "Diphtheria caused by Corynebacterium diphtheriae"},
	"Pertussis":             {"27836007", "Pertussis"},
	"Tetanus":               {"76902006", "Tetanus"},
	"Polio":                 {"721764008", "Infection caused by Human poliovirus"},
	"Measles":               {"14189004", "Measles"},
	"Mumps":                 {"36989005", "Mumps"},
	"Rubella":               {"36653000", "Rubella"},
	"Pneumococcal":          {"16814004", "Pneumococcal infectious disease"},
	"Meningococcal":         {"23511006", "Meningococcal infectious disease"},
	"Meningococcal B":       {"23511006", "Meningococcal infectious disease"},
	"Hib":                   {"709410003", "Haemophilus influenzae type b infection"},
	"HPV":                   {"240532009", "Human papillomavirus infection"},
	"Rotavirus":             {"415822001", "Viral gastroenteritis caused by Rotavirus"},
	"HepB":                  {"66071002", "Type B viral hepatitis"},
	"HepA":                  {"40468003", "Viral hepatitis, type A"},
	"Influenza":             {"719590007", "Influenza caused by seasonal influenza virus"},
	"Varicella":             {"38907003", "Varicella"},
	"Zoster":                {"4740000", "Herpes zoster"},
	"RSV":                   {"55735004", "Respiratory syncytial virus infection"},
	"Typhoid":               {"4834000", "Typhoid fever"},
	"Cholera":               {"63650001", "Cholera"},
	"Yellow Fever":          {"16541001", "Yellow fever"},
	"Dengue":                {"38362002", "Dengue"},
	"Rabies":                {"14168008", "Rabies"},
	"TBE":                   {"712986001", "Tickborne encephalitis"},
	"Japanese Encephalitis": {"52947006", "Japanese encephalitis virus disease"},
	"COVID-19":              {"186747009", "Coronavirus infection"},
	"Orthopoxvirus":         {"67924001", "Smallpox"},
	"Chikungunya":           {"111864006", "Chikungunya fever"},
	"Ebola":                 {"37109004", "Ebola virus disease"},
}

// forecastStatus maps a CDSi vaccine group status (Table 9-4) to the IG's
// ForecastStatus code. The engine never says "conditional".
func forecastStatus(s forecast.SeriesStatus) concept {
	switch s {
	case forecast.Complete:
		return concept{"complete", "Complete"}
	case forecast.Immune:
		return concept{"immune", "Immune"}
	case forecast.Contraindicated:
		return concept{"contraindicated", "Contraindicated"}
	case forecast.AgedOut:
		return concept{"agedOut", "Aged Out"}
	case forecast.NotRecommended:
		return concept{"notRecommended", "Not Recommended"}
	}
	return concept{"notComplete", "Not Complete"}
}

// forecastReasonCode maps the engine's forecast reason (its Table 7-10
// texts) to the IG's ForecastReason code; reasons the IG has no code for
// (immunity, contraindication, "unable to finish before the maximum age",
// no relevant series) travel as text only.
func forecastReasonCode(status forecast.SeriesStatus, reason string) (concept, bool) {
	switch {
	case reason == "":
		return concept{}, false
	case status == forecast.Complete:
		return concept{"complete", "Complete"}, true
	case reason == "Past seasonal recommendation end date":
		return concept{"seasonalPast", "Seasonal End Date Passed"}, true
	case reason == "Patient has exceeded the maximum age":
		return concept{"maximumAge", "Maximum Age Exceeded"}, true
	case reason == "Not recommended at this time due to past immunization history":
		return concept{"notRecommended", "Not Recommended"}, true
	}
	return concept{}, false
}

// doseStatus maps a CDSi evaluation status (Table 6-31) to the R4
// immunization-evaluation-dose-status code the IG uses (valid/notvalid)
// and to this server's CDSi status coding. Extraneous and sub-standard
// doses do not count toward the series: notvalid.
func doseStatus(s forecast.EvalStatus) (ig, cdsi concept) {
	switch s {
	case forecast.Valid:
		return concept{"valid", "Valid"}, concept{"valid", "Valid"}
	case forecast.Extraneous:
		return concept{"notvalid", "Not valid"}, concept{"extraneous", "Extraneous"}
	case forecast.SubStandardStatus:
		return concept{"notvalid", "Not valid"}, concept{"sub-standard", "Sub-standard"}
	}
	return concept{"notvalid", "Not valid"}, concept{"not-valid", "Not Valid"}
}

// statusReason maps the engine's evaluation reason code to the IG's
// StatusReason code. "Series already complete" and "other" have no IG code:
// their text is kept.
func statusReason(c forecast.ReasonCode) (concept, bool) {
	switch c {
	case forecast.ReasonAgeTooYoung:
		return concept{"tooyoung", "Patient Too Young"}, true
	case forecast.ReasonAgeTooOld:
		return concept{"tooold", "Patient Too Old"}, true
	case forecast.ReasonIntervalTooSoon:
		return concept{"toosoon", "Administered Too Soon"}, true
	case forecast.ReasonLiveVirusConflict:
		return concept{"productconflict", "Product Conflict"}, true
	case forecast.ReasonInadvertentVaccine, forecast.ReasonNotPreferableOrAllow:
		return concept{"inappropriate", "Inappropriate Vaccine"}, true
	}
	return concept{}, false
}

// Status reasons this server sets itself, for doses it could not give to
// the engine or that the engine could only call sub-standard.
var (
	reasonNotEvaluated = concept{"notevaluated", "Not Evaluated"}
	reasonExpired      = concept{"expired", "Past Expiration Date"}
	reasonQuantity     = concept{"quantity", "Insufficient Quantity"}
	reasonRecall       = concept{"recall", "Recalled Product"}
	reasonStorage      = concept{"storage", "Adverse Storage Conditions"}
)

// subpotentReason maps R4 immunization-subpotent-reason codes to the IG's
// StatusReason.
func subpotentReason(code string) (concept, bool) {
	switch code {
	case "partial":
		return reasonQuantity, true
	case "coldchainbreak":
		return reasonStorage, true
	case "recall":
		return reasonRecall, true
	}
	return concept{}, false
}

// The four LOINC date criteria of the IG, in the order they are written.
var (
	loincEarliest    = concept{"30981-5", "Earliest date to give"}
	loincRecommended = concept{"30980-7", "Date vaccine due"}
	loincPastDue     = concept{"59778-1", "Date when overdue for immunization"}
	loincLatest      = concept{"59777-3", "Latest date to give immunization"}
)

// seriesTypeCode renders the engine's series type ("Evaluation Only") as a
// code ("evaluation-only").
func seriesTypeCode(t string) string {
	switch t {
	case "Standard":
		return "standard"
	case "Risk":
		return "risk"
	case "Evaluation Only":
		return "evaluation-only"
	}
	return ""
}
