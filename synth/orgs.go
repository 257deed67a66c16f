package synth

import (
	"slices"
	"strconv"
)

// Organization kinds.
const (
	kindClinic     = "clinic"
	kindPharmacy   = "pharmacy"
	kindHospital   = "hospital"
	kindHealthDept = "health-department"
)

type org struct {
	id, name, kind string
	zip            zipInfo
	line, phone    string
	npi            string
	practitioners  []int
	stock          map[string]float64 // slot -> the clinic's draw for that slot
}

type practitioner struct {
	id, given, family, gender, npi, qual string
	org                                  int
}

// directory is the providers of a jurisdiction, built once per Generator.
type directory struct {
	orgs          []org
	practitioners []practitioner
	byKind        map[string][]int
	clinicsByZIP  map[string][]int
}

func (d *directory) pick(r *rng, kind string) int {
	l := d.byKind[kind]
	return l[r.intn(len(l))]
}

// clinicFor returns a clinic in the ZIP code if there is one, else any clinic.
func (d *directory) clinicFor(r *rng, zip string) int {
	if l := d.clinicsByZIP[zip]; len(l) > 0 && r.chance(0.8) {
		return l[r.intn(len(l))]
	}
	return d.pick(r, kindClinic)
}

// buildDirectory makes Organizations and Practitioners; their number grows with the population.
func buildDirectory(cfg *Config, t *tables, zips []zipInfo) *directory {
	r := newRNG(cfg.Seed, 0x0_4f5247)
	ns := cfg.namespace()
	d := &directory{byKind: map[string][]int{}, clinicsByZIP: map[string][]int{}}
	counts := []struct {
		kind string
		n    int
	}{
		{kindClinic, max(4, cfg.Patients/2500)},
		{kindPharmacy, max(3, cfg.Patients/4000)},
		{kindHospital, max(1, cfg.Patients/25000)},
		{kindHealthDept, 1},
	}
	slots := make([]string, 0, len(t.slots))
	for s := range t.slots {
		slots = append(slots, s)
	}
	slices.Sort(slots)
	for _, c := range counts {
		for i := 0; i < c.n; i++ {
			z := zips[(len(d.orgs)+i)%len(zips)]
			o := org{id: ns + "-o" + strconv.Itoa(len(d.orgs)+1), kind: c.kind, zip: z,
				line:  strconv.Itoa(r.between(100, 9899)) + " " + t.streets[r.intn(len(t.streets))],
				phone: phone(&r, z), npi: npi(&r), stock: map[string]float64{}}
			o.name = orgName(&r, t, c.kind, z, o.line)
			for _, s := range slots {
				o.stock[s] = r.float()
			}
			nprac := map[string][2]int{kindClinic: {3, 8}, kindPharmacy: {2, 4}, kindHospital: {4, 8}, kindHealthDept: {2, 5}}[c.kind]
			for j, n := 0, r.between(nprac[0], nprac[1]); j < n; j++ {
				o.practitioners = append(o.practitioners, len(d.practitioners))
				d.practitioners = append(d.practitioners, newPractitioner(&r, t, ns, len(d.practitioners)+1, len(d.orgs), c.kind))
			}
			d.byKind[c.kind] = append(d.byKind[c.kind], len(d.orgs))
			if c.kind == kindClinic {
				d.clinicsByZIP[z.zip] = append(d.clinicsByZIP[z.zip], len(d.orgs))
			}
			d.orgs = append(d.orgs, o)
		}
	}
	return d
}

func orgName(r *rng, t *tables, kind string, z zipInfo, line string) string {
	place := z.city
	if place == "" {
		place = t.streets[r.intn(len(t.streets))]
	}
	street := t.streets[r.intn(len(t.streets))]
	switch kind {
	case kindClinic:
		forms := []string{place + " Family Medicine", street + " Pediatrics", place + " Children's Clinic",
			street + " Family Physicians", place + " Community Health Center", street + " Internal Medicine"}
		return forms[r.intn(len(forms))]
	case kindPharmacy:
		forms := []string{street + " Pharmacy", "Northstar Drug #" + strconv.Itoa(r.between(100, 999)),
			place + " Apothecary", "Corner Drug #" + strconv.Itoa(r.between(10, 99))}
		return forms[r.intn(len(forms))]
	case kindHospital:
		return place + " Regional Medical Center"
	}
	if z.county != "" {
		return z.county + " County Public Health"
	}
	return place + " Public Health Clinic"
}

func newPractitioner(r *rng, t *tables, ns string, n, orgIdx int, kind string) practitioner {
	p := practitioner{id: ns + "-pr" + strconv.Itoa(n), npi: npi(r), org: orgIdx}
	sex := "F"
	p.gender = "female"
	if r.chance(0.4) {
		sex, p.gender = "M", "male"
	}
	decade := []string{"1960", "1970", "1980", "1990"}[r.intn(4)]
	k := decade + sex
	p.given = t.given[k][t.givenW[k].pick(r)]
	p.family = t.surnames[t.surnameW.pick(r)]
	switch kind {
	case kindPharmacy:
		p.qual = "PharmD"
	case kindClinic:
		p.qual = []string{"MD", "MD", "DO", "NP", "RN", "PA"}[r.intn(6)]
	default:
		p.qual = "RN"
	}
	return p
}

// npi returns a 10-digit National Provider Identifier with a valid Luhn check digit
// (computed over the 80840 prefix, as CMS specifies).
func npi(r *rng) string {
	b := make([]byte, 10)
	b[0] = '1'
	for i := 1; i < 9; i++ {
		b[i] = byte('0' + r.intn(10))
	}
	sum := 24 // the constant for the 80840 prefix
	for i := 0; i < 9; i++ {
		v := int(b[8-i] - '0')
		if i%2 == 0 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	b[9] = byte('0' + (10-sum%10)%10)
	return string(b)
}

// phone returns a number in the 555-01xx range reserved for fiction.
func phone(r *rng, z zipInfo) string {
	area := z.area
	if area == "" {
		area = "555"
	}
	return area + "-555-01" + strconv.Itoa(r.between(10, 99))
}
