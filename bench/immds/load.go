package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"
)

// loadResult is one load run.
type loadResult struct {
	n        int
	elapsed  time.Duration
	p50, p99 time.Duration
}

func (r loadResult) rate() float64 { return float64(r.n) / r.elapsed.Seconds() }

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}

// do sends one request and checks for 200.
func do(method, url string, body []byte) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: HTTP %d: %.300s", method, url, resp.StatusCode, b)
	}
	return nil
}

// load runs clients concurrent request loops for d (after a warm-up of
// d/5) and measures throughput and latency.
func load(clients int, d time.Duration, method, url string, body []byte) (loadResult, error) {
	run := func(d time.Duration, record bool) (loadResult, error) {
		var (
			mu    sync.Mutex
			lat   []time.Duration
			first error
			wg    sync.WaitGroup
		)
		start := time.Now()
		deadline := start.Add(d)
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				local := make([]time.Duration, 0, 1<<14)
				for time.Now().Before(deadline) {
					t0 := time.Now()
					if err := do(method, url, body); err != nil {
						mu.Lock()
						if first == nil {
							first = err
						}
						mu.Unlock()
						return
					}
					local = append(local, time.Since(t0))
				}
				mu.Lock()
				lat = append(lat, local...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		el := time.Since(start)
		if first != nil {
			return loadResult{}, first
		}
		if !record || len(lat) == 0 {
			return loadResult{}, nil
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		return loadResult{n: len(lat), elapsed: el, p50: lat[len(lat)/2], p99: lat[len(lat)*99/100]}, nil
	}
	if _, err := run(d/5, false); err != nil {
		return loadResult{}, err
	}
	return run(d, true)
}
