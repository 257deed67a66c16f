package search

// Dialect is the SQL flavour a statement is compiled for.
type Dialect string

const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// Statement is compiled SQL with its bind arguments. Search values reach the
// database only as arguments, never inside SQL text.
type Statement struct {
	SQL  string
	Args []any
}

// ResourceColumns is the column list every resource-returning statement
// selects first (store scans rows in this order), from the alias r.
const ResourceColumns = "r.rid, r.type, r.id, r.version, r.last_updated, r.deleted, r.method, r.content"
