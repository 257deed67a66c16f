package forecast

// The supporting data compiled into typed structures: durations parsed
// once, CVX codes as small integers, yes/no flags as booleans, and every
// empty element kept distinguishable from a zero value (see the
// supporting-data overview: "Empty/self-closing elements are meaningful").

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// cvxCode is a CVX code as a number ("03" and "3" are the same code).
type cvxCode uint16

func parseCVX(s string) (cvxCode, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 4 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return cvxCode(n), true
}

// String renders the code zero-padded to two digits, as the supporting
// data and the test cases spell it ("03", "107").
func (c cvxCode) String() string {
	if c < 10 {
		return "0" + strconv.Itoa(int(c))
	}
	return strconv.Itoa(int(c))
}

// cvxList parses "01;11; 20" lists ("n/a" and "" are empty).
func cvxList(s string) ([]cvxCode, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "n/a") {
		return nil, nil
	}
	var out []cvxCode
	for _, f := range strings.Split(s, ";") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		c, ok := parseCVX(f)
		if !ok {
			return nil, fmt.Errorf("CVX list %q: bad code %q", s, f)
		}
		out = append(out, c)
	}
	return out, nil
}

// cvxSet is a set of CVX codes: a bitmap for the codes below 1024 (every
// code in use) and a list for any others.
type cvxSet struct {
	bits  *[16]uint64
	other []cvxCode
	n     int
}

func newCVXSet(list []cvxCode) cvxSet {
	var s cvxSet
	for _, c := range list {
		if c < 1024 {
			if s.bits == nil {
				s.bits = new([16]uint64)
			}
			s.bits[c>>6] |= 1 << (c & 63)
		} else {
			s.other = append(s.other, c)
		}
		s.n++
	}
	return s
}

// set builds a cvxSet, sharing the bitmap of an identical earlier set.
func (sch *schedule) set(list []cvxCode) cvxSet {
	s := newCVXSet(list)
	if s.bits != nil {
		if b, ok := sch.bitsets[*s.bits]; ok {
			s.bits = b
		} else {
			sch.bitsets[*s.bits] = s.bits
		}
	}
	return s
}

// empty reports whether the set has no codes ("n/a" in the data).
func (s cvxSet) empty() bool { return s.n == 0 }

func (s cvxSet) has(c cvxCode) bool {
	if c < 1024 {
		return s.bits != nil && s.bits[c>>6]&(1<<(c&63)) != 0
	}
	return hasCVX(s.other, c)
}

func hasCVX(list []cvxCode, c cvxCode) bool {
	for _, x := range list {
		if x == c {
			return true
		}
	}
	return false
}

// normObsCode normalises a CDSi coded observation to its three-digit form
// ("7" → "007").
func normObsCode(s string) string {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n < 1000 && len(s) < 3 {
		return fmt.Sprintf("%03d", n)
	}
	return s
}

type seriesType uint8

const (
	seriesStandard seriesType = iota
	seriesRisk
	seriesEvaluationOnly
)

func (t seriesType) String() string {
	switch t {
	case seriesRisk:
		return "Risk"
	case seriesEvaluationOnly:
		return "Evaluation Only"
	}
	return "Standard"
}

// schedule is the compiled supporting data.
type schedule struct {
	strs          map[string]string // string interning while compiling
	bitsets       map[[16]uint64]*[16]uint64
	antigens      []*antigen
	antigenByName map[string]int
	groups        []*vaccineGroup
	groupByName   map[string]int
	cvx           []*cvxInfo // by code: CVX table and CVX → antigen map
	conflicts     []liveVirusConflict
	observations  map[string]*observation
	durations     []Duration // interned ages, by id (index 0 unused)
}

type cvxInfo struct {
	code         cvxCode
	shortDesc    string // CDC CVX table short description
	fullName     string
	status       string
	associations []cvxAssociation // ScheduleSupportingData cvxToAntigenMap
	mapped       bool             // present in cvxToAntigenMap
}

type cvxAssociation struct {
	antigen  int
	beginAge Duration
	endAge   Duration
}

type observation struct {
	code, title, indicationText, contraindicationText, clarifyingText, group string
}

