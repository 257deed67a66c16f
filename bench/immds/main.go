// Command immds benchmarks $immds-forecast: a 20-dose child over HTTP with
// concurrent clients (requests/s, p50/p99), next to the engine-only time
// per forecast and the in-process cost of the operation's fast path
// (parse, validate, map, serialize), all measured in the same run; then the
// stored-record operation, Patient/{id}/$immds-forecast, on PostgreSQL.
//
//	go run ./bench/immds                  # from the repository root
//	go run ./bench/immds -d 20s -clients 8 -pg=false
//
// Targets (issue 5): overhead (parse, validate, map, serialize) ≤ 2× the
// engine time, ≥ 3,000 forecasts/s with 8 clients on the 2-core machine,
// stored-record p50 on PostgreSQL ≤ 5 ms. The server's whole CPU per
// request is printed too, with what it counts besides the operation.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/immunis/immunis/forecast"
	"github.com/immunis/immunis/interaction"
	"github.com/immunis/immunis/profiles"
)

func main() {
	var (
		clients = flag.Int("clients", 8, "concurrent HTTP clients")
		dur     = flag.Duration("d", 10*time.Second, "measured duration of each HTTP run")
		bin     = flag.String("bin", "", "immunis binary (default: build ./cmd/immunis)")
		pg      = flag.Bool("pg", true, "also run the stored-record benchmark on PostgreSQL")
	)
	flag.Parse()
	if err := run(*clients, *dur, *bin, *pg); err != nil {
		fmt.Fprintln(os.Stderr, "bench/immds:", err)
		os.Exit(1)
	}
}

func run(clients int, dur time.Duration, bin string, pg bool) error {
	dir, err := os.MkdirTemp("", "immds-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if bin == "" {
		if bin, err = buildServer(dir); err != nil {
			return err
		}
	}
	eng, err := forecast.Default()
	if err != nil {
		return err
	}
	body := childParameters()
	fmt.Printf("immds benchmark: 20-dose child, %d-byte request, GOMAXPROCS %d, %s\n\n", len(body), runtime.GOMAXPROCS(0), forecast.DataVersion)

	// 1. The engine alone, and the operation in process (no HTTP).
	engine := perCall(2*time.Second, func() error { _, err := eng.Forecast(childInput()); return err })
	rules, err := profiles.Load()
	if err != nil {
		return err
	}
	svc := &interaction.Service{Forecaster: eng, Rules: rules}
	var answer int
	inproc := perCall(2*time.Second, func() error {
		a, err := svc.ImmDSForecast(context.Background(), interaction.ImmDSRequest{Method: "POST", Body: body})
		if err != nil {
			return err
		}
		answer = len(a.Bytes())
		a.Release()
		return nil
	})
	if engine.err != nil || inproc.err != nil {
		return fmt.Errorf("engine: %v, operation: %v", engine.err, inproc.err)
	}
	fast := inproc.per - engine.per
	fmt.Printf("engine only (forecast.Engine.Forecast, 1 goroutine):   %8.1f µs/forecast\n", us(engine.per))
	fmt.Printf("operation in process (ImmDSForecast, 1 goroutine):     %8.1f µs/call (%d-byte answer)\n", us(inproc.per), answer)
	fmt.Printf("  overhead = parse, validate, map, serialize:          %8.1f µs = %.2f× the engine time (target ≤ 2×)\n\n", us(fast), ratio(fast, engine.per))

	// 2. Over HTTP, embedded store (nothing is stored by this operation).
	s, err := startServer(bin, "--data-dir", dir+"/sqlite")
	if err != nil {
		return err
	}
	cpu0 := s.CPUTime()
	res, err := load(clients, dur, "POST", s.Base+"/$immds-forecast", body)
	cpu := s.CPUTime() - cpu0
	s.Stop()
	if err != nil {
		return err
	}
	// The warm-up (dur/5) also ran on the server: scale its CPU out.
	perReq := time.Duration(float64(cpu) / (float64(res.n) * 1.2))
	overhead := perReq - engine.per
	fmt.Printf("POST $immds-forecast over HTTP, %d clients, %s:\n", clients, dur)
	fmt.Printf("  %8.0f forecasts/s   p50 %6.2f ms   p99 %6.2f ms   (%d requests)\n", res.rate(), ms(res.p50), ms(res.p99), res.n)
	fmt.Printf("  server CPU %6.1f µs/request (user+system): all but the engine %6.1f µs = %.2f× the engine time\n", us(perReq), us(overhead), ratio(overhead, engine.per))
	fmt.Println("  (that also counts the HTTP stack, the kernel's TCP work for request and answer, and GC)")
	fmt.Println()

	if !pg {
		return nil
	}
	// 3. The stored record on PostgreSQL.
	dbURL, drop, err := createDatabase()
	if err != nil {
		return fmt.Errorf("stored-record benchmark needs PostgreSQL (-pg=false to skip): %w", err)
	}
	defer drop()
	s, err = startServer(bin, "--data-dir", dir+"/pg", "--database-url", dbURL)
	if err != nil {
		return err
	}
	defer s.Stop()
	if err := do("POST", s.Base, childBundle()); err != nil {
		return err
	}
	url := s.Base + "/Patient/bench-child/$immds-forecast?assessmentDate=" + childAssessment
	one, err := load(1, dur/2, "GET", url, nil)
	if err != nil {
		return err
	}
	many, err := load(clients, dur/2, "GET", url, nil)
	if err != nil {
		return err
	}
	fmt.Printf("GET Patient/{id}/$immds-forecast on PostgreSQL (20 stored doses):\n")
	fmt.Printf("  1 client:  %8.0f forecasts/s   p50 %6.2f ms   p99 %6.2f ms\n", one.rate(), ms(one.p50), ms(one.p99))
	fmt.Printf("  %d clients: %8.0f forecasts/s   p50 %6.2f ms   p99 %6.2f ms\n", clients, many.rate(), ms(many.p50), ms(many.p99))
	return nil
}

type timing struct {
	per time.Duration
	err error
}

// perCall runs f repeatedly for about d and returns the mean time per call.
func perCall(d time.Duration, f func() error) timing {
	for i := 0; i < 200; i++ { // warm up pools and caches
		if err := f(); err != nil {
			return timing{err: err}
		}
	}
	n, start := 0, time.Now()
	for time.Since(start) < d {
		for i := 0; i < 100; i++ {
			if err := f(); err != nil {
				return timing{err: err}
			}
		}
		n += 100
	}
	return timing{per: time.Since(start) / time.Duration(n)}
}

func us(d time.Duration) float64       { return float64(d) / float64(time.Microsecond) }
func ms(d time.Duration) float64       { return float64(d) / float64(time.Millisecond) }
func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }
