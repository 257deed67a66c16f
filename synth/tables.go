package synth

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// tables holds the embedded reference data, parsed once per Generator.
type tables struct {
	given     map[string][]string // "1990F" -> names
	givenW    map[string]weighted
	surnames  []string
	surnameW  weighted
	nicknames map[string][]string
	streets   []string
	zips      map[string]zipInfo
	zip3      []zip3Range
	ages      []ageBand
	agesW     weighted
	series    map[string]seriesInfo
	products  []product
	slots     map[string][]int    // slot -> product indexes
	cvxSeries map[string][]string // CVX -> series it counts for
	adult     []adultRule
	flu       []fluBand
	covid     []covidRound
	coverage  []Measure
	cvx       map[string]string // code -> short description
	mvx       map[string]string // code -> manufacturer name
}

type zipInfo struct{ zip, city, state, county, area string }

type zip3Range struct {
	from, to int
	state    string
}

type ageBand struct{ from, to int }

type seriesInfo struct {
	name, group, unspecifiedCVX, refusalCVX string
	decline, missed                         float64
}

type product struct {
	slot, name, cvx, mvx string
	series               []string
	doseLo, doseHi       int // 0 = any
	minAge, maxAge       optSpan
	from, to             Date
	share                float64
	route                string
	volume               string
}

type adultRule struct {
	series           string
	minAge, maxAge   optSpan
	since, until     Date
	prob             float64
	doses            int
	interval         optSpan
	spread, repeatYr int
}

type fluBand struct {
	from, to optSpan
	prob     float64
}

type covidRound struct {
	name     string
	from, to Date
	p        [5]float64 // age bands 5, 12, 18, 50, 65
	doses    int
}

// Measure is one coverage figure the generator reports (data/coverage.tsv).
type Measure struct {
	ID         string  `json:"id"`
	Kind       string  `json:"kind"`
	Series     string  `json:"series,omitempty"`
	Min        int     `json:"min,omitempty"`
	ByAge      string  `json:"byAge,omitempty"`
	CohortFrom string  `json:"cohortFrom"`
	CohortTo   string  `json:"cohortTo"`
	Target     float64 `json:"target"`
	Source     string  `json:"source"`
	by         optSpan
	cFrom, cTo optSpan
}

func loadTables() (*tables, error) {
	t := &tables{givenW: map[string]weighted{}, given: map[string][]string{}, nicknames: map[string][]string{},
		zips: map[string]zipInfo{}, series: map[string]seriesInfo{}, slots: map[string][]int{}, cvxSeries: map[string][]string{},
		cvx: map[string]string{}, mvx: map[string]string{}}
	steps := []func() error{t.loadNames, t.loadPlaces, t.loadVaccines, t.loadBehaviour, t.loadCodes}
	for _, f := range steps {
		if err := f(); err != nil {
			return nil, err
		}
	}
	for _, p := range t.products {
		if _, ok := t.cvx[p.cvx]; !ok {
			return nil, fmt.Errorf("products.tsv: %s: CVX %s not in cvx.tsv", p.name, p.cvx)
		}
		if _, ok := t.mvx[p.mvx]; !ok {
			return nil, fmt.Errorf("products.tsv: %s: MVX %s not in mvx.tsv", p.name, p.mvx)
		}
	}
	for _, s := range t.series {
		for _, c := range []string{s.unspecifiedCVX, s.refusalCVX} {
			if _, ok := t.cvx[c]; !ok {
				return nil, fmt.Errorf("series.tsv: %s: CVX %s not in cvx.tsv", s.name, c)
			}
		}
	}
	return t, nil
}

func (t *tables) loadNames() error {
	rows, err := readTSV("given_names.tsv")
	if err != nil {
		return err
	}
	ws := map[string][]float64{}
	for _, r := range rows {
		k := r["decade"] + r["sex"]
		n, _ := strconv.ParseFloat(r["births"], 64)
		t.given[k] = append(t.given[k], r["name"])
		ws[k] = append(ws[k], n)
	}
	for k, w := range ws {
		t.givenW[k] = newWeighted(w)
	}
	if rows, err = readTSV("surnames.tsv"); err != nil {
		return err
	}
	var w []float64
	for _, r := range rows {
		f, _ := strconv.ParseFloat(r["percent"], 64)
		t.surnames = append(t.surnames, r["name"])
		w = append(w, f)
	}
	t.surnameW = newWeighted(w)
	if rows, err = readTSV("nicknames.tsv"); err != nil {
		return err
	}
	for _, r := range rows {
		t.nicknames[r["name"]] = append(t.nicknames[r["name"]], r["nickname"])
	}
	return nil
}

func (t *tables) loadPlaces() error {
	rows, err := readTSV("streets.tsv")
	if err != nil {
		return err
	}
	for _, r := range rows {
		t.streets = append(t.streets, r["name"]+" "+r["suffix"])
	}
	if rows, err = readTSV("zips.tsv"); err != nil {
		return err
	}
	for _, r := range rows {
		t.zips[r["zip"]] = zipInfo{r["zip"], r["city"], r["state"], r["county"], r["area_code"]}
	}
	if rows, err = readTSV("zip3_states.tsv"); err != nil {
		return err
	}
	for _, r := range rows {
		a, _ := strconv.Atoi(r["from"])
		b, _ := strconv.Atoi(r["to"])
		t.zip3 = append(t.zip3, zip3Range{a, b, r["state"]})
	}
	if rows, err = readTSV("age_pyramid.tsv"); err != nil {
		return err
	}
	var w []float64
	for _, r := range rows {
		a, _ := strconv.Atoi(r["from_age"])
		b, _ := strconv.Atoi(r["to_age"])
		f, _ := strconv.ParseFloat(r["percent"], 64)
		t.ages = append(t.ages, ageBand{a, b})
		w = append(w, f)
	}
	t.agesW = newWeighted(w)
	return nil
}