type liveVirusConflict struct {
	previous, current                  cvxCode
	begin, minConflictEnd, conflictEnd Duration
}

type vaccineGroup struct {
	name           string
	antigenNames   []string // shared, read-only
	fullGroup      bool     // administerFullVaccineGroup
	antigens       []int
	unspecifiedCVX cvxCode // "<group>, unspecified formulation" CVX, 0 if none
}

type antigen struct {
	name          string
	group         int // vaccine group index
	immunityCodes []string
	birthImmunity []birthImmunity
	contra        []antigenContraindication
	vaccineContra []vaccineContraindication
	series        []*series
}

type birthImmunity struct {
	before     Date
	country    string
	exclusions []string
}

type antigenContraindication struct {
	code, title, text, guidance string
	beginAge, endAge            Duration
}

type vaccineContraindication struct {
	code, title, text, guidance string
	vaccines                    []contraindicatedVaccine
}

type contraindicatedVaccine struct {
	cvx              cvxCode
	beginAge, endAge Duration
}

type series struct {
	name          string
	antigen       int
	typ           seriesType
	equivalent    int // equivalentSeriesGroups, 0 when none
	genders       []Gender
	defaultSeries bool
	productPath   bool
	groupName     string
	group         int
	priority      byte // 'A' is the highest
	preference    int  // 0 when empty
	minAgeToStart Duration
	maxAgeToStart Duration
	indications   []indication
	guidance      []string
	doses         []seriesDose
}

type indication struct {
	code, text, description, guidance string
	beginAge, endAge                  Duration
}

type seriesDose struct {
	number             int
	ages               []ageRule
	intervals          []intervalRule
	allowableIntervals []intervalRule
	preferable         []preferableVaccine
	allowable          []allowableVaccine
	inadvertent        cvxSet
	skips              []conditionalSkip
	recurring          bool
	seasonStart        Date // zero when none
	seasonEnd          Date
}

type ageRule struct {
	absMinAge, minAge, earliestRecAge, latestRecAge, maxAge Duration
	effective, cessation                                    Date
}

type intervalRule struct {
	fromPrevious     bool
	fromTargetDose   int // 1-based, 0 when not applicable
	fromMostRecent   cvxSet
	fromObservation  string
	absMinInt        Duration
	minInt           Duration
	earliestRecInt   Duration
	latestRecInt     Duration
	priorityOverride bool // intervalPriority "override" (FORECASTPRIORITY-1)
	effective        Date
	cessation        Date
}

type preferableVaccine struct {
	cvx              cvxCode
	vaccineType      string
	beginAge, endAge Duration
	tradeName, mvx   string
	volume           float64 // 0 when unspecified
	forecast         bool
}

type allowableVaccine struct {
	cvx              cvxCode
	vaccineType      string
	beginAge, endAge Duration
}

type skipContext uint8

const (
	contextEvaluation skipContext = 1 << iota
	contextForecast
)

type conditionalSkip struct {
	context skipContext
	setOr   bool // setLogic OR; "n/a" (a single set) behaves as AND
	sets    []skipSet
}

type skipSet struct {
	id, description      string
	effective, cessation Date
	conditionOr          bool
	conditions           []skipCondition
}

type conditionType uint8

const (
	condAge conditionType = iota + 1
	condCompletedSeries
	condInterval
	condCountByAge
	condCountByDate
	condCountByDateAndAge
)

type countLogic uint8

const (
	countGreater countLogic = iota + 1
	countEqual
	countLess
)

type skipCondition struct {
	typ                conditionType
	startDate, endDate Date // zero when empty
	beginAge, endAge   Duration
	interval           Duration
	doseCount          int
	validOnly          bool // doseType Valid (else Total)
	logic              countLogic
	vaccineTypes       cvxSet
	seriesGroups       []int
}

