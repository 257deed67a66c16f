package synth

import (
	"strconv"
	"strings"
)

// Code systems and identifier systems used in the output.
const (
	SystemCVX         = "http://hl7.org/fhir/sid/cvx"
	SystemMVX         = "http://hl7.org/fhir/sid/mvx"
	SystemNPI         = "http://hl7.org/fhir/sid/us-npi"
	SystemBirthRecord = "https://immunis.example/fhir/sid/birth-record"
	// SystemMRNPrefix + Organization id is the MRN system of that organization.
	SystemMRNPrefix = "https://immunis.example/fhir/sid/mrn/"
	// SystemVaccinationPrefix + Organization id identifies a vaccination record at its source.
	SystemVaccinationPrefix = "https://immunis.example/fhir/sid/vaccination/"
	systemV2IDType          = "http://terminology.hl7.org/CodeSystem/v2-0203"
	systemActReason         = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
	systemOrigin            = "http://terminology.hl7.org/CodeSystem/immunization-origin"
	systemFunction          = "http://terminology.hl7.org/CodeSystem/v2-0443"
	systemRoute             = "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration"
	systemSite              = "http://terminology.hl7.org/CodeSystem/v3-ActSite"
	systemOrgType           = "http://terminology.hl7.org/CodeSystem/organization-type"
	systemDegree            = "http://terminology.hl7.org/CodeSystem/v2-0360"
	systemRoleCode          = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
	systemUCUM              = "http://unitsofmeasure.org"
)

func (g *Generator) appendOrganization(b []byte, o *org) []byte {
	b = append(b, `{"resourceType":"Organization","id":"`...)
	b = append(b, o.id...)
	b = append(b, `","identifier":[{"system":"`+SystemNPI+`","value":"`...)
	b = append(b, o.npi...)
	b = append(b, `"}],"active":true,"type":[`...)
	b = appendCoding(b, systemOrgType, "prov", "Healthcare Provider")
	b = append(b, `],"name":`...)
	b = appendString(b, o.name)
	b = append(b, `,"telecom":[{"system":"phone","value":"`...)
	b = append(b, o.phone...)
	b = append(b, `","use":"work"}],"address":[`...)
	b = g.appendAddress(b, "work", o.line, o.zip.zip)
	return append(b, "]}"...)
}

func (g *Generator) appendAddress(b []byte, use, line, zip string) []byte {
	z, ok := g.t.zips[zip]
	if !ok {
		z = zipInfo{zip: zip, state: g.t.stateOf(zip)}
	}
	b = append(b, `{"use":"`...)
	b = append(b, use...)
	b = append(b, `","line":[`...)
	b = appendString(b, line)
	b = append(b, ']')
	if z.city != "" {
		b = appendField(b, false, "city", z.city)
	}
	if z.county != "" {
		b = appendField(b, false, "district", z.county)
	}
	if z.state != "" {
		b = appendField(b, false, "state", z.state)
	}
	b = appendField(b, false, "postalCode", zip)
	return append(b, `,"country":"US"}`...)
}

var degreeNames = map[string]string{"MD": "Doctor of Medicine", "DO": "Doctor of Osteopathy", "NP": "Nurse Practitioner",
	"RN": "Registered Nurse", "PA": "Physician Assistant", "PharmD": "Doctor of Pharmacy"}

func appendPractitioner(b []byte, p *practitioner) []byte {
	b = append(b, `{"resourceType":"Practitioner","id":"`...)
	b = append(b, p.id...)
	b = append(b, `","identifier":[{"system":"`+SystemNPI+`","value":"`...)
	b = append(b, p.npi...)
	b = append(b, `"}],"active":true,"name":[{"family":`...)
	b = appendString(b, p.family)
	b = append(b, `,"given":[`...)
	b = appendString(b, p.given)
	b = append(b, `]}],"gender":"`...)
	b = append(b, p.gender...)
	b = append(b, `","qualification":[{"code":`...)
	b = appendCoding(b, systemDegree, p.qual, degreeNames[p.qual])
	return append(b, "}]}"...)
}

