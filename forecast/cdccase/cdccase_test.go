package cdccase

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestInput(t *testing.T) {
	tests := []struct{ name, json, err string }{
		{"ok", `{"id":"1","patient":{"dob":"2020-01-02","gender":"F"},"assessment_date":"2021-01-01","doses":[{"seq":1,"date":"2020-03-01","cvx":"08"}]}`, ""},
		{"no dob", `{"id":"1","patient":{"gender":"F"}}`, "missing birth date"},
		{"bad dob", `{"id":"1","patient":{"dob":"2020-13-01"}}`, "patient.dob"},
		{"no dose date", `{"id":"1","patient":{"dob":"2020-01-02"},"doses":[{"seq":2,"cvx":"08"}]}`, "dose 2: missing date"},
		{"no cvx", `{"id":"1","patient":{"dob":"2020-01-02"},"doses":[{"date":"2020-03-01"}]}`, "dose 1: missing CVX"},
		{"no observation code", `{"id":"1","patient":{"dob":"2020-01-02"},"observations":[{"seq":1}]}`, "observation 1: missing code"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c Case
			if err := json.Unmarshal([]byte(tc.json), &c); err != nil {
				t.Fatal(err)
			}
			in, err := c.Input()
			if tc.err == "" {
				if err != nil || len(in.Doses) != 1 || in.Doses[0].ID != "1" {
					t.Fatalf("input %+v, err %v", in, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("error %v, want one mentioning %q", err, tc.err)
			}
		})
	}
}

func TestCompareForecast(t *testing.T) {
	var c Case
	if err := json.Unmarshal([]byte(`{"expected_forecast":{"series_status":"Not Complete","forecast_dose_number":2,"earliest":"2021-01-01"}}`), &c); err != nil {
		t.Fatal(err)
	}
	if d := c.CompareForecast("Not Complete", 2, "2021-01-01", "", ""); len(d) != 0 {
		t.Errorf("equal forecast reported %v", d)
	}
	if d := c.CompareForecast("Complete", 1, "", "2021-02-01", ""); len(d) != 4 {
		t.Errorf("want 4 differences (status, dose, earliest, recommended), got %v", d)
	}
}
