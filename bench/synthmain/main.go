// Command synthmain runs `immunis synth` (package synthcli) on its own, for bench/synth.sh
// until cmd/immunis wires the subcommand. It is a benchmark helper; nothing imports it.
package main

import (
	"os"

	"github.com/immunis/immunis/synthcli"
)

func main() { os.Exit(synthcli.Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