// compile turns the decoded XML into a schedule.
func compile(rd *rawData) (*schedule, error) {
	s := &schedule{
		strs:          map[string]string{},
		bitsets:       map[[16]uint64]*[16]uint64{},
		antigenByName: map[string]int{},
		groupByName:   map[string]int{},
		observations:  map[string]*observation{},
	}
	sc := &rd.schedule

	// Vaccine groups and the antigens they classify.
	for _, g := range sc.VaccineGroups.VaccineGroup {
		name := strings.TrimSpace(g.Name)
		s.groupByName[name] = len(s.groups)
		s.groups = append(s.groups, &vaccineGroup{
			name:      name,
			fullGroup: yes(g.AdministerFullVaccineGroup),
		})
	}
	for _, m := range sc.VaccineGroupToAntigenMap.VaccineGroupMap {
		gi, ok := s.groupByName[strings.TrimSpace(m.Name)]
		if !ok {
			return nil, fmt.Errorf("vaccineGroupToAntigenMap: unknown vaccine group %q", m.Name)
		}
		for _, an := range m.Antigen {
			an = strings.TrimSpace(an)
			if _, dup := s.antigenByName[an]; dup {
				return nil, fmt.Errorf("vaccineGroupToAntigenMap: antigen %q in two groups", an)
			}
			s.antigenByName[an] = len(s.antigens)
			s.groups[gi].antigens = append(s.groups[gi].antigens, len(s.antigens))
			s.groups[gi].antigenNames = append(s.groups[gi].antigenNames, an)
			s.antigens = append(s.antigens, &antigen{name: an, group: gi})
		}
	}

	// CVX table (CDC code set) first, then the CVX → antigen map.
	if err := s.loadCVXTable(rd.cvxTable); err != nil {
		return nil, err
	}
	for _, m := range sc.CVXToAntigenMap.CVXMap {
		c, ok := parseCVX(m.CVX)
		if !ok {
			return nil, fmt.Errorf("cvxToAntigenMap: bad CVX %q", m.CVX)
		}
		info := s.cvx[c]
		if info == nil {
			info = &cvxInfo{code: c, shortDesc: s.str(m.ShortDescription)}
			s.cvx[c] = info
		}
		info.mapped = true
		for _, a := range m.Association {
			ai, ok := s.antigenByName[strings.TrimSpace(a.Antigen)]
			if !ok {
				return nil, fmt.Errorf("cvxToAntigenMap: CVX %s: unknown antigen %q", m.CVX, a.Antigen)
			}
			b, err1 := ParseDuration(a.AssociationBeginAge)
			e, err2 := ParseDuration(a.AssociationEndAge)
			if err := firstErr(err1, err2); err != nil {
				return nil, fmt.Errorf("cvxToAntigenMap: CVX %s: %w", m.CVX, err)
			}
			info.associations = append(info.associations, cvxAssociation{antigen: ai, beginAge: b, endAge: e})
		}
	}

	for _, c := range sc.LiveVirusConflicts.LiveVirusConflict {
		p, ok1 := parseCVX(c.Previous.CVX)
		cur, ok2 := parseCVX(c.Current.CVX)
		b, err1 := ParseDuration(c.ConflictBeginInterval)
		me, err2 := ParseDuration(c.MinConflictEndInterval)
		e, err3 := ParseDuration(c.ConflictEndInterval)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("liveVirusConflict %q/%q: bad CVX", c.Previous.CVX, c.Current.CVX)
		}
		if err := firstErr(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("liveVirusConflict %s/%s: %w", c.Previous.CVX, c.Current.CVX, err)
		}
		s.conflicts = append(s.conflicts, liveVirusConflict{previous: p, current: cur, begin: b, minConflictEnd: me, conflictEnd: e})
	}

	for _, o := range sc.Observations.Observation {
		code := normObsCode(o.ObservationCode)
		s.observations[code] = &observation{
			code:                 code,
			title:                s.str(o.ObservationTitle),
			group:                s.str(o.Group),
			indicationText:       s.str(o.IndicationText),
			contraindicationText: s.str(o.ContraindicationText),
			clarifyingText:       s.str(o.ClarifyingText),
		}
	}

	for i := range rd.antigens {
		if err := s.compileAntigen(&rd.antigens[i]); err != nil {
			return nil, err
		}
	}
	for _, a := range s.antigens {
		if len(a.series) == 0 {
			return nil, fmt.Errorf("antigen %q has no antigen supporting data", a.name)
		}
	}
	s.findUnspecifiedCVX()
	s.internAges()
	s.strs, s.bitsets = nil, nil
	return s, nil
}

// code is normObsCode, interned.
func (s *schedule) code(x string) string { return s.str(normObsCode(x)) }

