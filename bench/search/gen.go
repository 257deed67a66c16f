package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/search"
	"github.com/immunis/immunis/store"
)

// The generator: a deterministic population (seeded), fast rather than
// realistic (the synth package builds the realistic one). Every resource
// goes through the store's own write path (store.Tx.Put: the version row
// and its index rows in one statement), so the index rows are exactly the
// ones the server writes; only HTTP, validation and reference checks are
// skipped.

// cvxCodes are the vaccine codes drawn, with weights; 08 (HepB pediatric)
// is one in ten, the share the benchmark's vaccine-code query filters on.
var cvxCodes = []struct {
	code, display string
	weight        int
}{
	{"08", "Hep B, adolescent or pediatric", 10}, {"20", "DTaP", 10}, {"10", "IPV", 8}, {"03", "MMR", 6},
	{"21", "varicella", 6}, {"83", "Hep A, ped/adol, 2 dose", 6}, {"133", "PCV13", 8}, {"116", "rotavirus, pentavalent", 5},
	{"141", "Influenza, seasonal, injectable", 12}, {"115", "Tdap", 5}, {"62", "HPV, quadrivalent", 4}, {"114", "meningococcal MCV4P", 4},
	{"17", "Hib, unspecified formulation", 6}, {"208", "COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose", 6}, {"187", "zoster recombinant", 4},
}

var cvxTotal = func() int {
	n := 0
	for _, c := range cvxCodes {
		n += c.weight
	}
	return n
}()

var givenNames = []string{"Anna", "Liam", "Olivia", "Noah", "Emma", "Oliver", "Ava", "Elijah", "Sophia", "Lucas",
	"Mia", "Mateo", "Isabella", "Levi", "Amelia", "Ezra", "Harper", "Luca", "Evelyn", "Asher", "José", "Zoë", "Chloé", "Renée"}

var syllables = []string{"ab", "al", "an", "ar", "bel", "ber", "bro", "car", "cha", "dan", "del", "din", "el", "en", "far",
	"gar", "gon", "hal", "har", "ins", "jo", "kel", "kin", "lan", "ler", "lo", "man", "mar", "mil", "mon", "nel", "nor",
	"ol", "par", "per", "ran", "ric", "ros", "sal", "san", "son", "ste", "tan", "ter", "ton", "val", "ven", "wil", "win", "zan"}

// family is the surname of patient i: about 2,500 distinct ones, so a
// family name selects some 40 patients of 100,000.
func family(i int) string {
	n := (i * 7919) % 2500
	a, b := syllables[n%len(syllables)], syllables[(n/len(syllables))%len(syllables)]
	s := a + b
	return string(s[0]-32) + s[1:]
}

// birthDate of patient i, between 1940 and 2024.
func birthDate(i int) time.Time {
	r := rand.New(rand.NewPCG(uint64(i), 1))
	return time.Date(1940, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, r.IntN(85*365))
}

func patientID(i int) string { return "p" + strconv.Itoa(i) }
func mrn(i int) string       { return "MRN" + strconv.Itoa(1000000+i) }

// patient makes Patient i.
func patient(i int) map[string]any {
	r := rand.New(rand.NewPCG(uint64(i), 2))
	g := []string{"male", "female"}[r.IntN(2)]
	return map[string]any{
		"resourceType": "Patient",
		"id":           patientID(i),
		"identifier":   []any{map[string]any{"system": "urn:immunis:mrn", "value": mrn(i)}},
		"active":       true,
		"name": []any{map[string]any{"family": family(i),
			"given": []any{givenNames[r.IntN(len(givenNames))], givenNames[r.IntN(len(givenNames))]}}},
		"gender":    g,
		"birthDate": birthDate(i).Format("2006-01-02"),
		"address": []any{map[string]any{"line": []any{strconv.Itoa(1+r.IntN(999)) + " Main St"},
			"city": "Springfield", "state": "IL", "postalCode": fmt.Sprintf("627%02d", r.IntN(100))}},
	}
}

// immunizations makes the n Immunizations of patient i.
func immunizations(i, n int, end time.Time) []map[string]any {
	r := rand.New(rand.NewPCG(uint64(i), 3))
	born := birthDate(i)
	span := int(end.Sub(born).Hours() / 24)
	out := make([]map[string]any, 0, n)
	for k := 0; k < n; k++ {
		w := r.IntN(cvxTotal)
		c := cvxCodes[0]
		for _, cc := range cvxCodes {
			if w < cc.weight {
				c = cc
				break
			}
			w -= cc.weight
		}
		status := "completed"
		switch x := r.IntN(100); {
		case x < 3:
			status = "not-done"
		case x < 5:
			status = "entered-in-error"
		}
		out = append(out, map[string]any{
			"resourceType": "Immunization",
			"id":           fmt.Sprintf("i%d-%d", i, k),
			"status":       status,
			"vaccineCode": map[string]any{"coding": []any{map[string]any{
				"system": "http://hl7.org/fhir/sid/cvx", "code": c.code, "display": c.display}}},
			"patient":            map[string]any{"reference": "Patient/" + patientID(i)},
			"occurrenceDateTime": born.AddDate(0, 0, r.IntN(span+1)).Format("2006-01-02"),
			"primarySource":      true,
			"lotNumber":          fmt.Sprintf("L%05d", r.IntN(50000)),
		})
	}
	return out
}

// load writes patients [0, n) with per Immunizations each through the
// store's write path, batch resources per transaction, on workers
// connections.
func load(ctx context.Context, db *store.DB, x *search.Extractor, n, per, workers, batch int, log func(string, ...any)) error {
	at := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC)
	return inBatches(ctx, n, workers, batch, 50000, "loaded", log, func(phase, lo, hi int) (int, error) {
		var objs []map[string]any
		for i := lo; i < hi; i++ {
			if phase == 0 {
				objs = append(objs, patient(i))
			} else {
				objs = append(objs, immunizations(i, per, end)...)
			}
		}
		return len(objs), write(ctx, db, x, objs, at)
	})
}

// write stores objs (new resources) in one transaction.
func write(ctx context.Context, db *store.DB, x *search.Extractor, objs []map[string]any, at time.Time) error {
	type prepared struct {
		res *fhir.Resource
		ix  search.Index
	}
	var ps []prepared
	for _, o := range objs {
		typ, id := o["resourceType"].(string), o["id"].(string)
		body, err := fhir.Stamp(o, id, 1, at)
		if err != nil {
			return err
		}
		// Extract from the stored form (numbers as json.Number), as the
		// server does after decoding a request.
		var obj fhir.Object
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil {
			return err
		}
		ps = append(ps, prepared{&fhir.Resource{Type: typ, ID: id, Version: 1, LastUpdated: at, Body: body, Method: "POST"}, x.Extract(typ, obj)})
	}
	return db.Write(ctx, func(tx store.Tx) error {
		for i := range ps {
			if err := tx.Put(ctx, &store.Version{New: ps[i].res, Index: &ps[i].ix}); err != nil {
				return err
			}
		}
		return nil
	})
}
