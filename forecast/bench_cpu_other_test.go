//go:build !unix

package forecast_test

import "time"

// cpuTime is not measured on this platform; the benchmarks then report
// wall-clock rates only.
func cpuTime() time.Duration { return 0 }