func (g *Generator) appendPatient(b []byte, p *person, rec *record) []byte {
	b = append(b, `{"resourceType":"Patient","id":"`...)
	b = append(b, rec.id...)
	b = append(b, `","identifier":[`...)
	if rec.birthRecord != "" {
		b = append(b, `{"use":"official","type":`...)
		b = appendCoding(b, systemV2IDType, "BR", "Birth registry number")
		b = append(b, `,"system":"`+SystemBirthRecord+`","value":"`...)
		b = append(b, rec.birthRecord...)
		b = append(b, `"},`...)
	}
	orgID := g.dir.orgs[rec.mrnOrg].id
	b = append(b, `{"use":"usual","type":`...)
	b = appendCoding(b, systemV2IDType, "MR", "Medical record number")
	b = append(b, `,"system":"`+SystemMRNPrefix...)
	b = append(b, orgID...)
	b = append(b, `","value":"`...)
	b = append(b, rec.mrn...)
	b = append(b, `","assigner":`...)
	b = appendRef(b, "Organization", orgID)
	if rec.mrn2Org >= 0 {
		id2 := g.dir.orgs[rec.mrn2Org].id
		b = append(b, `},{"use":"secondary","type":`...)
		b = appendCoding(b, systemV2IDType, "MR", "Medical record number")
		b = append(b, `,"system":"`+SystemMRNPrefix...)
		b = append(b, id2...)
		b = append(b, `","value":"`...)
		b = append(b, g.mrn(rec.mrn2Org, p.index)...)
		b = append(b, `","assigner":`...)
		b = appendRef(b, "Organization", id2)
	}
	b = append(b, `}],"active":true,"name":[{"use":"official","family":`...)
	b = appendString(b, rec.family)
	b = append(b, `,"given":[`...)
	b = appendString(b, rec.given)
	if rec.middle != "" {
		b = append(b, ',')
		b = appendString(b, rec.middle)
	}
	b = append(b, `]}]`...)
	if rec.phone != "" || p.email != "" {
		b = append(b, `,"telecom":[`...)
		if rec.phone != "" {
			b = append(b, `{"system":"phone","value":"`...)
			b = append(b, rec.phone...)
			b = append(b, `","use":"home"}`...)
		}
		if p.email != "" {
			if rec.phone != "" {
				b = append(b, ',')
			}
			b = append(b, `{"system":"email","value":`...)
			b = appendString(b, p.email)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if p.sex == "M" {
		b = append(b, `,"gender":"male","birthDate":"`...)
	} else {
		b = append(b, `,"gender":"female","birthDate":"`...)
	}
	b = rec.birth.append(b)
	b = append(b, `","address":[`...)
	b = g.appendAddress(b, "home", rec.line, rec.zip)
	b = append(b, ']')
	if p.mother != "" {
		b = append(b, `,"contact":[{"relationship":[`...)
		b = appendCoding(b, systemRoleCode, "MTH", "mother")
		b = append(b, `],"name":{"family":`...)
		b = appendString(b, p.mFam)
		b = append(b, `,"given":[`...)
		b = appendString(b, p.mother)
		b = append(b, `]}}]`...)
	}
	return append(b, '}')
}

var routeCodes = map[string][2]string{
	"IM":       {"IM", "Injection, intramuscular"},
	"SC":       {"SQ", "Injection, subcutaneous"},
	"PO":       {"PO", "Swallow, oral"},
	"NASINHLC": {"NASINHLC", "Inhalation, nasal, prefilled"},
}

var siteNames = map[string]string{"LT": "left thigh", "RT": "right thigh", "LA": "left arm", "RA": "right arm",
	"LD": "left deltoid", "RD": "right deltoid"}

var notDoneNames = map[string]string{"PATOBJ": "patient objection", "IMMUNE": "immunity",
	"MEDPREC": "medical precaution", "OSTOCK": "product out of stock"}

// appendImmunization writes one event; id is its resource id, patientID the record it belongs to.
func (g *Generator) appendImmunization(b []byte, p *person, e *event) []byte {
	o := &g.dir.orgs[e.org]
	rec := &p.records[e.rec]
	b = append(b, `{"resourceType":"Immunization","id":"`...)
	b = append(b, e.id...)
	b = append(b, `","identifier":[{"system":"`+SystemVaccinationPrefix...)
	b = append(b, o.id...)
	b = append(b, `","value":"`...)
	b = append(b, e.id...)
	b = append(b, `"}],"status":"`...)
	var pr *product
	if e.prod >= 0 {
		pr = &g.t.products[e.prod]
	}
	if e.notDone != "" {
		b = append(b, `not-done","statusReason":`...)
		b = append(b, g.frags.notDone[e.notDone]...)
	} else {
		b = append(b, `completed"`...)
	}
	switch {
	case e.cvx != "":
		b = append(b, g.frags.cvx[e.cvx]...)
	case pr != nil:
		b = append(b, g.frags.productCode[e.prod]...)
	default:
		b = append(b, g.frags.cvx[g.t.series[e.series].refusalCVX]...)
	}
	b = append(b, `,"patient":`...)
	b = appendRef(b, "Patient", rec.id)
	b = append(b, `,"occurrenceDateTime":"`...)
	b = e.date.append(b)
	b = append(b, `","recorded":"`...)
	b = e.date.append(b)
	if e.primary {
		b = append(b, `","primarySource":true`...)
	} else {
		b = append(b, `","primarySource":false,"reportOrigin":`...)
		b = append(b, g.frags.origin[e.origin]...)
	}
	if pr != nil && e.notDone == "" {
		b = g.appendProductDetails(b, p, e, pr)
	}
	b = append(b, `,"performer":[{"function":`...)
	b = append(b, g.frags.functionAP...)
	b = append(b, `,"actor":`...)
	b = appendRef(b, "Practitioner", g.dir.practitioners[e.prac].id)
	b = append(b, `},{"actor":`...)
	b = appendRef(b, "Organization", o.id)
	return append(b, "}]}"...)
}

func (g *Generator) appendProductDetails(b []byte, p *person, e *event, pr *product) []byte {
	if !e.noMfr {
		b = append(b, g.frags.manufacturer[e.prod]...)
	}
	if !e.noLot {
		lot, exp := lotFor(g.cfg.Seed, pr, e.lotOrg, e.lotDate)
		if e.lotLower {
			lot = strings.ToLower(lot)
		}
		b = append(b, `,"lotNumber":"`...)
		b = append(b, lot...)
		b = append(b, `","expirationDate":"`...)
		b = exp.append(b)
		b = append(b, '"')
	}
	if rc, ok := routeCodes[pr.route]; ok && (rc[0] == "IM" || rc[0] == "SQ") {
		site := 0 // left arm, right arm, left thigh, right thigh
		if e.date < (Span{Y: 3}).From(p.birth) {
			site = 2
		}
		site += e.seq % 2
		b = append(b, g.frags.site[site]...)
	}
	return append(b, g.frags.routeDose[e.prod]...)
}

// fragments are JSON pieces that depend only on reference data, built once per Generator.
type fragments struct {
	productCode, manufacturer, routeDose [][]byte // per product
	cvx                                  map[string][]byte
	notDone, origin                      map[string][]byte
	site                                 [4][]byte
	functionAP                           []byte
}

func newFragments(t *tables) *fragments {
	f := &fragments{cvx: map[string][]byte{}, notDone: map[string][]byte{}, origin: map[string][]byte{}}
	code := func(cvx, text string) []byte {
		b := []byte(`,"vaccineCode":{"coding":[{"system":"` + SystemCVX + `","code":`)
		b = appendString(b, cvx)
		b = append(b, `,"display":`...)
		b = appendString(b, t.cvx[cvx])
		b = append(b, `}]`...)
		if text != "" {
			b = appendField(b, false, "text", text)
		}
		return append(b, '}')
	}
	for c := range t.cvx {
		f.cvx[c] = code(c, "")
	}
	for _, pr := range t.products {
		f.productCode = append(f.productCode, code(pr.cvx, pr.name))
		m := []byte(`,"manufacturer":{"identifier":{"system":"` + SystemMVX + `","value":`)
		m = appendString(m, pr.mvx)
		m = append(m, `},"display":`...)
		m = appendString(m, t.mvx[pr.mvx])
		f.manufacturer = append(f.manufacturer, append(m, '}'))
		var r []byte
		if rc, ok := routeCodes[pr.route]; ok {
			r = append(r, `,"route":`...)
			r = appendCoding(r, systemRoute, rc[0], rc[1])
		}
		r = append(r, `,"doseQuantity":{"value":`...)
		r = append(r, pr.volume...)
		f.routeDose = append(f.routeDose, append(r, `,"unit":"mL","system":"`+systemUCUM+`","code":"mL"}`...))
	}
	for code, name := range notDoneNames {
		f.notDone[code] = appendCoding(nil, systemActReason, code, name)
	}
	for code, name := range map[string]string{"provider": "Other Provider", "record": "Written Record"} {
		f.origin[code] = appendCoding(nil, systemOrigin, code, name)
	}
	for i, site := range []string{"LA", "RA", "LT", "RT"} {
		f.site[i] = appendCoding([]byte(`,"site":`), systemSite, site, siteNames[site])
	}
	f.functionAP = appendCoding(nil, systemFunction, "AP", "Administering Provider")
	return f
}

// lotFor returns the lot an organization used for a product in the quarter of day d: many
// patients share a lot, as in life. Lots expire 15–24 months after the quarter starts.
func lotFor(seed uint64, pr *product, o int, d Date) (string, Date) {
	y, m, _ := d.YMD()
	q := (m - 1) / 3
	h := mix64(seed ^ mix64(uint64(o)<<32|uint64(y*4+q)) ^ hashString(pr.name+"|"+pr.cvx))
	const letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
	lot := make([]byte, 0, 10)
	lot = append(lot, pr.mvx[0], letters[h%23])
	lot = strconv.AppendUint(lot, 1000+(h>>8)%9000, 10)
	lot = append(lot, letters[(h>>24)%23], letters[(h>>32)%23])
	start := MakeDate(y, q*3+1, 1)
	return string(lot), (Span{M: 15 + int((h>>40)%10)}).From(start)
}

// hashString is 64-bit FNV-1a.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
