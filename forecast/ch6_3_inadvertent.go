package forecast

// Section 6.3, Evaluate for Inadvertent Vaccine (Table 6-13): "Is the
// vaccine type of the vaccine dose administered one of the vaccine types
// of an inadvertent vaccine for the target dose?"
func isInadvertent(sd *seriesDose, c cvxCode) bool {
	return sd.inadvertent.has(c)
}