func (t *tables) loadVaccines() error {
	rows, err := readTSV("series.tsv")
	if err != nil {
		return err
	}
	p := &fieldErr{table: "series.tsv"}
	for _, r := range rows {
		t.series[r["series"]] = seriesInfo{r["series"], r["iis_group"], r["unspecified_cvx"], r["refusal_cvx"], p.float(r, "decline"), p.float(r, "missed")}
	}
	if rows, err = readTSV("products.tsv"); err != nil {
		return err
	}
	p.table = "products.tsv"
	for _, r := range rows {
		pr := product{slot: r["slot"], name: r["product"], cvx: r["cvx"], mvx: r["mvx"],
			series: strings.Split(r["series"], ","), minAge: p.opt(r, "min_age"), maxAge: p.opt(r, "max_age"),
			from: p.date(r, "from"), to: p.date(r, "to"), share: p.float(r, "share"), route: r["route"], volume: r["volume"]}
		if d := r["doses"]; d != "*" {
			lo, hi, _ := strings.Cut(d, "-")
			pr.doseLo, _ = strconv.Atoi(lo)
			pr.doseHi, _ = strconv.Atoi(hi)
		}
		for _, s := range pr.series {
			if _, ok := t.series[s]; !ok {
				return fmt.Errorf("products.tsv: %s: unknown series %s", pr.name, s)
			}
		}
		for _, s := range pr.series {
			if !slices.Contains(t.cvxSeries[pr.cvx], s) {
				t.cvxSeries[pr.cvx] = append(t.cvxSeries[pr.cvx], s)
			}
		}
		t.slots[pr.slot] = append(t.slots[pr.slot], len(t.products))
		t.products = append(t.products, pr)
	}
	return p.err
}

func (t *tables) loadBehaviour() error {
	rows, err := readTSV("adult.tsv")
	if err != nil {
		return err
	}
	p := &fieldErr{table: "adult.tsv"}
	for _, r := range rows {
		t.adult = append(t.adult, adultRule{series: r["series"], minAge: p.opt(r, "min_age"), maxAge: p.opt(r, "max_age"),
			since: p.date(r, "since"), until: p.date(r, "until"), prob: p.float(r, "prob"), doses: p.int(r, "doses"),
			interval: p.opt(r, "interval"), spread: p.int(r, "spread_years"), repeatYr: p.int(r, "repeat_years")})
	}
	if rows, err = readTSV("flu.tsv"); err != nil {
		return err
	}
	p.table = "flu.tsv"
	for _, r := range rows {
		t.flu = append(t.flu, fluBand{p.opt(r, "from_age"), p.opt(r, "to_age"), p.float(r, "prob")})
	}
	if rows, err = readTSV("covid.tsv"); err != nil {
		return err
	}
	p.table = "covid.tsv"
	for _, r := range rows {
		c := covidRound{name: r["round"], from: p.date(r, "from"), to: p.date(r, "to"), doses: p.int(r, "doses")}
		for i, k := range []string{"p5", "p12", "p18", "p50", "p65"} {
			c.p[i] = p.float(r, k)
		}
		t.covid = append(t.covid, c)
	}
	if rows, err = readTSV("coverage.tsv"); err != nil {
		return err
	}
	p.table = "coverage.tsv"
	for _, r := range rows {
		m := Measure{ID: r["id"], Kind: r["kind"], Series: strings.Trim(r["series"], "-"), Min: p.int(r, "min"),
			ByAge: strings.Trim(r["by_age"], "-"), CohortFrom: r["cohort_from"], CohortTo: r["cohort_to"],
			Target: p.float(r, "target"), Source: r["source"],
			by: p.opt(r, "by_age"), cFrom: p.opt(r, "cohort_from"), cTo: p.opt(r, "cohort_to")}
		t.coverage = append(t.coverage, m)
	}
	return p.err
}

func (t *tables) loadCodes() error {
	rows, err := readTSV("cvx.tsv")
	if err != nil {
		return err
	}
	for _, r := range rows {
		t.cvx[r["cvx_code"]] = r["short_description"]
	}
	if rows, err = readTSV("mvx.tsv"); err != nil {
		return err
	}
	for _, r := range rows {
		t.mvx[r["mvx_code"]] = r["manufacturer_name"]
	}
	return nil
}

// stateOf returns the USPS state of a ZIP code, or "".
func (t *tables) stateOf(zip string) string {
	if z, ok := t.zips[zip]; ok {
		return z.state
	}
	if len(zip) < 3 {
		return ""
	}
	n, err := strconv.Atoi(zip[:3])
	if err != nil {
		return ""
	}
	for _, r := range t.zip3 {
		if n >= r.from && n <= r.to {
			return r.state
		}
	}
	return ""
}
