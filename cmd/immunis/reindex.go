package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/search"
	"github.com/immunis/immunis/store"
)

// reindexCmd rebuilds the search index rows of every live resource from
// its stored content, in rid order and in batches (one transaction each),
// and records the index version in setting 'index_version'. It does
// nothing when that version is already current (unless --force), and a
// run that was stopped resumes where it left off. The server may keep
// serving meanwhile; searches see old rows for the resources not yet
// rebuilt.
func reindexCmd(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	var c Config
	s := newSettings("reindex", stderr)
	registerCommon(s, &c)
	batch := s.fs.Int("batch", 1000, "resources per transaction")
	force := s.fs.Bool("force", false, "rebuild even when the index version is current")
	if err := s.parse(args); err != nil {
		if errors.Is(err, flagHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "immunis reindex:", err)
		return 2
	}
	if *batch < 1 {
		fmt.Fprintln(stderr, "immunis reindex: --batch must be at least 1")
		return 2
	}
	log := newLogger(&c, stderr)
	db, err := openStore(ctx, &c, log)
	if err != nil {
		fmt.Fprintln(stderr, "immunis reindex:", err)
		return 1
	}
	defer db.Close()
	// References to this server's own base URL are indexed as local, so
	// the base must be the one the server uses (--base-url, as for serve).
	baseURL := strings.TrimSuffix(c.BaseURL, "/")
	if baseURL == "" {
		baseURL = "http://127.0.0.1:8080/fhir"
	}
	svc, err := newService(&c, db, baseURL)
	if err != nil {
		fmt.Fprintln(stderr, "immunis reindex:", err)
		return 1
	}
	if err := reindex(ctx, db, svc.Registry, svc.Extractor, *batch, *force, stdout); err != nil {
		fmt.Fprintln(stderr, "immunis reindex:", err)
		return 1
	}
	return 0
}

func reindex(ctx context.Context, db *store.DB, reg *search.Registry, x *search.Extractor, batch int, force bool, out io.Writer) error {
	want := reg.IndexVersion()
	have, _, err := db.Setting(ctx, store.SettingIndexVersion)
	if err != nil {
		return err
	}
	if have == want && !force {
		fmt.Fprintf(out, "index version %s is current; nothing to do (--force rebuilds anyway)\n", want)
		return nil
	}
	// Resume an interrupted rebuild of the same version.
	var after int64
	if v, _, err := db.Setting(ctx, store.SettingReindexVersion); err != nil {
		return err
	} else if v == want && !force {
		if cur, ok, err := db.Setting(ctx, store.SettingReindexCursor); err != nil {
			return err
		} else if ok {
			after, _ = strconv.ParseInt(cur, 10, 64)
			fmt.Fprintf(out, "resuming after rid %d\n", after)
		}
	}
	if err := db.SetSetting(ctx, store.SettingReindexVersion, want); err != nil {
		return err
	}
	extract := func(typ string, content []byte) (*search.Index, error) {
		obj, err := fhir.DecodeStrict(content)
		if err != nil {
			return nil, err
		}
		ix := x.Extract(typ, obj)
		return &ix, nil
	}
	start, total, lastReport := time.Now(), 0, time.Now()
	for {
		last, n, err := db.ReindexBatch(ctx, after, batch, extract)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		after, total = last, total+n
		if err := db.SetSetting(ctx, store.SettingReindexCursor, strconv.FormatInt(after, 10)); err != nil {
			return err
		}
		if time.Since(lastReport) > 5*time.Second {
			fmt.Fprintf(out, "reindexed %d resources (%.0f/s)\n", total, float64(total)/time.Since(start).Seconds())
			lastReport = time.Now()
		}
	}
	if err := db.SetSetting(ctx, store.SettingIndexVersion, want); err != nil {
		return err
	}
	if err := db.SetSetting(ctx, store.SettingReindexCursor, "0"); err != nil {
		return err
	}
	fmt.Fprintf(out, "reindexed %d resources in %s; index version %s\n", total, time.Since(start).Round(time.Millisecond), want)
	return nil
}
