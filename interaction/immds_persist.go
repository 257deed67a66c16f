package interaction

import (
	"context"
	"fmt"
	"net/url"

	"github.com/google/uuid"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/forecast"
	"github.com/immunis/immunis/store"
)

// Persisting a forecast (Patient/{id}/$immds-forecast with persist=true):
// one current ImmunizationRecommendation per patient, replaced on each run,
// and its ImmunizationEvaluations, all written in one transaction through
// the ordinary write path (full validation, references checked, index rows,
// history). Ids are deterministic (UUIDv5 of the patient, and of patient,
// immunization and antigen), so a run updates the previous run's resources
// in place: an unchanged forecast makes no new version, a changed one a new
// version, and evaluations of doses that are gone are deleted. Every
// written resource carries an identifier in systemForecastID, which is how
// the next run finds what the previous one wrote.

// forecastID is the deterministic id of a persisted forecast resource.
func forecastID(kind, key string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte(systemForecastID+"/"+kind+"/"+key)).String()
}

type persistItem struct {
	typ, id string
	obj     fhir.Object
}

func (s *Service) persistForecast(ctx context.Context, r *immdsRequest, res *forecast.Result, v *immdsVocab) (*ImmDSAnswer, error) {
	ids := &persistIDs{
		recommendation: forecastID("recommendation", "Patient/"+r.patientID),
		evaluation: func(d *doseInfo, antigen string, other bool) (string, string) {
			if antigen == "" {
				antigen = "-"
			}
			key := "Patient/" + r.patientID + "/Immunization/" + d.id + "/" + antigen
			if other {
				key += "/other-series"
			}
			return forecastID("evaluation", key), key
		},
	}
	// Render and validate before the transaction: these are stored like
	// any client's resource.
	evals := r.evaluations(res, s.Forecaster)
	items := make([]persistItem, 0, len(evals)+1)
	w := getJSONBuf()
	defer putJSONBuf(w)
	add := func(typ string, write func()) error {
		w.b, w.need = w.b[:0], false
		write()
		obj, err := s.parse(typ, w.b)
		if err != nil {
			return fhir.Internal(fmt.Errorf("persisted %s does not validate: %w", typ, err))
		}
		items = append(items, persistItem{typ: typ, id: fhir.Str(obj, "id"), obj: obj})
		return nil
	}
	for i := range evals {
		if err := add("ImmunizationEvaluation", func() { r.writeEvaluation(w, &evals[i], ids) }); err != nil {
			return nil, err
		}
	}
	if err := add("ImmunizationRecommendation", func() { r.writeRecommendation(w, res, v, ids) }); err != nil {
		return nil, err
	}
	keep := make(map[string]bool, len(items))
	for _, it := range items {
		keep[it.id] = true
	}
	written := make([]*fhir.Resource, len(items))
	err := s.Store.Write(ctx, func(tx store.Tx) error {
		at := s.now()
		// Runs for one patient are serialized, so that two concurrent runs
		// cannot both keep evaluations the other deletes.
		if err := tx.Lock(ctx, "immds:Patient/"+r.patientID); err != nil {
			return err
		}
		if live, err := tx.Live(ctx, "Patient", r.patientID); err != nil {
			return err
		} else if !live {
			return notFoundResource("Patient", r.patientID)
		}
		old, err := s.searchAllInTx(ctx, tx, "ImmunizationEvaluation", url.Values{
			"patient":    {"Patient/" + r.patientID},
			"identifier": {systemForecastID + "|"},
		})
		if err != nil {
			return err
		}
		for i, it := range items {
			if err := s.resolveReferences(ctx, tx, it.typ, it.obj, nil); err != nil {
				return err
			}
			res, err := s.updateIn(ctx, tx, it.typ, it.id, it.obj, "", "PUT", at)
			if err != nil {
				return err
			}
			written[i] = res.Resource
		}
		for _, o := range old {
			if !keep[o.ID] {
				if _, err := s.deleteIn(ctx, tx, o.Type, o.ID, at); err != nil {
					return err
				}
			}
		}
		for _, it := range items {
			if err := s.verifyReferences(ctx, tx, it.typ, it.obj); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, storeErr(err)
	}
	// The answer carries the stored versions (with their ids and meta).
	out := getJSONBuf()
	out.obj()
	out.str("resourceType", "Parameters")
	out.key("parameter")
	out.arr()
	for i, res := range written {
		out.elem()
		out.obj()
		if i == len(written)-1 {
			out.str("name", "recommendation")
		} else {
			out.str("name", "evaluation")
		}
		out.raw("resource", res.Body)
		out.end('}')
	}
	out.end(']')
	out.end('}')
	return &ImmDSAnswer{w: out}, nil
}
