package forecast

// Section 6.1, Evaluate Dose Administered Condition (Tables 6-2, 6-3).

// canBeEvaluated is Table 6-3: a dose administered after its lot
// expiration date (CALCDTLOTEXP-1; no date: 12/31/2999) or with the dose
// condition flag set cannot be evaluated; its evaluation status is
// "Sub-standard" and its target dose stays not satisfied.
func canBeEvaluated(d *Dose) bool {
	expiration := d.LotExpiration
	if expiration == 0 {
		expiration = MaxDate
	}
	return d.Date <= expiration && d.Condition != SubStandard
}
