package main

import (
	"context"
	"os"

	"github.com/immunis/immunis/bench/internal/benchserver"
)

// startServer builds (unless bin is given) and starts `immunis serve` on
// the benchmark database.
func startServer(ctx context.Context, bin, dbURL string) (*benchserver.Server, error) {
	logf("building and starting the server…")
	s, err := benchserver.Start(ctx, bin, "--database-url", dbURL,
		"--log-level", "warn", "--db-max-conns", "16", "--data-dir", os.TempDir())
	if err != nil {
		return nil, err
	}
	logf("server pid %d at %s", s.Pid(), s.Base)
	return s, nil
}
