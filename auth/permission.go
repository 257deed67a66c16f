package auth

import "strings"

// Permission is a set of SMART v2 permission letters (c, r, u, d, s).
type Permission uint8

// The SMART v2 permissions. Their order is the order SMART requires in a
// scope: c r u d s.
const (
	PermCreate Permission = 1 << iota // c
	PermRead                          // r
	PermUpdate                        // u
	PermDelete                        // d
	PermSearch                        // s

	// PermAll is cruds, the v1 `*`.
	PermAll = PermCreate | PermRead | PermUpdate | PermDelete | PermSearch
	// PermV1Read is what a v1 `.read` scope grants: r and s.
	PermV1Read = PermRead | PermSearch
	// PermV1Write is what a v1 `.write` scope grants: c, u and d.
	PermV1Write = PermCreate | PermUpdate | PermDelete
)

const permLetters = "cruds"

// String renders p in SMART v2 order ("cruds"); the empty set is "".
func (p Permission) String() string {
	var b strings.Builder
	for i := range len(permLetters) {
		if p&(1<<i) != 0 {
			b.WriteByte(permLetters[i])
		}
	}
	return b.String()
}

// Has reports whether p contains every permission in q.
func (p Permission) Has(q Permission) bool { return q != 0 && p&q == q }

// parseV2Permissions parses a v2 permission string: one or more of c r u d s,
// each at most once and in that order.
func parseV2Permissions(s string) (Permission, bool) {
	if s == "" {
		return 0, false
	}
	var p Permission
	last := -1
	for i := range len(s) {
		idx := strings.IndexByte(permLetters, s[i])
		if idx < 0 || idx <= last {
			return 0, false
		}
		last = idx
		p |= 1 << idx
	}
	return p, true
}

// parseV1Permissions parses a v1 permission: read, write or *.
func parseV1Permissions(s string) (Permission, bool) {
	switch s {
	case "read":
		return PermV1Read, true
	case "write":
		return PermV1Write, true
	case "*":
		return PermAll, true
	}
	return 0, false
}

// Interaction is a FHIR RESTful interaction, as the server names it when it
// asks a Grant for access.
type Interaction string

// The FHIR interactions a Grant is asked about.
const (
	InteractionCreate          Interaction = "create"
	InteractionRead            Interaction = "read"
	InteractionVRead           Interaction = "vread"
	InteractionUpdate          Interaction = "update"
	InteractionPatch           Interaction = "patch"
	InteractionDelete          Interaction = "delete"
	InteractionHistoryInstance Interaction = "history-instance"
	InteractionHistoryType     Interaction = "history-type"
	InteractionHistorySystem   Interaction = "history-system"
	InteractionSearchType      Interaction = "search-type"
	InteractionSearchSystem    Interaction = "search-system"
	// InteractionOperation has no fixed permission: the caller checks the
	// permission the operation needs with Grant.Access.
	InteractionOperation Interaction = "operation"
)

// Permission is the SMART permission an interaction needs (SMART App Launch
// 2.x, "Scopes for requesting FHIR resources"): r for read, vread and
// instance history; s for search and type/system history; c for create; u for
// update and patch; d for delete. It is 0 for InteractionOperation and for
// unknown interactions, which no Grant allows.
func (i Interaction) Permission() Permission {
	switch i {
	case InteractionCreate:
		return PermCreate
	case InteractionRead, InteractionVRead, InteractionHistoryInstance:
		return PermRead
	case InteractionUpdate, InteractionPatch:
		return PermUpdate
	case InteractionDelete:
		return PermDelete
	case InteractionSearchType, InteractionSearchSystem, InteractionHistoryType, InteractionHistorySystem:
		return PermSearch
	}
	return 0
}
