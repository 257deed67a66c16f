package synth

import "encoding/json"

// TruthRecord is one line of the truth stream: what a perfect IIS would know.
//
//	{"kind":"duplicate-patient","patient":"Patient/s1-p7","duplicate":"Patient/s1-p7-d1","variations":["different-mrn","nickname"]}
//	{"kind":"duplicate-dose","immunization":"Immunization/s1-p7-i3","duplicate":"Immunization/s1-p7-i4","differences":["date","cvx-granularity"]}
//	{"kind":"invalid-dose","immunization":"Immunization/s1-p9-i2","series":"MMR","reason":"min-age"}
type TruthRecord struct {
	Kind         string   `json:"kind"`
	Patient      string   `json:"patient,omitempty"`
	Immunization string   `json:"immunization,omitempty"`
	Duplicate    string   `json:"duplicate,omitempty"`
	Series       string   `json:"series,omitempty"`
	Reason       string   `json:"reason,omitempty"`
	Variations   []string `json:"variations,omitempty"`
	Differences  []string `json:"differences,omitempty"`
}

// Truth kinds.
const (
	TruthDuplicatePatient = "duplicate-patient"
	TruthDuplicateDose    = "duplicate-dose"
	TruthInvalidDose      = "invalid-dose"
)

func (c *chunk) truth(t TruthRecord) {
	b, err := json.Marshal(t)
	if err != nil { // a struct of strings always marshals
		return
	}
	start := len(c.buf)
	c.buf = append(c.buf, b...)
	c.add(-1, start)
}

func (c *chunk) appendTruth(p *person, evs []event, ids map[int]string) {
	for _, rec := range p.records[1:] {
		c.truth(TruthRecord{Kind: TruthDuplicatePatient, Patient: "Patient/" + p.id, Duplicate: "Patient/" + rec.id, Variations: rec.variations})
		c.stats.DuplicatePatients++
	}
	for k := range evs {
		e := &evs[k]
		if e.dupOf >= 0 {
			if orig, ok := ids[e.dupOf]; ok {
				c.truth(TruthRecord{Kind: TruthDuplicateDose, Immunization: "Immunization/" + orig, Duplicate: "Immunization/" + e.id, Differences: e.dupDiffs})
				c.stats.DuplicateDoses++
			}
		}
		if e.invalid != "" {
			c.truth(TruthRecord{Kind: TruthInvalidDose, Immunization: "Immunization/" + e.id, Series: e.series, Reason: e.invalid})
			c.stats.InvalidDoses++
		}
		if e.notDone != "" {
			c.stats.NotDone++
		}
	}
}
