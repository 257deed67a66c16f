// Package testdb gives tests a fresh PostgreSQL database of their own. It
// connects to IMMUNIS_TEST_DATABASE_URL (default the local server with
// trust auth), creates a uniquely named database and drops it when the test
// ends. Outside CI an unreachable server skips the test; with CI=true it
// fails it, so PostgreSQL tests never silently disappear from CI.
package testdb

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	_ "github.com/lib/pq" // PostgreSQL driver
)

// DefaultURL is the server tests use when IMMUNIS_TEST_DATABASE_URL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// AdminURL is the URL of the server's maintenance database.
func AdminURL() string {
	if u := os.Getenv("IMMUNIS_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// Unavailable stops a test that needs PostgreSQL: skip locally, fail in CI.
func Unavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("PostgreSQL is required in CI but unreachable at %s: %v", AdminURL(), err)
	}
	t.Skipf("PostgreSQL unreachable at %s (%v); skipping (set CI=true to make this fatal)", AdminURL(), err)
}

// New creates an empty database and returns its URL.
func New(t testing.TB) string {
	t.Helper()
	admin, err := sql.Open("postgres", AdminURL())
	if err == nil {
		err = admin.Ping()
	}
	if err != nil {
		Unavailable(t, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "immunis_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		admin.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
		admin.Close()
	})
	u, err := url.Parse(AdminURL())
	if err != nil {
		t.Fatalf("parse %s: %v", AdminURL(), err)
	}
	u.Path = "/" + name
	if !strings.Contains(u.RawQuery, "sslmode") {
		q := u.Query()
		q.Set("sslmode", "disable")
		u.RawQuery = q.Encode()
	}
	return u.String()
}
