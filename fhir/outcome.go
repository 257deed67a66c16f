package fhir

// OutcomeObject renders issues as an OperationOutcome resource.
func OutcomeObject(issues []Issue) Object {
	list := make([]any, 0, len(issues))
	for _, is := range issues {
		sev := is.Severity
		if sev == "" {
			sev = SeverityError
		}
		code := is.Code
		if code == "" {
			code = IssueProcessing
		}
		o := Object{"severity": string(sev), "code": string(code)}
		if is.MsgID != "" {
			o["details"] = Object{"coding": []any{Object{
				"system": MessageSystem, "code": is.MsgID,
			}}}
		}
		if is.Diagnostics != "" {
			o["diagnostics"] = is.Diagnostics
		}
		if len(is.Expression) > 0 {
			ex := make([]any, len(is.Expression))
			for i, e := range is.Expression {
				ex[i] = e
			}
			o["expression"] = ex
		}
		list = append(list, o)
	}
	if len(list) == 0 {
		list = append(list, Object{"severity": "information", "code": "informational", "diagnostics": "ok"})
	}
	return Object{"resourceType": "OperationOutcome", "issue": list}
}

// MessageSystem is the code system of this server's stable message ids.
const MessageSystem = "https://immunis.dev/fhir/CodeSystem/message"

// Information is a single informational issue.
func Information(msg string) []Issue {
	return []Issue{{Severity: SeverityInformation, Code: IssueInformational, Diagnostics: msg}}
}
