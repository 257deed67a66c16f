package main

import (
	"context"
	"io"

	"github.com/immunis/immunis/forecastcli"
)

// forecastCmd is `immunis forecast [FILE]`: the CDSi engine on test-case
// JSON Lines or FHIR Bundles/Parameters (see forecastcli).
func forecastCmd(_ context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return forecastcli.Run(args, stdin, stdout, stderr)
}
