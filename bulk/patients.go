package bulk

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/store"
)

// resolvePatients settles, in the snapshot at, whose compartments a
// patient- or group-level export covers: the Group's members (404 when the
// Group is not there), narrowed to the patient parameter, whose patients
// must exist and, for a Group, be members (export.html "patient").
func (m *Manager) resolvePatients(ctx context.Context, k *KickOff, p *parsed, at time.Time) error {
	if k.Level == LevelSystem {
		return nil
	}
	var members []string
	if k.Level == LevelGroup {
		var err error
		if members, err = m.groupMembers(ctx, p, k.GroupID, at); err != nil {
			return err
		}
	}
	var chosen []string
	for _, id := range p.patients {
		r, err := m.Store.VersionAt(ctx, "Patient", id, at)
		switch {
		case errors.Is(err, store.ErrNotFound) || (err == nil && r.Deleted):
			p.issue(fhir.IssueNotFound, "IMM-BULK-060", "patient", "Patient/%s does not exist on this server", id)
		case err != nil:
			return fhir.Internal(err)
		case k.Level == LevelGroup && !slices.Contains(members, id):
			p.issue(fhir.IssueNotFound, "IMM-BULK-061", "patient", "Patient/%s is not a member of Group/%s", id, k.GroupID)
		default:
			chosen = append(chosen, id)
		}
	}
	switch {
	case len(p.patients) > 0:
		p.spec.Patients, p.spec.Listed = chosen, true
	case k.Level == LevelGroup:
		p.spec.Patients, p.spec.Listed = members, true
	}
	slices.Sort(p.spec.Patients)
	return nil
}

// groupMembers returns the Patients a Group lists as active members in
// the snapshot. Members of other types are reported, not exported.
func (m *Manager) groupMembers(ctx context.Context, p *parsed, id string, at time.Time) ([]string, error) {
	r, err := m.Store.VersionAt(ctx, "Group", id, at)
	if errors.Is(err, store.ErrNotFound) || (err == nil && r.Deleted) {
		return nil, fhir.Errorf(fhir.KindNotFound, fhir.IssueNotFound, "IMM-BULK-062", "Group/%s is not known", id)
	}
	if err != nil {
		return nil, fhir.Internal(err)
	}
	obj, err := fhir.DecodeStrict(r.Body)
	if err != nil {
		return nil, fhir.Internal(err)
	}
	var out []string
	others := 0
	for _, v := range fhir.Arr(obj, "member") {
		mem, ok := v.(fhir.Object)
		if !ok || mem["inactive"] == true {
			continue
		}
		ref := fhir.ParseReference(fhir.Str(fhir.Obj(mem, "entity"), "reference"), m.BaseURL)
		if ref.Kind != fhir.RefLocal || ref.Type != "Patient" {
			others++
			continue
		}
		if !slices.Contains(out, ref.ID) {
			out = append(out, ref.ID)
		}
	}
	if others > 0 {
		p.notes = append(p.notes, fhir.Issue{Severity: fhir.SeverityWarning, Code: fhir.IssueInformational, MsgID: "IMM-BULK-063",
			Diagnostics: "Group/" + id + " has members that are not Patients of this server; their data is not exported"})
	}
	return out, nil
}
