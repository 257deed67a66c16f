package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

var httpClient = &http.Client{
	Timeout:   60 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64},
}

// measureAll runs every query three ways — over HTTP, its compiled SQL,
// the hand-written SQL — each with the configured clients, and prints
// p50/p99 and the ratios to the hand-written SQL.
func (b *bench) measureAll(ctx context.Context) error {
	type result struct {
		name, target    string
		http, comp, sql []time.Duration
	}
	var results []result
	for _, q := range b.queries {
		if b.cfg.queryFilter != "" && !strings.Contains(q.name, b.cfg.queryFilter) {
			continue
		}
		logf("measuring %s", q.name)
		r := result{name: q.name, target: q.target}
		// The three ways run interleaved, request by request, so that
		// whatever else the machine does weighs on all of them alike.
		methods := []func(ctx context.Context, k int) error{
			func(ctx context.Context, k int) error {
				fq, _ := q.sample(k)
				return getOK(ctx, b.srv.Base+"/"+fq)
			},
			func(ctx context.Context, k int) error {
				fq, _ := q.sample(k)
				st, err := b.compiled(fq)
				if err != nil {
					return err
				}
				return b.runSQL(ctx, st)
			},
			func(ctx context.Context, k int) error {
				_, st := q.sample(k)
				return b.runSQL(ctx, st)
			},
		}
		if _, err := b.load(ctx, methods, b.cfg.warmup); err != nil {
			return fmt.Errorf("%s: %w", q.name, err)
		}
		lat, err := b.load(ctx, methods, b.cfg.requests)
		if err != nil {
			return fmt.Errorf("%s: %w", q.name, err)
		}
		r.http, r.comp, r.sql = lat[0], lat[1], lat[2]
		results = append(results, r)
	}
	fmt.Printf("\n%d clients, %d requests per query and method, the methods interleaved (after %d warm-up), %d Patients / %d Immunizations\n\n",
		b.cfg.clients, b.cfg.requests, b.cfg.warmup, b.cfg.patients, b.cfg.patients*b.cfg.per)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "query\ttarget p50\tHTTP p50\tHTTP p99\tcompiled SQL p50\tp99\thand SQL p50\tp99\tHTTP/hand\tcompiled/hand\t")
	for _, r := range results {
		hp50, hp99 := pct(r.http, 50), pct(r.http, 99)
		cp50, cp99 := pct(r.comp, 50), pct(r.comp, 99)
		sp50, sp99 := pct(r.sql, 50), pct(r.sql, 99)
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f×\t%.2f×\t\n", r.name, r.target,
			ms(hp50), ms(hp99), ms(cp50), ms(cp99), ms(sp50), ms(sp99),
			float64(hp50)/float64(sp50), float64(cp50)/float64(sp50))
	}
	return w.Flush()
}

// load runs n requests of each method over the configured clients; each
// client takes the next sample and runs it every way, in an order that
// rotates with the sample. It returns the latencies per method.
func (b *bench) load(ctx context.Context, methods []func(context.Context, int) error, n int) ([][]time.Duration, error) {
	var next atomic.Int64
	lat := make([][]time.Duration, len(methods))
	for i := range lat {
		lat[i] = make([]time.Duration, n)
	}
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for c := 0; c < b.cfg.clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1)) - 1
				if k >= n || ctx.Err() != nil {
					return
				}
				for j := range methods {
					m := (j + k) % len(methods)
					t0 := time.Now()
					if err := methods[m](ctx, k); err != nil {
						firstErr.CompareAndSwap(nil, err)
						return
					}
					lat[m][k] = time.Since(t0)
				}
			}
		}()
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return nil, err
	}
	return lat, ctx.Err()
}

// runSQL runs a statement and reads every row and column.
func (b *bench) runSQL(ctx context.Context, st stmt) error {
	rows, err := b.db.QueryContext(ctx, st.sql, st.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var r rowScan
		if err := r.scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func getOK(ctx context.Context, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return nil
}

// bundle is what paging needs of a searchset.
type bundle struct {
	Link []struct {
		Relation string `json:"relation"`
		URL      string `json:"url"`
	} `json:"link"`
	Entry []struct {
		FullURL string `json:"fullUrl"`
	} `json:"entry"`
}

func (b *bundle) next() string {
	for _, l := range b.Link {
		if l.Relation == "next" {
			return l.URL
		}
	}
	return ""
}

func getBundle(ctx context.Context, u string) (*bundle, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("GET %s: %s\n%s", u, resp.Status, body)
	}
	var b bundle
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
		return nil, err
	}
	return &b, nil
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	return s[min(max(i-1, 0), len(s)-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }
