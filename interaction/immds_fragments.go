package interaction

import "github.com/immunis/immunis/forecast"

// Pre-rendered parts of the $immds-forecast answer. Most of a 20-dose
// child's 56 KB answer is vocabulary — a disease's SNOMED CT coding, a dose
// status, a profile, a LOINC date criterion — the same bytes for every
// patient. They are rendered once, by the same writers, and copied into
// each answer; the patient's own values (references, dates, series, reasons)
// are still written per request.

// render runs write into a fresh buffer and returns the JSON it wrote.
func render(write func(w *jsonBuf)) []byte {
	w := &jsonBuf{}
	write(w)
	return w.b
}

var (
	metaEvaluation     = render(func(w *jsonBuf) { renderProfile(w, profileEvaluation) })
	metaRecommendation = render(func(w *jsonBuf) { renderProfile(w, profileRecommendation) })

	// targetDiseaseJSON holds each antigen's targetDisease; "" is the
	// data-absent form for a vaccine code no schedule knows.
	targetDiseaseJSON = func() map[string][]byte {
		m := map[string][]byte{"": render(func(w *jsonBuf) { renderTargetDisease(w, "") })}
		for a := range targetDisease {
			m[a] = render(func(w *jsonBuf) { renderTargetDisease(w, a) })
		}
		return m
	}()

	// doseStatusJSON is indexed by forecast.EvalStatus; index 0 (no
	// evaluation) is the "not evaluated" status of a dose the engine
	// could not take.
	doseStatusJSON = func() (out [forecast.SubStandardStatus + 1][]byte) {
		for s := range out {
			ig, cdsi := concept{"notvalid", "Not valid"}, concept{"not-evaluated", "Not evaluated"}
			if s > 0 {
				ig, cdsi = doseStatus(forecast.EvalStatus(s))
			}
			out[s] = render(func(w *jsonBuf) {
				renderConcept(w, cdsi.display, coding{systemDoseStatus, ig}, coding{systemCDSiEvalStatus, cdsi})
			})
		}
		return out
	}()

	// forecastStatusJSON is indexed by forecast.SeriesStatus.
	forecastStatusJSON = func() (out [forecast.NotRecommended + 1][]byte) {
		for s := range out {
			st := forecastStatus(forecast.SeriesStatus(s))
			out[s] = render(func(w *jsonBuf) { renderConcept(w, st.display, coding{systemForecastStatus, st}) })
		}
		return out
	}()

	// The code of each LOINC date criterion, in the order they are written.
	criterionCodeJSON = func() (out [4][]byte) {
		for i, c := range []concept{loincEarliest, loincRecommended, loincPastDue, loincLatest} {
			out[i] = render(func(w *jsonBuf) { renderCodeable(w, systemLOINC, c) })
		}
		return out
	}()
)

func renderProfile(w *jsonBuf, profile string) {
	w.obj()
	w.key("profile")
	w.arr()
	w.elem()
	w.quote(profile)
	w.need = true
	w.end(']')
	w.end('}')
}

// renderTargetDisease writes the SNOMED CT disease of a CDSi antigen, with
// the antigen's name as text (Meningococcal and Meningococcal B share a
// code). An unknown antigen (a vaccine code nobody knows) is a
// data-absent-reason: the element is required.
func renderTargetDisease(w *jsonBuf, antigen string) {
	w.obj()
	if c, ok := targetDisease[antigen]; ok {
		w.key("coding")
		w.arr()
		writeCoding(w, systemSNOMED, c)
		w.end(']')
		w.str("text", antigen)
	} else {
		w.key("extension")
		w.arr()
		w.elem()
		w.obj()
		w.lit("url", systemDataAbsent)
		w.lit("valueCode", "unknown")
		w.end('}')
		w.end(']')
		w.str("text", "unknown: the vaccine code is not one CDSi knows")
	}
	w.end('}')
}

// coding is a concept of a code system.
type coding struct {
	system string
	concept
}

// renderConcept writes a CodeableConcept of the codings, with text.
func renderConcept(w *jsonBuf, text string, codings ...coding) {
	w.obj()
	w.key("coding")
	w.arr()
	for _, c := range codings {
		writeCoding(w, c.system, c.concept)
	}
	w.end(']')
	w.str("text", text)
	w.end('}')
}

// renderCodeable writes a CodeableConcept of one coding.
func renderCodeable(w *jsonBuf, system string, c concept) {
	w.obj()
	w.key("coding")
	w.arr()
	writeCoding(w, system, c)
	w.end(']')
	w.end('}')
}

// renderGroupCodes writes a vaccine group's vaccineCode and targetDisease
// members (each group's are the same for every patient).
func renderGroupCodes(w *jsonBuf, gv *groupVocab) {
	w.key("vaccineCode")
	w.arr()
	w.elem()
	w.obj()
	w.key("coding")
	w.arr()
	writeCoding(w, systemCVX, gv.cvx)
	w.end(']')
	w.str("text", gv.name)
	w.end('}')
	w.end(']')
	w.key("targetDisease")
	w.obj()
	w.key("coding")
	w.arr()
	seen := ""
	for _, a := range gv.antigens {
		if c := targetDisease[a]; c.code != seen {
			writeCoding(w, systemSNOMED, c)
			seen = c.code
		}
	}
	w.end(']')
	w.str("text", gv.name)
	w.end('}')
}
