package interaction

import (
	"fmt"

	"github.com/immunis/immunis/forecast"
)

// The mapping from the engine's Result to the ImmDS resources: one
// ImmunizationEvaluation per input dose and antigen, and one
// ImmunizationRecommendation with one entry per CDSi vaccine group. It is
// written straight to JSON (immds_json.go). README "$immds-forecast"
// documents every code it chooses.

// persistIDs gives the resources of a persisted forecast their ids and
// identifiers; nil for an answer that is not stored.
type persistIDs struct {
	recommendation string
	// evaluation returns the id and identifier value of the evaluation of
	// dose d for antigen (other: in an other best series).
	evaluation func(d *doseInfo, antigen string, other bool) (id, key string)
}

// evalOut is one ImmunizationEvaluation to write.
type evalOut struct {
	dose    *doseInfo
	ev      *forecast.DoseEvaluation // nil: the dose was not evaluated
	antigen string                   // for ev == nil; "" when unknown
	other   bool
}

// evaluations lists the evaluations of the answer in dose order: each
// dose's evaluations in its antigens' best series (then, when asked, in the
// other best series), or a "not evaluated" one for doses the engine could
// not or did not evaluate.
func (r *immdsRequest) evaluations(res *forecast.Result, e *forecast.Engine) []evalOut {
	byDose := make([][2][]int, len(r.in.Doses))
	for i := range res.Evaluations {
		if di := res.Evaluations[i].DoseIndex; di >= 0 && di < len(byDose) {
			byDose[di][0] = append(byDose[di][0], i)
		}
	}
	if r.otherSeries {
		for i := range res.OtherEvaluations {
			if di := res.OtherEvaluations[i].DoseIndex; di >= 0 && di < len(byDose) {
				byDose[di][1] = append(byDose[di][1], i)
			}
		}
	}
	out := make([]evalOut, 0, len(res.Evaluations)+len(r.doses))
	for i := range r.doses {
		d := &r.doses[i]
		if d.omit {
			continue
		}
		if d.engine >= 0 && len(byDose[d.engine][0])+len(byDose[d.engine][1]) > 0 {
			for _, k := range byDose[d.engine][0] {
				out = append(out, evalOut{dose: d, ev: &res.Evaluations[k]})
			}
			for _, k := range byDose[d.engine][1] {
				out = append(out, evalOut{dose: d, ev: &res.OtherEvaluations[k], other: true})
			}
			continue
		}
		if d.notEvaluated == "" {
			// The engine took the dose but evaluated it for no antigen: a
			// CVX that carries none CDSi schedules (e.g. 998, no vaccine).
			d.notEvaluated = fmt.Sprintf("CVX %s (%s) carries no antigen the CDSi schedule evaluates", d.cvx, e.CVXDescription(d.cvx))
		}
		ags := []string(nil)
		if d.cvx != "" {
			ags = e.CVXAntigens(d.cvx)
		}
		if len(ags) == 0 {
			out = append(out, evalOut{dose: d})
		}
		for _, a := range ags {
			out = append(out, evalOut{dose: d, antigen: a})
		}
	}
	return out
}

// writeEvaluation writes one ImmunizationEvaluation.
func (r *immdsRequest) writeEvaluation(w *jsonBuf, eo *evalOut, ids *persistIDs) {
	antigen := eo.antigen
	if eo.ev != nil {
		antigen = eo.ev.Antigen
	}
	w.obj()
	w.lit("resourceType", "ImmunizationEvaluation")
	if ids != nil {
		id, key := ids.evaluation(eo.dose, antigen, eo.other)
		w.lit("id", id)
		w.raw("meta", metaEvaluation)
		writeExtensions(w, eo)
		w.key("identifier")
		w.arr()
		w.elem()
		w.obj()
		w.str("system", systemForecastID)
		w.str("value", key)
		w.end('}')
		w.end(']')
	} else {
		w.raw("meta", metaEvaluation)
		writeExtensions(w, eo)
	}
	w.lit("status", "completed")
	r.writePatientRef(w)
	w.lit("date", r.assessmentText)
	td, ok := targetDiseaseJSON[antigen]
	if !ok {
		td = targetDiseaseJSON[""]
	}
	w.raw("targetDisease", td)
	w.key("immunizationEvent")
	eo.dose.writeRef(w)
	status := 0 // not evaluated
	if eo.ev != nil && int(eo.ev.Status) < len(doseStatusJSON) {
		status = int(eo.ev.Status)
	}
	w.raw("doseStatus", doseStatusJSON[status])
	r.writeStatusReason(w, eo)
	if ev := eo.ev; ev != nil {
		if ev.SeriesName != "" {
			w.str("series", ev.SeriesName)
		}
		if ev.TargetDose > 0 {
			w.int("doseNumberPositiveInt", ev.TargetDose)
		}
		if ev.SeriesDoses > 0 {
			w.int("seriesDosesPositiveInt", ev.SeriesDoses)
		}
	}
	w.end('}')
}

// writeExtensions records the CDSi series type behind an evaluation and
// whether it comes from an other best series (extension parameter
// otherSeriesEvaluations).
func writeExtensions(w *jsonBuf, eo *evalOut) {
	if eo.ev == nil {
		return
	}
	st := seriesTypeCode(eo.ev.SeriesType)
	if st == "" && !eo.other {
		return
	}
	w.key("extension")
	w.arr()
	if st != "" {
		w.elem()
		w.obj()
		w.lit("url", extSeriesType)
		w.lit("valueCode", st)
		w.end('}')
	}
	if eo.other {
		w.elem()
		w.obj()
		w.lit("url", extOtherSeries)
		w.bool("valueBoolean", true)
		w.end('}')
	}
	w.end(']')
}

// writeStatusReason writes doseStatusReason: the IG's StatusReason code
// where one fits, and always the reason as text.
func (r *immdsRequest) writeStatusReason(w *jsonBuf, eo *evalOut) {
	var (
		code    concept
		hasCode bool
		text    string
	)
	switch ev := eo.ev; {
	case ev == nil:
		code, hasCode, text = reasonNotEvaluated, true, eo.dose.notEvaluated
	case ev.Status == forecast.SubStandardStatus:
		code, hasCode = eo.dose.subReason, eo.dose.hasSubReason
		text = ev.Reason
		if text == "" {
			text = "sub-standard dose (isSubpotent, or given after the lot expiration date)"
		}
	case ev.Status == forecast.Valid && ev.ReasonCode == "":
		if ev.Reason == "" {
			return
		}
		text = ev.Reason // e.g. "Grace period"
	case ev.Status == forecast.Extraneous && ev.ReasonCode == "":
		code, hasCode, text = reasonNotEvaluated, true, ev.Reason
		if text == "" {
			text = "extraneous: not needed by the series"
		}
	default:
		code, hasCode = statusReason(ev.ReasonCode)
		text = ev.Reason
		if text == "" {
			text = ev.ReasonCode.TestCaseText()
		}
	}
	w.key("doseStatusReason")
	w.arr()
	w.elem()
	w.obj()
	if hasCode {
		w.key("coding")
		w.arr()
		writeCoding(w, systemStatusReason, code)
		w.end(']')
	}
	if text == "" {
		text = code.display
	}
	w.str("text", text)
	w.end('}')
	w.end(']')
}

func (r *immdsRequest) writePatientRef(w *jsonBuf) {
	w.key("patient")
	w.obj()
	w.lit("reference", r.patientRef)
	if r.patientDisplay != "" {
		w.str("display", r.patientDisplay)
	}
	w.end('}')
}

// writeRef writes the Reference to the input Immunization: Immunization/{id},
// or a urn:uuid with its first identifier and position when it had no id.
func (d *doseInfo) writeRef(w *jsonBuf) {
	w.obj()
	w.lit("reference", d.ref)
	if id := d.identifier; id != nil && (id.System != "" || id.Value != "") {
		w.key("identifier")
		w.obj()
		if id.System != "" {
			w.str("system", id.System)
		}
		if id.Value != "" {
			w.str("value", id.Value)
		}
		w.end('}')
	}
	if d.display != "" {
		w.str("display", d.display)
	}
	w.end('}')
}

func writeCoding(w *jsonBuf, system string, c concept) {
	w.elem()
	w.obj()
	w.lit("system", system)
	w.lit("code", c.code)
	if c.display != "" {
		w.str("display", c.display)
	}
	w.end('}')
}

// writeRecommendation writes the ImmunizationRecommendation: one entry per
// vaccine group, in ScheduleSupportingData order.
func (r *immdsRequest) writeRecommendation(w *jsonBuf, res *forecast.Result, v *immdsVocab, ids *persistIDs) {
	// supporting[g] lists the doses valid for an antigen of group g.
	supporting := make([][]*doseInfo, len(v.groups))
	engineDose := make([]*doseInfo, len(r.in.Doses))
	for i := range r.doses {
		if d := &r.doses[i]; d.engine >= 0 {
			engineDose[d.engine] = d
		}
	}
	for i := range res.Evaluations {
		ev := &res.Evaluations[i]
		g, ok := v.antigen[ev.Antigen]
		if !ok || ev.Status != forecast.Valid || ev.DoseIndex < 0 || ev.DoseIndex >= len(engineDose) {
			continue
		}
		d := engineDose[ev.DoseIndex]
		if n := len(supporting[g]); d != nil && (n == 0 || supporting[g][n-1] != d) {
			supporting[g] = append(supporting[g], d)
		}
	}
	w.obj()
	w.lit("resourceType", "ImmunizationRecommendation")
	if ids != nil {
		w.lit("id", ids.recommendation)
	}
	w.raw("meta", metaRecommendation)
	if ids != nil {
		w.key("identifier")
		w.arr()
		w.elem()
		w.obj()
		w.str("system", systemForecastID)
		w.str("value", r.patientRef)
		w.end('}')
		w.end(']')
	}
	r.writePatientRef(w)
	w.lit("date", r.assessmentText)
	w.key("recommendation")
	w.arr()
	for gi := range res.Groups {
		g := &res.Groups[gi]
		idx := gi
		if idx >= len(v.groups) || v.groups[idx].name != g.VaccineGroup {
			idx = -1
			for k := range v.groups {
				if v.groups[k].name == g.VaccineGroup {
					idx = k
				}
			}
			if idx < 0 {
				continue
			}
		}
		w.elem()
		writeGroup(w, g, &v.groups[idx], supporting[idx])
	}
	w.end(']')
	w.end('}')
}

// writeGroup writes one recommendation entry.
func writeGroup(w *jsonBuf, g *forecast.GroupForecast, gv *groupVocab, supporting []*doseInfo) {
	w.obj()
	w.sep()
	w.b = append(w.b, gv.codesJSON...)
	w.need = true
	status := forecast.NotComplete // what forecastStatus says of an unknown one
	if int(g.Status) < len(forecastStatusJSON) {
		status = g.Status
	}
	w.raw("forecastStatus", forecastStatusJSON[status])
	if g.Reason != "" {
		w.key("forecastReason")
		w.arr()
		w.elem()
		w.obj()
		if c, ok := forecastReasonCode(g.Status, g.Reason); ok {
			w.key("coding")
			w.arr()
			writeCoding(w, systemForecastReason, c)
			w.end(']')
		}
		w.str("text", g.Reason)
		w.end('}')
		w.end(']')
	}
	if !g.Earliest.IsZero() || !g.Recommended.IsZero() || !g.PastDue.IsZero() || !g.Latest.IsZero() {
		w.key("dateCriterion")
		w.arr()
		for i, d := range [...]forecast.Date{g.Earliest, g.Recommended, g.PastDue, g.Latest} {
			writeCriterion(w, criterionCodeJSON[i], d)
		}
		w.end(']')
	}
	if g.SeriesName != "" {
		w.str("series", g.SeriesName)
	}
	if g.DoseNumber > 0 {
		w.int("doseNumberPositiveInt", g.DoseNumber)
	}
	if g.SeriesDoses > 0 {
		w.int("seriesDosesPositiveInt", g.SeriesDoses)
	}
	if len(supporting) > 0 {
		w.key("supportingImmunization")
		w.arr()
		for _, d := range supporting {
			w.elem()
			d.writeRef(w)
		}
		w.end(']')
	}
	w.end('}')
}

// writeCriterion writes one dateCriterion; code is its pre-rendered LOINC
// CodeableConcept.
func writeCriterion(w *jsonBuf, code []byte, d forecast.Date) {
	if d.IsZero() {
		return
	}
	w.elem()
	w.obj()
	w.raw("code", code)
	w.key("value")
	w.b = appendDate(w.b, d)
	w.end('}')
}

// appendDate appends d as a quoted YYYY-MM-DD.
func appendDate(b []byte, d forecast.Date) []byte {
	y, m, day := d.Civil()
	return append(b, '"', byte('0'+y/1000%10), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10),
		'-', byte('0'+m/10), byte('0'+m%10), '-', byte('0'+day/10), byte('0'+day%10), '"')
}
