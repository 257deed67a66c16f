package bulk

import (
	"slices"
	"testing"

	"github.com/immunis/immunis/fhir"
)

func group(members ...string) fhir.Object {
	g := fhir.Object{"type": "person", "actual": true}
	var ms []any
	for _, m := range members {
		ms = append(ms, fhir.Object{"entity": fhir.Object{"reference": m}})
	}
	if len(ms) > 0 {
		g["member"] = ms
	}
	return g
}

func TestPatientAndGroupExport(t *testing.T) {
	tests := []struct {
		name  string
		k     KickOff
		want  map[string][]string
		notes int // error-file lines
	}{
		{"all patients", KickOff{Level: LevelPatient},
			map[string][]string{"Patient": ids("p", 0, 1, 2, 3), "Immunization": ids("i", 0, 1, 2, 3, 4, 5, 6, 7), "Group": {"g1", "g2"}}, 0},
		{"patient parameter", KickOff{Level: LevelPatient, Method: "POST", Params: []Param{{"patient", "Patient/p3"}, {"patient", "http://example.test/fhir/Patient/p0"}}},
			map[string][]string{"Patient": ids("p", 0, 3), "Immunization": ids("i", 0, 3, 4, 7), "Group": {"g1", "g2"}}, 0},
		{"group", KickOff{Level: LevelGroup, GroupID: "g1"},
			map[string][]string{"Patient": ids("p", 0, 1), "Immunization": ids("i", 0, 1, 4, 5), "Group": {"g1", "g2"}}, 1},
		{"group and type", KickOff{Level: LevelGroup, GroupID: "g1", Params: []Param{{"_type", "Immunization"}, {"_typeFilter", "Immunization?status=completed"}}},
			map[string][]string{"Immunization": ids("i", 0, 4)}, 1},
		{"group narrowed by patient", KickOff{Level: LevelGroup, GroupID: "g1", Method: "POST", Params: []Param{{"patient", "Patient/p1"}, {"_type", "Patient,Immunization"}}},
			map[string][]string{"Patient": ids("p", 1), "Immunization": ids("i", 1, 5)}, 1},
		{"empty group", KickOff{Level: LevelGroup, GroupID: "empty"}, map[string][]string{}, 0},
	}
	forEachStore(t, func(t *testing.T, e *env) {
		e.runJobs()
		e.seed(4, 8)
		e.put("Organization", "o1", fhir.Object{"name": "Clinic"})
		e.put("Group", "g1", group("Patient/p0", "Patient/p1", "Organization/o1"))
		e.put("Group", "g2", group("Patient/p2", "Patient/p0"))
		e.put("Group", "empty", group())
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				e := e.with(t)
				k := tc.k
				r := e.wait(e.kickOff(&k).ID)
				for _, typ := range testTypes {
					if got := sorted(r.ids[typ]); !slices.Equal(got, tc.want[typ]) {
						t.Errorf("%s: %v, want %v", typ, got, tc.want[typ])
					}
				}
				if got := len(r.lines["error"]); got != tc.notes {
					t.Errorf("%d error lines, want %d: %v", got, tc.notes, r.lines["error"])
				}
			})
		}
		t.Run("errors", func(t *testing.T) {
			cases := []struct {
				k      KickOff
				status fhir.Kind
				msgID  string
			}{
				{KickOff{Level: LevelGroup, GroupID: "nope"}, fhir.KindNotFound, "IMM-BULK-062"},
				{KickOff{Level: LevelGroup, GroupID: "g1", Method: "POST", Params: []Param{{"patient", "Patient/p2"}}}, fhir.KindInvalid, "IMM-BULK-061"},
				{KickOff{Level: LevelPatient, Method: "POST", Params: []Param{{"patient", "Patient/nobody"}}}, fhir.KindInvalid, "IMM-BULK-060"},
				{KickOff{Level: LevelPatient, Method: "GET", Params: []Param{{"patient", "Patient/p1"}}}, fhir.KindInvalid, "IMM-BULK-012"},
				{KickOff{Level: LevelPatient, Params: []Param{{"_type", "Organization"}}}, fhir.KindInvalid, "IMM-BULK-021"},
			}
			for _, c := range cases {
				if c.k.Method == "" {
					c.k.Method = "GET"
				}
				_, err := e.m.KickOff(e.ctx, &c.k)
				fe, ok := err.(*fhir.Error)
				if !ok || fe.Kind != c.status || fe.Issues[0].MsgID != c.msgID {
					t.Errorf("%+v: %v, want %s", c.k, err, c.msgID)
				}
			}
		})
	})
}
