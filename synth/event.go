package synth

// event is one Immunization record to be written.
type event struct {
	date     Date
	series   string // the key series (refusals: the refused series)
	prod     int    // product index; -1 for a refusal without product
	notDone  string // statusReason code when not done, else ""
	org      int
	prac     int
	rec      int // index into person.records
	primary  bool
	origin   string // reportOrigin when not primary
	cvx      string // overrides the product's CVX (a coarser code)
	lotOrg   int    // the organization and day that pick the lot: the administering ones,
	lotDate  Date   // kept when another provider reports the dose again
	lotLower bool   // lot number reported in lower case
	noLot    bool
	noMfr    bool
	invalid  string // "min-age" / "min-interval" when given too early
	dupOf    int    // index of the event this one reports again, -1 if none
	dupDiffs []string
	seq      int // creation order, the tie-break when sorting
	id       string
}

// comboSlots are the slots that may stay empty (a clinic that uses no combination vaccine).
var comboSlots = map[string]bool{"INFANT_COMBO": true, "PRESCHOOL_COMBO": true, "MMRV": true}

// available reports whether product p may be given on day d to someone born on birth.
func (p *product) available(d, birth Date) bool {
	if (p.from != NoDate && d < p.from) || (p.to != NoDate && d >= p.to) {
		return false
	}
	if p.minAge.ok && d < p.minAge.From(birth) {
		return false
	}
	if p.maxAge.ok && d >= p.maxAge.From(birth) {
		return false
	}
	return true
}

// stocked returns the product an organization uses from slot on day d, or -1.
func (g *Generator) stocked(o int, slot string, d, birth Date) int {
	u := g.dir.orgs[o].stock[slot]
	idx := g.t.slots[slot]
	total := 0.0
	for _, i := range idx {
		if p := &g.t.products[i]; p.available(d, birth) {
			total += p.share
		}
	}
	if total == 0 {
		return -1
	}
	if !comboSlots[slot] {
		u *= total
	}
	cum := 0.0
	for _, i := range idx {
		if p := &g.t.products[i]; p.available(d, birth) {
			cum += p.share
			if u < cum {
				return i
			}
		}
	}
	return -1
}
