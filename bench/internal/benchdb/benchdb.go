// Package benchdb gives the benchmark programs under bench/ a fresh
// PostgreSQL database of their own (dropped first if it exists).
package benchdb

import (
	"database/sql"
	"fmt"
	"net/url"
	"os"

	"github.com/lib/pq"
)

// AdminURL is the maintenance database of the PostgreSQL server the
// benchmarks use: IMMUNIS_TEST_DATABASE_URL (as for the tests), else the
// local server with trust auth.
func AdminURL() string {
	if u := os.Getenv("IMMUNIS_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// Drop drops database name (forcing connections closed).
func Drop(adminURL, name string) error {
	db, err := sql.Open("postgres", adminURL)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(`DROP DATABASE IF EXISTS ` + pq.QuoteIdentifier(name) + ` WITH (FORCE)`)
	return err
}

// Fresh drops and creates database name on the server of adminURL and
// returns the new database's URL.
func Fresh(adminURL, name string) (string, error) {
	db, err := sql.Open("postgres", adminURL)
	if err != nil {
		return "", err
	}
	defer db.Close()
	_, _ = db.Exec(`DROP DATABASE IF EXISTS ` + pq.QuoteIdentifier(name) + ` WITH (FORCE)`)
	if _, err := db.Exec(`CREATE DATABASE ` + pq.QuoteIdentifier(name)); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", fmt.Errorf("parse %s: %w", adminURL, err)
	}
	u.Path = "/" + name
	return u.String(), nil
}
