package forecastcli

// Output: a readable table per patient, or one JSON line per patient in the
// vocabulary and date format of the CDC test cases.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/immunis/immunis/forecast"
)

// jsonCase is the --json line.
type jsonCase struct {
	ID            string      `json:"id"`
	VaccineGroups []jsonGroup `json:"vaccine_groups"`
}

type jsonGroup struct {
	VaccineGroup       string     `json:"vaccine_group"`
	SeriesStatus       string     `json:"series_status"`
	ForecastDoseNumber *int       `json:"forecast_dose_number"`
	Earliest           *string    `json:"earliest"`
	Recommended        *string    `json:"recommended"`
	PastDue            *string    `json:"past_due"`
	Latest             *string    `json:"latest"`
	Doses              []jsonDose `json:"doses"`
}

type jsonDose struct {
	Seq              int     `json:"seq"`
	EvaluationStatus string  `json:"evaluation_status"`
	EvaluationReason *string `json:"evaluation_reason"`
}

func datePtr(d forecast.Date) *string {
	if d.IsZero() {
		return nil
	}
	s := d.String()
	return &s
}

func writeJSON(w *bufio.Writer, pc parsedCase, res forecast.Result) error {
	out := jsonCase{ID: pc.id, VaccineGroups: make([]jsonGroup, 0, len(res.Groups))}
	for _, g := range res.Groups {
		jg := jsonGroup{
			VaccineGroup: g.VaccineGroup,
			SeriesStatus: g.Status.String(),
			Earliest:     datePtr(g.Earliest),
			Recommended:  datePtr(g.Recommended),
			PastDue:      datePtr(g.PastDue),
			Latest:       datePtr(g.Latest),
			Doses:        []jsonDose{},
		}
		if g.DoseNumber > 0 {
			n := g.DoseNumber
			jg.ForecastDoseNumber = &n
		}
		for i, d := range pc.in.Doses {
			ev, ok := res.GroupEvaluation(g.VaccineGroup, d.ID)
			if !ok && strings.EqualFold(g.VaccineGroup, pc.group) {
				// A test case lists every dose under its vaccine group; a dose
				// without an antigen of the group (a varicella dose in an MMR
				// case) is shown with its own evaluation, as CDC does.
				ev, ok = anyEvaluation(res, d.ID)
			}
			if !ok {
				continue
			}
			jd := jsonDose{Seq: pc.seqs[i], EvaluationStatus: ev.Status.String()}
			if t := ev.ReasonCode.TestCaseText(); t != "" {
				jd.EvaluationReason = &t
			}
			jg.Doses = append(jg.Doses, jd)
		}
		out.VaccineGroups = append(out.VaccineGroups, jg)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	w.Write(b)
	w.WriteByte('\n')
	return nil
}

// anyEvaluation combines a dose's evaluations over every vaccine group.
func anyEvaluation(res forecast.Result, id string) (forecast.DoseEvaluation, bool) {
	for _, g := range res.Groups {
		if ev, ok := res.GroupEvaluation(g.VaccineGroup, id); ok {
			return ev, true
		}
	}
	return forecast.DoseEvaluation{}, false
}

func writeTable(w *bufio.Writer, pc parsedCase, res forecast.Result) {
	id := pc.id
	if id == "" {
		id = "(no id)"
	}
	fmt.Fprintf(w, "Patient %s  born %s  gender %s  assessed %s\n\n", id, pc.in.BirthDate, pc.in.Gender, res.AssessmentDate)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "VACCINE GROUP\tSTATUS\tDOSE\tEARLIEST\tRECOMMENDED\tPAST DUE\tLATEST\tSERIES / REASON")
	for _, g := range res.Groups {
		dose := "-"
		if g.DoseNumber > 0 {
			dose = strconv.Itoa(g.DoseNumber)
		}
		note := g.SeriesName
		if g.Status != forecast.NotComplete && g.Reason != "" {
			note = g.Reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", g.VaccineGroup, g.Status, dose,
			dash(g.Earliest), dash(g.Recommended), dash(g.PastDue), dash(g.Latest), note)
	}
	tw.Flush()
	if len(res.Evaluations) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "DOSE\tDATE\tCVX\tANTIGEN\tSTATUS\tREASON\tSERIES (TARGET DOSE)")
		for _, ev := range res.Evaluations {
			d := pc.in.Doses[ev.DoseIndex]
			reason := ev.Reason
			if reason == "" {
				reason = "-"
			}
			target := ""
			if ev.TargetDose > 0 {
				target = fmt.Sprintf(" (dose %d of %d)", ev.TargetDose, ev.SeriesDoses)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s%s\n", pc.seqs[ev.DoseIndex], d.Date, d.CVX, ev.Antigen, ev.Status, reason, ev.SeriesName, target)
		}
		tw.Flush()
	}
	fmt.Fprintln(w)
}

func dash(d forecast.Date) string {
	if d.IsZero() {
		return "-"
	}
	return d.String()
}
