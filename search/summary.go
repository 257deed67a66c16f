package search

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode"
)

// _summary and _elements (search.html "Summary", "Elements"): entries
// reduced to a subset of their top-level elements and tagged SUBSETTED
// (a client must not PUT them back as whole resources).

// summaryElements are the top-level elements flagged Σ (isSummary) in the
// R4 (4.0.1) definitions of the served types, besides id, meta and
// implicitRules which every resource has. Types not listed keep all their
// elements under _summary=true except text, contained and extensions.
var summaryElements = map[string][]string{
	"Patient":                    {"identifier", "active", "name", "telecom", "gender", "birthDate", "deceased", "address", "managingOrganization", "link"},
	"Immunization":               {"identifier", "status", "vaccineCode", "patient", "occurrence", "primarySource", "performer", "isSubpotent"},
	"ImmunizationRecommendation": {"identifier", "patient", "date", "authority", "recommendation"},
	"ImmunizationEvaluation":     {"identifier", "status", "patient", "date", "authority", "targetDisease", "immunizationEvent", "doseStatus"},
	"Organization":               {"identifier", "active", "type", "name", "partOf"},
	"Practitioner":               {"identifier", "active", "name", "telecom", "address", "gender", "birthDate"},
	"Location":                   {"identifier", "status", "operationalStatus", "name", "description", "mode", "type", "physicalType", "managingOrganization"},
	"RelatedPerson":              {"identifier", "active", "patient", "relationship", "name", "telecom", "gender", "birthDate", "address"},
	"Group":                      {"identifier", "active", "type", "actual", "code", "name", "quantity", "managingEntity"},
	"Provenance":                 {"target", "occurred", "recorded", "agent"},
}

// mandatoryElements are the top-level elements with min 1 in R4, which a
// subset keeps so that it stays a valid resource.
var mandatoryElements = map[string][]string{
	"Immunization":               {"status", "vaccineCode", "patient", "occurrence"},
	"ImmunizationRecommendation": {"patient", "date", "recommendation"},
	"ImmunizationEvaluation":     {"status", "patient", "targetDisease", "immunizationEvent", "doseStatus"},
	"RelatedPerson":              {"patient"},
	"Group":                      {"type", "actual"},
	"Provenance":                 {"target", "recorded", "agent"},
}

// subsettedTag is the meta.tag marking a subset (v3 ObservationValue).
var subsettedTag = map[string]any{
	"system":  "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
	"code":    "SUBSETTED",
	"display": "subsetted",
}

// Subsetting reports whether q asks for subsetted entries.
func (q *Query) Subsetting() bool {
	switch q.Summary {
	case "true", "text", "data":
		return true
	}
	return len(q.Elements) > 0 && q.Summary != "false"
}

// Subset returns the resource body reduced as q's _summary or _elements
// asks, tagged SUBSETTED; body is returned as it is when nothing is asked.
func Subset(q *Query, typ string, body []byte) ([]byte, error) {
	if !q.Subsetting() {
		return body, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, fmt.Errorf("subset %s: %w", typ, err)
	}
	keep := map[string]bool{"resourceType": true, "id": true, "meta": true}
	var names []string
	switch q.Summary {
	case "data":
		for k := range obj {
			if k != "text" {
				keep[k] = true
			}
		}
	case "text":
		keep["text"] = true
		names = mandatoryElements[typ]
	case "true":
		keep["implicitRules"] = true
		if els, ok := summaryElements[typ]; ok {
			names = append(append(names, els...), mandatoryElements[typ]...)
		} else {
			for k := range obj {
				if k != "text" && k != "contained" && k != "extension" {
					keep[k] = true
				}
			}
		}
	default: // _elements
		names = append(append(names, q.Elements...), mandatoryElements[typ]...)
	}
	for k := range obj {
		for _, n := range names {
			if k == n || isChoiceOf(k, n) {
				keep[k] = true
			}
		}
	}
	var meta map[string]any
	if raw, ok := obj["meta"]; ok {
		if err := json.Unmarshal(raw, &meta); err != nil {
			return nil, fmt.Errorf("subset %s: meta: %w", typ, err)
		}
	}
	if meta == nil {
		meta = map[string]any{}
	}
	tags, _ := meta["tag"].([]any)
	meta["tag"] = append(tags, subsettedTag)
	mb, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("subset %s: %w", typ, err)
	}
	obj["meta"] = mb
	// resourceType first, then the kept elements in name order.
	keys := make([]string, 0, len(keep))
	for k := range obj {
		if keep[k] && k != "resourceType" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	buf.WriteString(`{"resourceType":`)
	buf.Write(obj["resourceType"])
	for _, k := range keys {
		kb, _ := json.Marshal(k)
		buf.WriteByte(',')
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(obj[k])
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// isChoiceOf reports whether key is a typed form of the choice element
// name (occurrenceDateTime of occurrence).
func isChoiceOf(key, name string) bool {
	return len(key) > len(name) && strings.HasPrefix(key, name) && unicode.IsUpper(rune(key[len(name)]))
}
