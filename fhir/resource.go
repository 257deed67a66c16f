package fhir

import (
	"strconv"
	"time"
)

// Resource is the envelope of one stored resource version. Body holds the
// resource JSON exactly as stored (meta.versionId and meta.lastUpdated
// included), so reads serve it without re-encoding.
type Resource struct {
	Type        string
	ID          string
	Version     int64
	LastUpdated time.Time
	Deleted     bool
	Body        []byte
	// Method is the interaction that produced this version (POST, PUT,
	// PATCH, DELETE); history entries report it.
	Method string
	// RID is the store's internal row id (history paging keys on it).
	RID int64
}

// ETag is the weak entity tag of this version, W/"n".
func (r *Resource) ETag() string { return `W/"` + strconv.FormatInt(r.Version, 10) + `"` }

// Ref is the relative reference Type/id.
func (r *Resource) Ref() string { return r.Type + "/" + r.ID }

// ValidID reports whether s is a valid FHIR id: [A-Za-z0-9\-\.]{1,64}.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// InstantLayout renders a FHIR instant with microsecond precision in UTC,
// the precision the stores keep, so that a value read back compares equal.
const InstantLayout = "2006-01-02T15:04:05.000000Z07:00"

// FormatInstant renders t as a FHIR instant.
func FormatInstant(t time.Time) string { return t.UTC().Format(InstantLayout) }

// Stamp sets the server-owned elements of a resource (id, meta.versionId,
// meta.lastUpdated) and encodes it. Other meta elements (profile, tag,
// security, source) are the client's and are kept.
func Stamp(obj Object, id string, version int64, at time.Time) ([]byte, error) {
	obj["id"] = id
	meta := Obj(obj, "meta")
	if meta == nil {
		meta = Object{}
		obj["meta"] = meta
	}
	meta["versionId"] = strconv.FormatInt(version, 10)
	meta["lastUpdated"] = FormatInstant(at)
	return Marshal(obj)
}