// str trims and interns a string of the data: the XML repeats the same
// vaccine type names thousands of times, and one copy of each keeps the
// engine small for the garbage collector.
func (s *schedule) str(x string) string {
	x = strings.TrimSpace(x)
	if v, ok := s.strs[x]; ok {
		return v
	}
	v := strings.Clone(x)
	s.strs[v] = v
	return v
}

// internAges gives every age of the data (durations added to the date of
// birth) a small id, so a patient computes each age date once.
func (s *schedule) internAges() {
	ids := map[[3]int32]uint16{}
	s.durations = []Duration{{}}
	intern := func(d *Duration) {
		if !d.set {
			return
		}
		k := [3]int32{d.years, d.months, d.days}
		id, ok := ids[k]
		if !ok {
			id = uint16(len(s.durations))
			ids[k] = id
			s.durations = append(s.durations, *d)
		}
		d.id = id
	}
	for c := range s.cvx {
		if s.cvx[c] != nil {
			for i := range s.cvx[c].associations {
				intern(&s.cvx[c].associations[i].beginAge)
				intern(&s.cvx[c].associations[i].endAge)
			}
		}
	}
	for _, a := range s.antigens {
		for i := range a.contra {
			intern(&a.contra[i].beginAge)
			intern(&a.contra[i].endAge)
		}
		for i := range a.vaccineContra {
			for j := range a.vaccineContra[i].vaccines {
				intern(&a.vaccineContra[i].vaccines[j].beginAge)
				intern(&a.vaccineContra[i].vaccines[j].endAge)
			}
		}
		for _, sr := range a.series {
			intern(&sr.minAgeToStart)
			intern(&sr.maxAgeToStart)
			for i := range sr.indications {
				intern(&sr.indications[i].beginAge)
				intern(&sr.indications[i].endAge)
			}
			for d := range sr.doses {
				sd := &sr.doses[d]
				for i := range sd.ages {
					r := &sd.ages[i]
					for _, x := range []*Duration{&r.absMinAge, &r.minAge, &r.earliestRecAge, &r.latestRecAge, &r.maxAge} {
						intern(x)
					}
				}
				for i := range sd.preferable {
					intern(&sd.preferable[i].beginAge)
					intern(&sd.preferable[i].endAge)
				}
				for i := range sd.allowable {
					intern(&sd.allowable[i].beginAge)
					intern(&sd.allowable[i].endAge)
				}
				for k := range sd.skips {
					for j := range sd.skips[k].sets {
						for c := range sd.skips[k].sets[j].conditions {
							intern(&sd.skips[k].sets[j].conditions[c].beginAge)
							intern(&sd.skips[k].sets[j].conditions[c].endAge)
						}
					}
				}
			}
		}
	}
}

func (s *schedule) loadCVXTable(b []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		if line == 1 {
			continue // header
		}
		f := strings.Split(sc.Text(), "\t")
		if len(f) < 5 {
			return fmt.Errorf("cvx.tsv line %d: want 6 columns", line)
		}
		c, ok := parseCVX(f[0])
		if !ok {
			return fmt.Errorf("cvx.tsv line %d: bad CVX %q", line, f[0])
		}
		s.setInfo(c, &cvxInfo{code: c, shortDesc: s.str(f[1]), fullName: s.str(f[2]), status: s.str(f[4])})
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read cvx.tsv: %w", err)
	}
	return nil
}

// info returns the data of a CVX code, nil when the code is unknown.
func (s *schedule) info(c cvxCode) *cvxInfo {
	if int(c) < len(s.cvx) {
		return s.cvx[c]
	}
	return nil
}

func (s *schedule) setInfo(c cvxCode, info *cvxInfo) {
	for int(c) >= len(s.cvx) {
		s.cvx = append(s.cvx, nil)
	}
	s.cvx[c] = info
}

