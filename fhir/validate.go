package fhir

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
)

// Validator checks resources against the FHIR R4 structure definitions using
// github.com/google/fhir/go (types, cardinality of required elements,
// primitive formats, code values of required bindings, reference target
// types). It costs ≈0.3 ms per resource, so it runs once, on write; reads
// serve the stored bytes.
type Validator struct {
	um *jsonformat.Unmarshaller
}

// NewValidator builds a Validator. The unmarshaller is safe for concurrent
// use; build one per process.
func NewValidator() (*Validator, error) {
	um, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		return nil, fmt.Errorf("create FHIR R4 unmarshaller: %w", err)
	}
	um.MaxNestingDepth = MaxDepth
	return &Validator{um: um}, nil
}

// Parse decodes body strictly and validates it as a FHIR R4 resource. It
// returns the decoded tree; every problem found is an issue of one *Error
// (KindInvalid) naming the element.
func (v *Validator) Parse(body []byte) (Object, error) {
	obj, err := DecodeStrict(body)
	if err != nil {
		return nil, qualify(err, body)
	}
	rt := Str(obj, "resourceType")
	if rt == "" {
		return nil, Invalid("IMM-VAL-001", "resourceType", "the resource has no resourceType")
	}
	if err := v.Validate(body); err != nil {
		return nil, err
	}
	return obj, nil
}

// Validate runs the structural validation only.
func (v *Validator) Validate(body []byte) error {
	rep := &reporter{}
	_, err := v.um.UnmarshalWithErrorReporter(body, rep)
	if err != nil {
		rep.addUnmarshalError(err)
	}
	if len(rep.issues) == 0 {
		return nil
	}
	sort.SliceStable(rep.issues, func(i, j int) bool {
		return strings.Join(rep.issues[i].Expression, ",") < strings.Join(rep.issues[j].Expression, ",")
	})
	return &Error{Kind: KindInvalid, Issues: rep.issues}
}

// reporter collects the library's findings as OperationOutcome issues.
type reporter struct {
	issues []Issue
}

func (r *reporter) ReportValidationError(path string, err error) error {
	r.issues = append(r.issues, Issue{
		Severity: SeverityError, Code: issueCodeFor(err.Error()), MsgID: "IMM-VAL-002",
		Diagnostics: cleanMessage(path, err.Error()), Expression: []string{path},
	})
	return nil
}

func (r *reporter) ReportValidationWarning(string, error) error { return nil }

// addUnmarshalError turns the library's parse errors into issues. The
// library's error list type is internal to it, so its exported fields (Path,
// Details, Diagnostics) are read by reflection; anything unexpected falls back
// to the error text, which is still a clear message.
func (r *reporter) addUnmarshalError(err error) {
	v := reflect.ValueOf(err)
	if v.Kind() == reflect.Slice {
		for i := 0; i < v.Len(); i++ {
			r.addOne(v.Index(i))
		}
		return
	}
	r.addOne(v)
}

func (r *reporter) addOne(v reflect.Value) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		if e, ok := v.Interface().(error); ok {
			r.issues = append(r.issues, Issue{Severity: SeverityError, Code: IssueStructure, MsgID: "IMM-VAL-003", Diagnostics: e.Error()})
		}
		return
	}
	field := func(name string) string {
		f := v.FieldByName(name)
		if f.IsValid() && f.Kind() == reflect.String {
			return f.String()
		}
		return ""
	}
	path, details, diag := field("Path"), field("Details"), field("Diagnostics")
	if details == "" {
		if e, ok := v.Addr().Interface().(error); ok {
			details = e.Error()
		}
	}
	is := Issue{Severity: SeverityError, Code: IssueStructure, MsgID: "IMM-VAL-003"}
	switch details {
	case "unknown field":
		name := strings.Trim(diag, `"`)
		is.Expression = []string{join(path, name)}
		is.Diagnostics = fmt.Sprintf("unknown element %q in %s", name, path)
	case "unknown resource type":
		is.Code = IssueNotSupported
		is.Expression = []string{"resourceType"}
		is.Diagnostics = fmt.Sprintf("unknown resource type %q", path)
	case "invalid JSON":
		is.Diagnostics = "the body is not valid JSON"
	default:
		if path != "" {
			is.Expression = []string{path}
		}
		is.Diagnostics = details
		if diag != "" {
			is.Diagnostics += ": " + diag
		}
		if path != "" {
			is.Diagnostics = path + ": " + is.Diagnostics
		}
		if strings.Contains(details, "expected") || strings.Contains(details, "mismatch") || strings.Contains(details, "invalid") {
			is.Code = IssueValue
		}
	}
	r.issues = append(r.issues, is)
}

func issueCodeFor(msg string) IssueType {
	switch {
	case strings.Contains(msg, "missing required"):
		return IssueRequired
	case strings.Contains(msg, "invalid reference"):
		return IssueValue
	default:
		return IssueInvariant
	}
}

// cleanMessage strips the library's `error at "X": ` prefix, which repeats
// the expression we already report separately, and restates it plainly.
func cleanMessage(path, msg string) string {
	if i := strings.Index(msg, `": `); strings.HasPrefix(msg, `error at "`) && i > 0 {
		msg = msg[i+3:]
	}
	if path != "" {
		return path + ": " + msg
	}
	return msg
}

// ErrIsInvalid reports whether err is a validation failure.
func ErrIsInvalid(err error) bool {
	var fe *Error
	return errors.As(err, &fe) && fe.Kind == KindInvalid
}

// qualify prefixes the expressions of a JSON-level error with the resource
// type, when the body names one, so they read as FHIRPath (Patient.gender).
func qualify(err error, body []byte) error {
	var fe *Error
	if !errors.As(err, &fe) {
		return err
	}
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	if json.Unmarshal(body, &head) != nil || !IsTypeName(head.ResourceType) {
		return err
	}
	for i := range fe.Issues {
		for j, e := range fe.Issues[i].Expression {
			if e != "" && e != "resourceType" {
				fe.Issues[i].Expression[j] = head.ResourceType + "." + e
			}
		}
	}
	return fe
}
