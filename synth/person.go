package synth

import (
	"strconv"
	"strings"
)

// person is one real individual; records are what providers report about them.
type person struct {
	index          int
	id             string
	sex            string // "M" or "F"
	birth          Date
	given, middle  string
	family         string
	zip            zipInfo
	line, phone    string
	email          string
	clinic         int // primary clinic (org index)
	switchTo       int // clinic after a move, -1 if none
	switchOn       Date
	hospital       int
	birthRecord    string
	mother, mFam   string
	records        []record // [0] is the main record; more are duplicates
	fullRefuser    bool
	fluPropensity  float64
	covidPropensty float64
}

// record is one Patient resource for a person.
type record struct {
	id                    string
	given, middle, family string
	birth                 Date
	line, zip, phone      string
	mrnOrg                int
	mrn2Org               int // a second clinic's MRN on the same record (after a move), -1 if none
	mrn                   string
	birthRecord           string
	variations            []string
	since                 Date // doses on or after this day may be reported to this record
}

func (g *Generator) newPerson(i int, r *rng) *person {
	t := g.t
	p := &person{index: i, id: g.ns + "-p" + strconv.Itoa(i+1), switchTo: -1}
	band := t.ages[t.agesW.pick(r)]
	days := int(365.2425 * float64(band.to-band.from))
	p.birth = g.cfg.AsOf - Date(int(365.2425*float64(band.from))+r.intn(days)) - 1
	p.sex = "F"
	if r.chance(0.49) {
		p.sex = "M"
	}
	p.given = g.givenName(r, p.birth, p.sex)
	if r.chance(0.75) {
		for p.middle = g.givenName(r, p.birth, p.sex); p.middle == p.given; p.middle = g.givenName(r, p.birth, p.sex) {
		}
	}
	p.family = t.surnames[t.surnameW.pick(r)]
	p.zip = g.zips[r.intn(len(g.zips))]
	p.line = strconv.Itoa(r.between(100, 9899)) + " " + t.streets[r.intn(len(t.streets))]
	if r.chance(0.25) {
		p.line += " Apt " + strconv.Itoa(r.between(1, 40))
	}
	p.phone = phone(r, p.zip)
	if ageAt(p.birth, g.cfg.AsOf) >= 18 && r.chance(0.6) {
		p.email = strings.ToLower(p.given) + "." + strings.ToLower(strings.ReplaceAll(p.family, " ", "")) + strconv.Itoa(i%1000) + "@example.com"
	}
	p.clinic = g.dir.clinicFor(r, p.zip.zip)
	p.hospital = g.dir.pick(r, kindHospital)
	if r.chance(0.15) {
		p.switchTo = g.dir.pick(r, kindClinic)
		p.switchOn = p.birth + Date(r.intn(int(g.cfg.AsOf-p.birth)+1))
	}
	// Born in the jurisdiction since records began: the state birth registry knows them.
	if p.birth >= g.cfg.RecordsSince && r.chance(0.85) {
		y, _, _ := p.birth.YMD()
		p.birthRecord = strconv.Itoa(y) + "-" + pad(scramble(uint64(i), g.cfg.Seed, 10_000_000), 7)
	}
	if ageAt(p.birth, g.cfg.AsOf) < 18 {
		p.mother = g.givenName(r, p.birth-Date(365*r.between(20, 40)), "F")
		p.mFam = p.family
		if r.chance(0.2) {
			p.mFam = t.surnames[t.surnameW.pick(r)]
		}
	}
	p.fullRefuser = r.chance(0.009)
	p.fluPropensity = r.float()
	p.covidPropensty = r.float()
	p.records = []record{{id: p.id, given: p.given, middle: p.middle, family: p.family, birth: p.birth,
		line: p.line, zip: p.zip.zip, phone: p.phone, mrnOrg: p.clinic, mrn: g.mrn(p.clinic, i), mrn2Org: -1,
		birthRecord: p.birthRecord, since: p.birth}}
	if p.switchTo >= 0 && p.switchTo != p.clinic && r.chance(0.5) {
		p.records[0].mrn2Org = p.switchTo
	}
	return p
}

// givenName draws a name popular in the decade of birth.
func (g *Generator) givenName(r *rng, birth Date, sex string) string {
	y, _, _ := birth.YMD()
	dec := min(max(y/10*10, 1920), 2020)
	k := strconv.Itoa(dec) + sex
	return g.t.given[k][g.t.givenW[k].pick(r)]
}

// mrn is the medical record number clinic o gave person i: unique within the clinic.
func (g *Generator) mrn(o, i int) string {
	return pad(scramble(uint64(i), g.cfg.Seed^uint64(o+1)*0x9e37, 100_000_000), 8)
}

// scramble maps i < mod to a distinct number below mod (an affine bijection; mod is a power of ten).
func scramble(i, key, mod uint64) uint64 {
	const a = 7_654_321 // odd and not a multiple of 5: invertible modulo any power of ten
	return (i*a + mix64(key)%mod) % mod
}

func pad(n uint64, width int) string {
	s := strconv.FormatUint(n, 10)
	for len(s) < width {
		s = "0" + s
	}
	return s
}
