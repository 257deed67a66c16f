package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/immunis/immunis/auth"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/immunis/immunis/conformance"
	"github.com/immunis/immunis/server"
	"github.com/immunis/immunis/store"
)

func serveCmd(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	var c Config
	s := newSettings("serve", stderr)
	registerCommon(s, &c)
	registerServe(s, &c)
	registerAuth(s, &c.AuthSettings)
	registerBulk(s, &c.Bulk)
	if err := s.parse(args); err != nil {
		if errors.Is(err, flagHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "immunis serve:", err)
		return 2
	}
	log := newLogger(&c, stderr)
	if os.Getenv("GOGC") == "" {
		// Requests allocate much short-lived garbage (the validator's
		// protos); a larger heap target halves the collector's share of
		// CPU for a few tens of MB.
		debug.SetGCPercent(200)
	}
	if err := serve(ctx, &c, log, stdout); err != nil {
		log.Error("immunis serve failed", "err", err)
		return 1
	}
	return 0
}

// newMetrics is the Prometheus registry: Go runtime, process, and the
// database connection pools.
func newMetrics(db *store.DB) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	read, write := db.Pools()
	reg.MustRegister(collectors.NewDBStatsCollector(read, "read"))
	if write != read {
		reg.MustRegister(collectors.NewDBStatsCollector(write, "write"))
	}
	return reg
}

// checkIndexVersion warns when the stored index rows were built by another
// version of the extractor (search would miss or mis-match resources until
// `immunis reindex` runs); an empty database simply records the current one.
func checkIndexVersion(ctx context.Context, db *store.DB, current string, log *slog.Logger) {
	stored, ok, err := db.Setting(ctx, store.SettingIndexVersion)
	if err != nil {
		log.Warn("cannot read the index version", "err", err)
		return
	}
	switch {
	case ok && stored == current:
	case ok:
		log.Warn("the search index rows were built by another version: run `immunis reindex`", "stored", stored, "current", current)
	default:
		empty, err := db.Empty(ctx)
		if err != nil {
			log.Warn("cannot read the index version", "err", err)
			return
		}
		if !empty {
			log.Warn("the search index version is unknown: run `immunis reindex` once")
			return
		}
		if err := db.SetSetting(ctx, store.SettingIndexVersion, current); err != nil {
			log.Warn("cannot record the index version", "err", err)
		}
	}
}

// serve runs the HTTP server until ctx ends, then drains in-flight requests.
func serve(ctx context.Context, c *Config, log *slog.Logger, stdout io.Writer) error {
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.Addr, err)
	}
	defer ln.Close()
	addr := ln.Addr().(*net.TCPAddr)
	mode, err := auth.ParseMode(c.Auth)
	if err != nil {
		return err
	}
	if err := checkAuthMode(mode, addr, log); err != nil { // authwire.go
		return err
	}
	baseURL := strings.TrimSuffix(c.BaseURL, "/")
	if baseURL == "" {
		baseURL = "http://" + addr.String() + "/fhir"
	}
	db, err := openStore(ctx, c, log)
	if err != nil {
		return err
	}
	defer db.Close()
	svc, err := newService(c, db, baseURL)
	if err != nil {
		return err
	}
	checkIndexVersion(ctx, db, svc.Registry.IndexVersion(), log)
	srv := &server.Server{
		Service: svc,
		Capabilities: &conformance.Capabilities{
			Registry:   svc.Registry,
			BaseURL:    baseURL,
			Version:    version,
			Operations: append(conformance.ImmDSOperations(), exportOperations()...),
			Includes:   true, // _include/_revinclude are served (interaction/search_include.go)
		},
		Log:     log,
		MaxBody: c.MaxBody,
		Ready: func() error {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			return db.Ping(pctx)
		},
		Metrics: newMetrics(db),
	}
	srv.Exports = newExports(&c.Bulk, db, svc, baseURL, log) // bulkwire.go
	go srv.Exports.Bulk.Run(ctx)
	if mode != auth.ModeNone {
		w, err := newAuth(ctx, c, &c.AuthSettings, mode, baseURL, db, log) // authwire.go
		if err != nil {
			return err
		}
		srv.Auth, svc.Access, srv.Capabilities.Security = w.server, w.access, w.security
	}
	handler := srv.Handler()
	if c.Timeout > 0 {
		handler = server.WithTimeout(handler, c.Timeout)
	}
	hs := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	log.Info("immunis listening", "addr", addr.String(), "base", baseURL, "store", db.Dialect())
	fmt.Fprintf(stdout, "immunis listening on http://%s (FHIR base %s)\n", addr, baseURL)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return hs.Shutdown(sctx)
}