// findUnspecifiedCVX picks, per vaccine group, the CVX whose short
// description is "<something>, unspecified formulation" and that maps to
// exactly the group's antigens (DTaP/Tdap/Td → 107 "DTaP, unspecified
// formulation"; MMR has none). When several qualify, the lowest code wins.
func (s *schedule) findUnspecifiedCVX() {
	for _, g := range s.groups {
		for c := range s.cvx {
			info := s.cvx[c]
			if info == nil || !info.mapped || !strings.Contains(strings.ToLower(info.shortDesc), "unspecified formulation") {
				continue
			}
			if len(info.associations) != len(g.antigens) {
				continue
			}
			all := true
			for _, a := range info.associations {
				if s.antigens[a.antigen].group != s.groupByName[g.name] {
					all = false
				}
			}
			if all {
				g.unspecifiedCVX = cvxCode(c)
				break
			}
		}
	}
}

func (s *schedule) compileAntigen(x *xmlAntigen) error {
	if len(x.Series) == 0 {
		return fmt.Errorf("antigen supporting data without series")
	}
	name := strings.TrimSpace(x.Series[0].TargetDisease)
	ai, ok := s.antigenByName[name]
	if !ok {
		return fmt.Errorf("antigen supporting data %q: not in vaccineGroupToAntigenMap", name)
	}
	a := s.antigens[ai]
	wrap := func(err error) error { return fmt.Errorf("antigen %s: %w", name, err) }

	for _, h := range x.Immunity.ClinicalHistory {
		a.immunityCodes = append(a.immunityCodes, normObsCode(h.GuidelineCode))
	}
	for _, b := range x.Immunity.DateOfBirth {
		d, err := ParseDate(b.ImmunityBirthDate)
		if err != nil {
			return wrap(fmt.Errorf("immunity birth date: %w", err))
		}
		bi := birthImmunity{before: d, country: s.str(b.BirthCountry)}
		for _, e := range b.Exclusion {
			bi.exclusions = append(bi.exclusions, normObsCode(e.ExclusionCode))
		}
		a.birthImmunity = append(a.birthImmunity, bi)
	}
	for _, c := range x.Contraindications.VaccineGroup.Contraindication {
		b, err1 := ParseDuration(c.BeginAge)
		e, err2 := ParseDuration(c.EndAge)
		if err := firstErr(err1, err2); err != nil {
			return wrap(fmt.Errorf("contraindication %s: %w", c.ObservationCode, err))
		}
		a.contra = append(a.contra, antigenContraindication{
			code: s.code(c.ObservationCode), title: s.str(c.ObservationTitle),
			text: s.str(c.ContraindicationText), guidance: s.str(c.Guidance),
			beginAge: b, endAge: e,
		})
	}
	for _, c := range x.Contraindications.Vaccine.Contraindication {
		vc := vaccineContraindication{
			code: s.code(c.ObservationCode), title: s.str(c.ObservationTitle),
			text: s.str(c.ContraindicationText), guidance: s.str(c.Guidance),
		}
		for _, v := range c.Vaccines {
			cv, ok := parseCVX(v.CVX)
			if !ok {
				return wrap(fmt.Errorf("contraindicated vaccine: bad CVX %q", v.CVX))
			}
			b, err1 := ParseDuration(v.BeginAge)
			e, err2 := ParseDuration(v.EndAge)
			if err := firstErr(err1, err2); err != nil {
				return wrap(fmt.Errorf("contraindicated vaccine %s: %w", v.CVX, err))
			}
			vc.vaccines = append(vc.vaccines, contraindicatedVaccine{cvx: cv, beginAge: b, endAge: e})
		}
		a.vaccineContra = append(a.vaccineContra, vc)
	}
	for i := range x.Series {
		sr, err := s.compileSeries(&x.Series[i], ai)
		if err != nil {
			return wrap(fmt.Errorf("series %q: %w", strings.TrimSpace(x.Series[i].SeriesName), err))
		}
		a.series = append(a.series, sr)
	}
	return nil
}

