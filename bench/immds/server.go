package main

import (
	"context"

	"github.com/immunis/immunis/bench/internal/benchserver"
)

// buildServer builds the immunis binary into dir.
func buildServer(dir string) (string, error) { return benchserver.Build(dir) }

// startServer runs `immunis serve` on a free loopback port.
func startServer(bin string, args ...string) (*benchserver.Server, error) {
	return benchserver.Start(context.Background(), bin, append([]string{"--log-level", "error"}, args...)...)
}
