package interaction

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/immunis/immunis/forecast"
)

// immdsVocab is what the mapping derives once from the engine's data: the
// vaccine groups in ScheduleSupportingData order with their CVX code and
// antigens, and the antigen → group index.
type immdsVocab struct {
	groups  []groupVocab
	antigen map[string]int // CDSi antigen → index in groups
}

type groupVocab struct {
	name     string
	cvx      concept // recommendation.vaccineCode
	antigens []string
	// codesJSON is the group's vaccineCode and targetDisease members,
	// rendered once (see immds_fragments.go).
	codesJSON []byte
}

var vocabs sync.Map // *forecast.Engine → *immdsVocab

// vocab returns the vocabulary of s.Forecaster, built on first use.
func (s *Service) vocab() (*immdsVocab, error) {
	if v, ok := vocabs.Load(s.Forecaster); ok {
		return v.(*immdsVocab), nil
	}
	v, err := buildVocab(s.Forecaster)
	if err != nil {
		return nil, err
	}
	actual, _ := vocabs.LoadOrStore(s.Forecaster, v)
	return actual.(*immdsVocab), nil
}

func buildVocab(e *forecast.Engine) (*immdsVocab, error) {
	v := &immdsVocab{antigen: map[string]int{}}
	for i, g := range e.VaccineGroups() {
		ags := e.Antigens(g)
		for _, a := range ags {
			if _, ok := targetDisease[a]; !ok {
				return nil, fmt.Errorf("immds: CDSi antigen %q has no target disease mapping", a)
			}
			v.antigen[a] = i
		}
		code, ok := groupCVX(e, g, ags)
		if !ok {
			return nil, fmt.Errorf("immds: vaccine group %q has no CVX code", g)
		}
		gv := groupVocab{name: g, cvx: concept{code, e.CVXDescription(code)}, antigens: ags}
		gv.codesJSON = render(func(w *jsonBuf) { renderGroupCodes(w, &gv) })
		v.groups = append(v.groups, gv)
	}
	return v, nil
}

// groupCVX chooses the CVX that stands for a vaccine group in
// recommendation.vaccineCode: the engine's "unspecified formulation" code;
// else the lowest CVX described as "unspecified" that carries exactly the
// group's antigens (the CDC table spells some without "formulation":
// 164 meningococcal B, 213 COVID-19, 184 yellow fever …); else the lowest
// CVX that carries exactly the group's antigens (03 MMR, 21 varicella,
// 317 chikungunya: no unspecified code exists).
func groupCVX(e *forecast.Engine, group string, antigens []string) (string, bool) {
	if c, ok := e.UnspecifiedCVX(group); ok {
		return c, true
	}
	want := append([]string(nil), antigens...)
	sort.Strings(want)
	var exact string
	for n := 1; n < 1000; n++ {
		code := fmt.Sprintf("%02d", n)
		if !e.KnownCVX(code) {
			continue
		}
		got := e.CVXAntigens(code)
		sort.Strings(got)
		if strings.Join(got, "|") != strings.Join(want, "|") {
			continue
		}
		if strings.Contains(strings.ToLower(e.CVXDescription(code)), "unspecified") {
			return code, true
		}
		if exact == "" {
			exact = code
		}
	}
	return exact, exact != ""
}
