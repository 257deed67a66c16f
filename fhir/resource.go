package fhir

import (
	"bytes"
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

// Raw is the text a resource was decoded from, for StampRaw.
type Raw struct {
	// Body is the JSON obj was decoded from, unchanged since: no element
	// of obj was set or rewritten but its id (nil: unknown).
	Body []byte
	// ID is the id Body holds ("" when it has none).
	ID string
}

// StampRaw is Stamp for a resource whose text is at hand: it stamps obj as
// Stamp does, but makes the stored text by splicing id and meta into
// raw.Body after its resourceType instead of encoding obj again (encoding
// is a sizeable part of a bulk load). It splices only where that text is
// certainly obj's — the body begins {"resourceType":"<type>", (nothing
// before it to move), obj has no meta of its own (meta would be rewritten),
// raw.ID is empty or id (no id to replace), and the body holds no \u
// escape (a lone surrogate decodes to U+FFFD, which the text would not
// say) — and encodes obj otherwise. The text keeps the client's member
// order; JSON objects are unordered.
func StampRaw(raw Raw, obj Object, id string, version int64, at time.Time) ([]byte, error) {
	typ := Str(obj, "resourceType")
	prefix := len(`{"resourceType":"`) + len(typ) + len(`",`)
	body := bytes.TrimRight(raw.Body, " \t\r\n")
	_, hasMeta := obj["meta"]
	if hasMeta || (raw.ID != "" && raw.ID != id) || typ == "" || len(body) <= prefix ||
		string(body[:prefix]) != `{"resourceType":"`+typ+`",` || body[len(body)-1] != '}' ||
		bytes.Contains(body, []byte(`\u`)) {
		return Stamp(obj, id, version, at)
	}
	obj["id"] = id
	vid, ts := strconv.FormatInt(version, 10), FormatInstant(at)
	obj["meta"] = Object{"versionId": vid, "lastUpdated": ts}
	out := make([]byte, 0, len(body)+len(id)+len(ts)+64)
	out = append(out, body[:prefix]...)
	if raw.ID == "" {
		out = append(AppendString(append(out, `"id":`...), id), ',')
	}
	out = append(out, `"meta":{"versionId":`...)
	out = AppendString(out, vid)
	out = append(out, `,"lastUpdated":`...)
	out = AppendString(out, ts)
	out = append(out, "},"...)
	return append(out, body[prefix:]...), nil
}