func (s *schedule) compileSeries(x *xmlSeries, ai int) (*series, error) {
	sr := &series{
		name:          s.str(x.SeriesName),
		antigen:       ai,
		defaultSeries: yes(x.SelectSeries.DefaultSeries),
		productPath:   yes(x.SelectSeries.ProductPath),
		groupName:     s.str(x.SelectSeries.SeriesGroupName),
	}
	switch strings.ToLower(strings.TrimSpace(x.SeriesType)) {
	case "standard":
		sr.typ = seriesStandard
	case "risk":
		sr.typ = seriesRisk
	case "evaluation only":
		sr.typ = seriesEvaluationOnly
	default:
		return nil, fmt.Errorf("unknown series type %q", x.SeriesType)
	}
	var err error
	if sr.group, err = atoiOrZero(x.SelectSeries.SeriesGroup); err != nil {
		return nil, fmt.Errorf("series group: %w", err)
	}
	if sr.equivalent, err = atoiOrZero(x.EquivalentSeriesGroups); err != nil {
		return nil, fmt.Errorf("equivalent series groups: %w", err)
	}
	if sr.preference, err = atoiOrZero(x.SelectSeries.SeriesPreference); err != nil {
		return nil, fmt.Errorf("series preference: %w", err)
	}
	if p := strings.TrimSpace(x.SelectSeries.SeriesPriority); p != "" {
		sr.priority = strings.ToUpper(p)[0]
	} else {
		sr.priority = 'Z'
	}
	for _, g := range x.RequiredGender {
		switch strings.ToLower(strings.TrimSpace(g)) {
		case "":
		case "female":
			sr.genders = append(sr.genders, GenderFemale)
		case "male":
			sr.genders = append(sr.genders, GenderMale)
		case "unknown":
			sr.genders = append(sr.genders, GenderUnknown)
		case "transgender":
			sr.genders = append(sr.genders, GenderTransgender)
		default:
			return nil, fmt.Errorf("unknown required gender %q", g)
		}
	}
	var e1, e2 error
	sr.minAgeToStart, e1 = ParseDuration(x.SelectSeries.MinAgeToStart)
	sr.maxAgeToStart, e2 = ParseDuration(x.SelectSeries.MaxAgeToStart)
	if err := firstErr(e1, e2); err != nil {
		return nil, fmt.Errorf("select series: %w", err)
	}
	for _, g := range x.SeriesAdminGuidance {
		if g = strings.TrimSpace(g); g != "" {
			sr.guidance = append(sr.guidance, s.str(g))
		}
	}
	for _, in := range x.Indication {
		code := strings.TrimSpace(in.ObservationCode.Code)
		if code == "" {
			continue
		}
		b, err1 := ParseDuration(in.BeginAge)
		e, err2 := ParseDuration(in.EndAge)
		if err := firstErr(err1, err2); err != nil {
			return nil, fmt.Errorf("indication %s: %w", code, err)
		}
		sr.indications = append(sr.indications, indication{
			code: s.code(code), text: s.str(in.ObservationCode.Text),
			description: s.str(in.Description), guidance: s.str(in.Guidance),
			beginAge: b, endAge: e,
		})
	}
	for i := range x.SeriesDose {
		d, err := s.compileDose(&x.SeriesDose[i])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", strings.TrimSpace(x.SeriesDose[i].DoseNumber), err)
		}
		if d.number != i+1 {
			return nil, fmt.Errorf("dose %d is numbered %d", i+1, d.number)
		}
		sr.doses = append(sr.doses, d)
	}
	if len(sr.doses) == 0 {
		return nil, fmt.Errorf("no series doses")
	}
	return sr, nil
}

