//go:build race

package e2e

// raceEnabled: under `go test -race` the server binary is built with the
// race detector too, so the concurrency tests check the server's code.
const raceEnabled = true
