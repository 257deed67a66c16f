package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// inBatches runs write over patients [0, n) in batches of batch, on
// workers goroutines, in two phases: Patients (phase 0), then their
// Immunizations (phase 1), so that Immunizations get the higher rids, as
// in a registry loaded in that order. write returns how many resources it
// wrote; every so many, log reports the rate. The first error stops it.
func inBatches(ctx context.Context, n, workers, batch int, every int64, verb string, log func(string, ...any),
	write func(phase, lo, hi int) (int, error)) error {
	start := time.Now()
	var done atomic.Int64
	for phase := 0; phase < 2; phase++ {
		var next atomic.Int64
		var wg sync.WaitGroup
		errc := make(chan error, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					lo := int(next.Add(int64(batch))) - batch
					if lo >= n {
						return
					}
					k, err := write(phase, lo, min(lo+batch, n))
					if err != nil {
						errc <- err
						return
					}
					if d := done.Add(int64(k)); d/every != (d-int64(k))/every {
						log("%s %d resources (%.0f/s)", verb, d, float64(d)/time.Since(start).Seconds())
					}
				}
			}()
		}
		wg.Wait()
		select {
		case err := <-errc:
			return err
		default:
		}
	}
	return ctx.Err()
}
