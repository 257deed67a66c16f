package main

import (
	"database/sql"
	"fmt"
	"net/url"
	"os"

	_ "github.com/lib/pq"
)

// A fresh PostgreSQL database for the stored-record run, created on the
// test server (IMMUNIS_TEST_DATABASE_URL or the local default) and dropped
// afterwards.
const defaultPG = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

func createDatabase() (dbURL string, drop func(), err error) {
	admin := os.Getenv("IMMUNIS_TEST_DATABASE_URL")
	if admin == "" {
		admin = defaultPG
	}
	db, err := sql.Open("postgres", admin)
	if err != nil {
		return "", nil, err
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return "", nil, fmt.Errorf("PostgreSQL at %s: %w", admin, err)
	}
	name := fmt.Sprintf("immds_bench_%d", os.Getpid())
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		db.Close()
		return "", nil, err
	}
	u, err := url.Parse(admin)
	if err != nil {
		db.Close()
		return "", nil, err
	}
	u.Path = "/" + name
	return u.String(), func() {
		_, _ = db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		db.Close()
	}, nil
}
