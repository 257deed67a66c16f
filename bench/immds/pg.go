package main

import (
	"fmt"
	"os"

	"github.com/immunis/immunis/bench/internal/benchdb"
)

// createDatabase makes a fresh PostgreSQL database for the stored-record
// run, on the tests' server, dropped afterwards.
func createDatabase() (dbURL string, drop func(), err error) {
	admin := benchdb.AdminURL()
	name := fmt.Sprintf("immds_bench_%d", os.Getpid())
	u, err := benchdb.Fresh(admin, name)
	if err != nil {
		return "", nil, fmt.Errorf("PostgreSQL at %s: %w", admin, err)
	}
	return u, func() { _ = benchdb.Drop(admin, name) }, nil
}
