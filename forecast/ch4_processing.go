package forecast

// Chapter 4, the processing model: gather necessary data (4.1), organize
// the immunization history (4.2), create relevant patient series (4.3,
// chapter 5), evaluate and forecast them (4.4, chapters 6 and 7), select
// the best patient series (4.5, chapter 8) and identify and evaluate the
// vaccine groups (4.6, chapter 9).

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// patient is the runtime data of section 4.1 for one Forecast call. It is
// built once and only read afterwards; each step returns its own values.
type patient struct {
	e       *Engine
	dob     Date
	asOf    Date
	gender  Gender
	country string
	obs     []Observation // codes normalised
	doses   []patientDose // administered doses, sorted by date (4.2)
	// byAntigen holds the antigen administered records of each antigen
	// (4.2 step 2), in date order.
	byAntigen [][]*patientDose
	// live holds the doses of a conflicting (previous) vaccine type of a
	// live virus conflict, in date order.
	live    []*patientDose
	sc      *scratch
	tr      *tracer
	notices []string
}

// patientDose is a vaccine dose administered as the engine sees it.
type patientDose struct {
	input       int // index in Input.Doses
	id          string
	date        Date
	cvx         cvxCode
	mvx, trade  string
	volume      float64
	subStandard bool // Table 6-3: dose condition or expired lot
	pos         int  // index in patient.doses
	conflicts   []conflictCandidate
}

// Forecast evaluates the patient's immunization history and forecasts
// every vaccine group. It never modifies in and never panics on bad input:
// invalid input (no birth date, a dose without date or with a malformed
// CVX code, a dose before birth) is an error wrapping ErrNoBirthDate,
// ErrNoAssessmentDate or ErrBadDose.
func (e *Engine) Forecast(in Input) (Result, error) {
	if err := in.validate(); err != nil {
		return Result{}, fmt.Errorf("forecast: %w", err)
	}
	sc := e.pool.Get().(*scratch)
	defer e.pool.Put(sc)
	sc.reset(len(e.s.durations))
	p := &patient{e: e, dob: in.BirthDate, asOf: in.AssessmentDate, gender: in.Gender,
		country: strings.TrimSpace(in.BirthCountry), sc: sc}
	if in.Trace {
		p.tr = &tracer{}
	}
	if p.country == "" {
		p.country = "U.S."
	}
	if len(in.Observations) > 0 {
		p.obs = make([]Observation, 0, len(in.Observations))
		for _, o := range in.Observations {
			p.obs = append(p.obs, Observation{Code: normObsCode(o.Code), Date: o.Date})
		}
	}
	p.organizeHistory(in.Doses)

	var buf [40]antigenOutcome
	outcomes := buf[:0]
	if len(e.s.antigens) > len(buf) {
		outcomes = make([]antigenOutcome, 0, len(e.s.antigens))
	}
	outcomes = outcomes[:len(e.s.antigens)]
	for ai := range e.s.antigens {
		outcomes[ai] = p.processAntigen(ai)
	}
	res := p.vaccineGroupForecasts(outcomes)
	res.AssessmentDate = p.asOf
	res.Notices = p.notices
	if p.tr != nil {
		res.Trace = p.tr.lines
	}
	return res, nil
}

// organizeHistory is section 4.2: keep the administered doses (a refusal
// or "not done" record is not a dose administered; a dose after the
// assessment date has not been administered yet) and sort them by date.
// Splitting into antigens happens per antigen in antigenDoses.
func (p *patient) organizeHistory(in []Dose) {
	p.doses = p.sc.doses[:0]
	defer func() { p.sc.doses = p.doses }()
	for i := range in {
		d := &in[i]
		if d.Condition == NotAdministered {
			continue
		}
		if d.Date > p.asOf {
			p.notices = append(p.notices, fmt.Sprintf("dose %d (id %q, %s) is after the assessment date %s and was not evaluated", i+1, d.ID, d.Date, p.asOf))
			continue
		}
		c, _ := parseCVX(d.CVX) // validated
		if info := p.e.s.info(c); info == nil || !info.mapped {
			if info == nil {
				p.notices = append(p.notices, fmt.Sprintf("dose %d (id %q): CVX %s is unknown and was not evaluated", i+1, d.ID, d.CVX))
			} else {
				p.notices = append(p.notices, fmt.Sprintf("dose %d (id %q): CVX %s (%s) carries no antigen CDSi evaluates", i+1, d.ID, d.CVX, info.shortDesc))
			}
			continue
		}
		sub := !canBeEvaluated(d) // 6.1, decided once per dose
		p.doses = append(p.doses, patientDose{input: i, id: d.ID, date: d.Date, cvx: c,
			mvx: strings.ToUpper(strings.TrimSpace(d.MVX)), trade: strings.TrimSpace(d.TradeName),
			volume: d.Volume, subStandard: sub})
	}
	slices.SortStableFunc(p.doses, func(a, b patientDose) int { return cmp.Compare(a.date, b.date) })
	for i := range p.doses {
		p.doses[i].pos = i
	}
	p.splitIntoAntigens()
	p.live = p.sc.ptrs.room(len(p.doses))
	for i := range p.doses {
		if p.e.isConflicting(p.doses[i].cvx) {
			p.live = append(p.live, &p.doses[i])
		}
	}
	p.findConflictCandidates()
}

// splitIntoAntigens is section 4.2 step 2: an antigen administered record
// for each antigen of each dose, honouring the association begin and end
// ages of the CVX map (a Zoster vaccine given below 50 years counts for
// Varicella).
func (p *patient) splitIntoAntigens() {
	n := len(p.e.s.antigens)
	if cap(p.sc.byAntigen) < n {
		p.sc.byAntigen = make([][]*patientDose, n)
	}
	p.byAntigen = p.sc.byAntigen[:n]
	clear(p.byAntigen)
	// One pass records (antigen, dose) pairs, a counting sort groups them
	// by antigen keeping date order.
	pairs := p.sc.ints.room(2 * 8 * len(p.doses))
	counts := p.sc.ints.take(n)
	for i := range p.doses {
		d := &p.doses[i]
		prev := -1
		for _, as := range p.e.s.cvx[d.cvx].associations {
			if as.antigen == prev {
				continue
			}
			if (as.beginAge.set || as.endAge.set) &&
				(d.date < p.ageDate(as.beginAge, MinDate) || d.date >= p.ageDate(as.endAge, MaxDate)) {
				continue
			}
			prev = as.antigen
			counts[as.antigen]++
			pairs = append(pairs, as.antigen, i)
		}
	}
	for ai, c := range counts {
		if c > 0 {
			p.byAntigen[ai] = p.sc.ptrs.room(c)
		}
	}
	for k := 0; k < len(pairs); k += 2 {
		ai := pairs[k]
		p.byAntigen[ai] = append(p.byAntigen[ai], &p.doses[pairs[k+1]])
	}
}

// ageDate is the patient's date of birth plus an age from the supporting
// data (CALCDTAGE-*, CALCDTIND-*, CALCDTSKIP-3/4, …), def when the age is
// not specified. Ages are interned at compile time, so each is computed
// once per patient.
func (p *patient) ageDate(d Duration, def Date) Date {
	if !d.set {
		return def
	}
	if d.id == 0 {
		return p.dob.Add(d)
	}
	if v := p.sc.dobAdd[d.id]; v != 0 {
		return v
	}
	v := p.dob.Add(d)
	p.sc.dobAdd[d.id] = v
	return v
}

// antigenOutcome is everything later chapters need about one antigen.
type antigenOutcome struct {
	antigen int
	doses   []*patientDose
	runs    []*seriesRun // relevant patient series, evaluated and forecast
	best    []*seriesRun // best patient series (chapter 8)
}

// processAntigen runs sections 4.3–4.5 for one antigen.
func (p *patient) processAntigen(ai int) antigenOutcome {
	a := p.e.s.antigens[ai]
	out := antigenOutcome{antigen: ai, doses: p.byAntigen[ai]}
	relevant := p.relevantSeries(a) // chapter 5
	if p.tr != nil {
		p.tr.printf("%s: %d doses, %d relevant patient series", a.name, len(out.doses), len(relevant))
	}
	ac := antigenContext{
		immune:          p.evidenceOfImmunity(a), // 7.2
		contraindicated: p.antigenContraindicated(a),
	}
	ac.complete = ac.completeBuf[:0]
	// Series groups are processed in ascending order so that a
	// "Completed Series" conditional skip (Table 6-7) can see the status of
	// the series groups it names.
	slices.SortStableFunc(relevant, func(a, b *series) int { return cmp.Compare(a.group, b.group) })
	out.runs = p.sc.runPtrs.room(len(relevant))
	for _, sr := range relevant {
		run := p.evaluateSeries(sr, out.doses, &ac) // 4.4, chapter 6
		p.forecastSeries(run, out.doses, &ac)       // chapter 7
		if run.fc.status == Complete {
			ac.complete = append(ac.complete, completion{group: sr.group, date: run.lastSatisfiedDate()})
		}
		out.runs = append(out.runs, run)
	}
	out.best = p.selectBestSeries(out.runs) // chapter 8
	return out
}
