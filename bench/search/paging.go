package main

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// pageAll follows next links through every Immunization, sampling the
// server's RSS after each page: memory must stay flat (keyset paging holds
// one page at a time, whatever the position).
func (b *bench) pageAll(ctx context.Context) error {
	link := b.srv.Base + "/Immunization?_count=" + strconv.Itoa(b.cfg.pageSize)
	rss0, _, err := b.srv.Memory()
	if err != nil {
		return err
	}
	logf("paging through all Immunizations, %d per page…", b.cfg.pageSize)
	t0 := time.Now()
	var pages, entries int
	var maxRSS int64
	var samples []int64
	var slowest time.Duration
	for link != "" {
		tp := time.Now()
		bd, err := getBundle(ctx, link)
		if err != nil {
			return err
		}
		if d := time.Since(tp); d > slowest {
			slowest = d
		}
		pages++
		entries += len(bd.Entry)
		link = bd.next()
		rss, _, err := b.srv.Memory()
		if err != nil {
			return err
		}
		maxRSS = max(maxRSS, rss)
		if pages%100 == 1 {
			samples = append(samples, rss)
		}
	}
	_, peak, _ := b.srv.Memory()
	el := time.Since(t0)
	var ss []string
	for _, s := range samples {
		ss = append(ss, fmt.Sprintf("%.0f", float64(s)/(1<<20)))
	}
	fmt.Printf("\npaged %d Immunizations in %d pages of %d in %s (%.1f ms/page, slowest %.1f ms)\n",
		entries, pages, b.cfg.pageSize, el.Round(time.Second), float64(el)/1e6/float64(pages), float64(slowest)/1e6)
	fmt.Printf("server RSS: %.0f MB before, max %.0f MB while paging, peak (VmHWM, whole run) %.0f MB; every 100 pages: %s MB\n",
		float64(rss0)/(1<<20), float64(maxRSS)/(1<<20), float64(peak)/(1<<20), strings.Join(ss, " "))
	return nil
}

// explainAll prints the plan of one sample of each benchmark statement,
// compiled and hand-written, and flags sequential scans.
func (b *bench) explainAll(ctx context.Context) error {
	fmt.Println()
	for _, q := range b.queries {
		fq, hand := q.sample(7)
		comp, err := b.compiled(fq)
		if err != nil {
			return err
		}
		for _, x := range []struct {
			label string
			st    stmt
		}{{"compiled", comp}, {"hand", hand}} {
			plan, err := explain(ctx, b.db, x.st)
			if err != nil {
				return fmt.Errorf("%s: %w", q.name, err)
			}
			seq := "no sequential scan"
			if strings.Contains(plan, "Seq Scan") {
				seq = "SEQUENTIAL SCAN"
			}
			fmt.Printf("--- %s [%s]: %s\n%s\n", q.name, x.label, seq, plan)
		}
	}
	return nil
}

func explain(ctx context.Context, db *sql.DB, st stmt) (string, error) {
	rows, err := db.QueryContext(ctx, "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) "+st.sql, st.args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			return "", err
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n"), rows.Err()
}