func (s *schedule) compileDose(x *xmlSeriesDose) (seriesDose, error) {
	var d seriesDose
	num := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(x.DoseNumber), "Dose"))
	n, err := strconv.Atoi(num)
	if err != nil {
		return d, fmt.Errorf("dose number %q: %w", x.DoseNumber, err)
	}
	d.number = n
	d.recurring = yes(x.RecurringDose)
	for _, a := range x.Age {
		var r ageRule
		var errs [7]error
		r.absMinAge, errs[0] = ParseDuration(a.AbsMinAge)
		r.minAge, errs[1] = ParseDuration(a.MinAge)
		r.earliestRecAge, errs[2] = ParseDuration(a.EarliestRecAge)
		r.latestRecAge, errs[3] = ParseDuration(a.LatestRecAge)
		r.maxAge, errs[4] = ParseDuration(a.MaxAge)
		r.effective, errs[5] = optDate(a.EffectiveDate)
		r.cessation, errs[6] = optDate(a.CessationDate)
		if err := firstErr(errs[:]...); err != nil {
			return d, fmt.Errorf("age: %w", err)
		}
		d.ages = append(d.ages, r)
	}
	for _, list := range []struct {
		in  []xmlInterval
		out *[]intervalRule
	}{{x.Interval, &d.intervals}, {x.AllowableInterval, &d.allowableIntervals}} {
		for _, iv := range list.in {
			r, ok, err := s.compileInterval(&iv)
			if err != nil {
				return d, fmt.Errorf("interval: %w", err)
			}
			if ok {
				*list.out = append(*list.out, r)
			}
		}
	}
	for _, p := range x.PreferableVaccine {
		c, ok := parseCVX(p.CVX)
		if !ok {
			continue // an empty <preferableVaccine/>
		}
		v := preferableVaccine{cvx: c, vaccineType: s.str(p.VaccineType),
			tradeName: s.str(p.TradeName), mvx: s.str(p.MVX), forecast: yes(p.ForecastVaccineType)}
		var e1, e2, e3 error
		v.beginAge, e1 = ParseDuration(p.BeginAge)
		v.endAge, e2 = ParseDuration(p.EndAge)
		if vs := strings.TrimSpace(p.Volume); vs != "" {
			v.volume, e3 = strconv.ParseFloat(vs, 64)
		}
		if err := firstErr(e1, e2, e3); err != nil {
			return d, fmt.Errorf("preferable vaccine %s: %w", p.CVX, err)
		}
		d.preferable = append(d.preferable, v)
	}
	for _, p := range x.AllowableVaccine {
		c, ok := parseCVX(p.CVX)
		if !ok {
			continue
		}
		v := allowableVaccine{cvx: c, vaccineType: s.str(p.VaccineType)}
		var e1, e2 error
		v.beginAge, e1 = ParseDuration(p.BeginAge)
		v.endAge, e2 = ParseDuration(p.EndAge)
		if err := firstErr(e1, e2); err != nil {
			return d, fmt.Errorf("allowable vaccine %s: %w", p.CVX, err)
		}
		d.allowable = append(d.allowable, v)
	}
	var inadvertent []cvxCode
	for _, p := range x.InadvertentVaccine {
		if c, ok := parseCVX(p.CVX); ok {
			inadvertent = append(inadvertent, c)
		}
	}
	d.inadvertent = s.set(inadvertent)
	for _, cs := range x.ConditionalSkip {
		if len(cs.Set) == 0 && strings.TrimSpace(cs.Context) == "" {
			continue // an empty <conditionalSkip/>
		}
		k, err := compileSkip(cs.Context, cs.SetLogic)
		if err != nil {
			return d, err
		}
		for _, st := range cs.Set {
			set := skipSet{id: s.str(st.SetID), description: s.str(st.SetDescription),
				conditionOr: strings.EqualFold(strings.TrimSpace(st.ConditionLogic), "OR")}
			var e1, e2 error
			set.effective, e1 = optDate(st.EffectiveDate)
			set.cessation, e2 = optDate(st.CessationDate)
			if err := firstErr(e1, e2); err != nil {
				return d, fmt.Errorf("conditional skip set %s: %w", st.SetID, err)
			}
			for _, c := range st.Condition {
				sc, err := s.compileCondition(c.ConditionType, c.StartDate, c.EndDate, c.BeginAge, c.EndAge,
					c.Interval, c.DoseCount, c.DoseType, c.DoseCountLogic, c.VaccineTypes, c.SeriesGroups)
				if err != nil {
					return d, fmt.Errorf("conditional skip set %s condition %s: %w", st.SetID, c.ConditionID, err)
				}
				set.conditions = append(set.conditions, sc)
			}
			k.sets = append(k.sets, set)
		}
		if len(k.sets) > 0 {
			d.skips = append(d.skips, k)
		}
	}
	var e1, e2 error
	d.seasonStart, e1 = optDate(x.SeasonalRecommendation.StartDate)
	d.seasonEnd, e2 = optDate(x.SeasonalRecommendation.EndDate)
	if err := firstErr(e1, e2); err != nil {
		return d, fmt.Errorf("seasonal recommendation: %w", err)
	}
	return d, nil
}

func (s *schedule) compileInterval(x *xmlInterval) (intervalRule, bool, error) {
	var r intervalRule
	if strings.TrimSpace(x.AbsMinInt) == "" && strings.TrimSpace(x.MinInt) == "" &&
		strings.TrimSpace(x.EarliestRecInt) == "" && strings.TrimSpace(x.LatestRecInt) == "" {
		return r, false, nil // an empty <interval/>
	}
	r.fromPrevious = yes(x.FromPrevious)
	var errs [9]error
	r.fromTargetDose, errs[0] = atoiOrZero(x.FromTargetDose)
	var mostRecent []cvxCode
	mostRecent, errs[1] = cvxList(x.FromMostRecent)
	r.fromMostRecent = s.set(mostRecent)
	if c := strings.TrimSpace(x.FromRelevantObs.Code); c != "" {
		r.fromObservation = normObsCode(c)
	}
	r.absMinInt, errs[2] = ParseDuration(x.AbsMinInt)
	r.minInt, errs[3] = ParseDuration(x.MinInt)
	r.earliestRecInt, errs[4] = ParseDuration(x.EarliestRecInt)
	r.latestRecInt, errs[5] = ParseDuration(x.LatestRecInt)
	r.priorityOverride = strings.EqualFold(strings.TrimSpace(x.IntervalPriority), "override")
	r.effective, errs[6] = optDate(x.EffectiveDate)
	r.cessation, errs[7] = optDate(x.CessationDate)
	return r, true, firstErr(errs[:]...)
}

func compileSkip(context, setLogic string) (conditionalSkip, error) {
	var k conditionalSkip
	switch strings.ToLower(strings.TrimSpace(context)) {
	case "evaluation":
		k.context = contextEvaluation
	case "forecast":
		k.context = contextForecast
	case "both":
		k.context = contextEvaluation | contextForecast
	default:
		return k, fmt.Errorf("conditional skip: unknown context %q", context)
	}
	k.setOr = strings.EqualFold(strings.TrimSpace(setLogic), "OR")
	return k, nil
}

func (s *schedule) compileCondition(typ, start, end, beginAge, endAge, interval, count, doseType, logic, vaccines, groups string) (skipCondition, error) {
	var c skipCondition
	switch strings.ToLower(strings.Join(strings.Fields(typ), " ")) {
	case "age":
		c.typ = condAge
	case "completed series":
		c.typ = condCompletedSeries
	case "interval":
		c.typ = condInterval
	case "vaccine count by age":
		c.typ = condCountByAge
	case "vaccine count by date":
		c.typ = condCountByDate
	case "vaccine count by date and age":
		c.typ = condCountByDateAndAge
	default:
		return c, fmt.Errorf("unknown condition type %q", typ)
	}
	var errs [8]error
	c.startDate, errs[0] = optDate(start)
	c.endDate, errs[1] = optDate(end)
	c.beginAge, errs[2] = ParseDuration(beginAge)
	c.endAge, errs[3] = ParseDuration(endAge)
	c.interval, errs[4] = ParseDuration(interval)
	c.doseCount, errs[5] = atoiOrZero(count)
	var types []cvxCode
	types, errs[6] = cvxList(vaccines)
	c.vaccineTypes = s.set(types)
	c.validOnly = strings.EqualFold(strings.TrimSpace(doseType), "valid")
	switch strings.ToLower(strings.TrimSpace(logic)) {
	case "greater than":
		c.logic = countGreater
	case "equal to", "equal":
		c.logic = countEqual
	case "less than":
		c.logic = countLess
	case "":
	default:
		errs[7] = fmt.Errorf("unknown dose count logic %q", logic)
	}
	for _, g := range strings.Split(groups, ";") {
		if g = strings.TrimSpace(g); g != "" {
			n, err := strconv.Atoi(g)
			if err != nil {
				return c, fmt.Errorf("series groups %q: %w", groups, err)
			}
			c.seriesGroups = append(c.seriesGroups, n)
		}
	}
	return c, firstErr(errs[:]...)
}

func yes(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "yes", "y", "true":
		return true
	}
	return false
}

func atoiOrZero(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "n/a") {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return n, nil
}

func optDate(s string) (Date, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "n/a") {
		return 0, nil
	}
	return ParseDate(s)
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
