package synth

import (
	"slices"
	"strconv"
	"strings"
)

// Variations a duplicate patient record may carry.
const (
	varNickname     = "nickname"
	varTypoFamily   = "typo-family"
	varTypoGiven    = "typo-given"
	varSwappedDM    = "swapped-day-month"
	varNoMiddle     = "missing-middle"
	varAddress      = "address"
	varPhone        = "phone"
	varDifferentMRN = "different-mrn"
)

// duplicatePatients gives some people a second (rarely a third) record from another source and
// moves the doses that source reported to it.
func (s *sim) duplicatePatients() {
	p, cfg, r := s.p, &s.g.cfg, &s.r
	if !r.chance(cfg.DuplicatePatientRate) {
		return
	}
	n := 1
	if r.chance(0.1) {
		n = 2
	}
	for k := 1; k <= n; k++ {
		s.p.records = append(s.p.records, s.variant(k))
	}
	for i := range s.events {
		e := &s.events[i]
		if e.date < cfg.RecordsSince || s.g.dir.orgs[e.org].kind == kindHospital || !r.chance(0.4) {
			continue
		}
		k := 1 + r.intn(n)
		o := p.records[k].mrnOrg
		if s.g.dir.orgs[o].kind == kindPharmacy && slices.Contains(childSeries, e.series) {
			continue // pharmacies report their own flu, COVID and adult doses, not well-child visits
		}
		if e.date >= p.records[k].since {
			e.rec = k
			e.org = p.records[k].mrnOrg
			e.lotOrg = e.org
			e.prac = s.practitionerOf(e.org)
		}
	}
}

func (s *sim) variant(k int) record {
	p, r, g := s.p, &s.r, s.g
	rec := p.records[0]
	rec.id = p.id + "-d" + strconv.Itoa(k)
	rec.birthRecord = ""
	rec.mrn2Org = -1
	rec.variations = []string{varDifferentMRN}
	for rec.mrnOrg == p.clinic {
		if r.chance(0.4) {
			rec.mrnOrg = g.dir.pick(r, kindPharmacy)
		} else {
			rec.mrnOrg = g.dir.pick(r, kindClinic)
		}
	}
	rec.mrn = g.mrn(rec.mrnOrg, p.index)
	from := max(p.birth, g.cfg.RecordsSince)
	rec.since = from + Date(r.intn(int(g.cfg.AsOf-from)+1))
	cands := []string{varNickname, varTypoFamily, varTypoGiven, varSwappedDM, varNoMiddle, varAddress, varPhone}
	want := 1 + r.intn(3)
	for _, i := range permutation(r, len(cands)) {
		if len(rec.variations) > want {
			break
		}
		if s.apply(&rec, cands[i]) {
			rec.variations = append(rec.variations, cands[i])
		}
	}
	return rec
}

// apply makes one variation if it fits this person.
func (s *sim) apply(rec *record, v string) bool {
	r := &s.r
	switch v {
	case varNickname:
		l := s.g.t.nicknames[rec.given]
		if len(l) == 0 {
			return false
		}
		rec.given = l[r.intn(len(l))]
	case varTypoFamily:
		rec.family = typo(r, rec.family)
	case varTypoGiven:
		rec.given = typo(r, rec.given)
	case varSwappedDM:
		y, m, d := rec.birth.YMD()
		if d > 12 || d == m {
			return false
		}
		rec.birth = MakeDate(y, d, m)
	case varNoMiddle:
		if rec.middle == "" {
			return false
		}
		rec.middle = ""
	case varAddress:
		switch {
		case strings.Contains(rec.line, " Apt "):
			rec.line = rec.line[:strings.Index(rec.line, " Apt ")]
		case strings.HasSuffix(rec.line, " St"):
			rec.line = strings.TrimSuffix(rec.line, " St") + " Street"
		case strings.HasSuffix(rec.line, " Ave"):
			rec.line = strings.TrimSuffix(rec.line, " Ave") + " Avenue"
		default:
			rec.line = strconv.Itoa(r.between(100, 9899)) + " " + s.g.t.streets[r.intn(len(s.g.t.streets))]
			rec.zip = s.g.zips[r.intn(len(s.g.zips))].zip
		}
	case varPhone:
		rec.phone = ""
	}
	return true
}

// typo swaps two adjacent letters, drops one or doubles one.
func typo(r *rng, s string) string {
	b := []byte(s)
	if len(b) < 4 {
		return s + string(b[len(b)-1])
	}
	i := 1 + r.intn(len(b)-2)
	switch r.intn(3) {
	case 0:
		if b[i] != b[i+1] {
			b[i], b[i+1] = b[i+1], b[i]
			return string(b)
		}
		fallthrough
	case 1:
		return string(b[:i]) + string(b[i+1:])
	}
	return string(b[:i+1]) + string(b[i:])
}

func permutation(r *rng, n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := r.intn(i + 1)
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// duplicateDoses has a second provider report some doses again, slightly differently.
func (s *sim) duplicateDoses() {
	p, cfg, r := s.p, &s.g.cfg, &s.r
	n := len(s.events)
	for i := 0; i < n; i++ {
		e := s.events[i]
		if e.notDone != "" || e.date < cfg.RecordsSince || !r.chance(cfg.DuplicateDoseRate) {
			continue
		}
		d := e
		d.seq, d.dupOf, d.primary, d.invalid = len(s.events), e.seq, false, ""
		d.origin = "provider"
		if r.chance(0.3) {
			d.origin = "record"
		}
		for d.org == e.org {
			if r.chance(0.7) {
				d.org = s.g.dir.pick(r, kindClinic)
			} else {
				d.org = s.g.dir.pick(r, kindHealthDept)
			}
		}
		d.prac = s.practitionerOf(d.org)
		if shift := Date(r.intn(3) - 1); shift != 0 && e.date+shift <= cfg.AsOf && e.date+shift >= cfg.RecordsSince {
			d.date += shift
			d.dupDiffs = append(d.dupDiffs, "date")
		}
		pr := &s.g.t.products[e.prod]
		if u := s.g.t.series[pr.series[0]].unspecifiedCVX; u != pr.cvx && r.chance(0.4) {
			d.cvx = u
			d.dupDiffs = append(d.dupDiffs, "cvx-granularity")
		}
		switch u := r.float(); {
		case u < 0.3:
			d.lotLower = true
			d.dupDiffs = append(d.dupDiffs, "lot-case")
		case u < 0.45:
			d.noLot = true
			d.dupDiffs = append(d.dupDiffs, "lot-missing")
		}
		if r.chance(0.3) {
			d.noMfr = true
			d.dupDiffs = append(d.dupDiffs, "manufacturer-missing")
		}
		if len(p.records) > 1 && r.chance(0.5) {
			d.rec = 1 + r.intn(len(p.records)-1)
			d.dupDiffs = append(d.dupDiffs, "patient-record")
		}
		s.events = append(s.events, d)
	}
}
