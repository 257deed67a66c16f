package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/immunis/immunis/auth"
	"github.com/immunis/immunis/internal/testdb"
	"github.com/immunis/immunis/store"
)

// openBoth opens a migrated store of each dialect.
func openBoth(t *testing.T) map[string]*store.DB {
	t.Helper()
	ctx := context.Background()
	out := map[string]*store.DB{}
	lite, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "immunis.db"))
	if err != nil {
		t.Fatal(err)
	}
	out["sqlite"] = lite
	if pg, err := store.OpenPostgres(ctx, testdb.New(t), 4); err != nil {
		t.Fatal(err)
	} else {
		out["postgres"] = pg
	}
	for _, db := range out {
		t.Cleanup(func() { db.Close() })
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestClientStore(t *testing.T) {
	ctx := context.Background()
	for kind, db := range openBoth(t) {
		t.Run(kind, func(t *testing.T) {
			cs := db.Clients()
			if _, err := cs.GetClient(ctx, "nobody"); !errors.Is(err, auth.ErrClientNotFound) {
				t.Fatalf("unknown client: %v", err)
			}
			inline := &auth.Client{ID: "inline", JWKS: json.RawMessage(`{"keys":[]}`), Scopes: []string{"system/*.rs", "system/Patient.r"}}
			byURL := &auth.Client{ID: "by-url", JWKSURL: "https://example.org/jwks", Scopes: []string{"system/Immunization.rs"}, Disabled: true}
			for _, c := range []*auth.Client{inline, byURL} {
				if err := cs.PutClient(ctx, c); err != nil {
					t.Fatal(err)
				}
			}
			got, err := cs.GetClient(ctx, "inline")
			if err != nil {
				t.Fatal(err)
			}
			if string(got.JWKS) != `{"keys":[]}` || got.JWKSURL != "" || len(got.Scopes) != 2 || got.Scopes[1] != "system/Patient.r" || got.Disabled {
				t.Errorf("inline client read back as %+v", got)
			}
			got, err = cs.GetClient(ctx, "by-url")
			if err != nil {
				t.Fatal(err)
			}
			if got.JWKS != nil || got.JWKSURL != byURL.JWKSURL || !got.Disabled {
				t.Errorf("url client read back as %+v", got)
			}
			// Replacing switches the key source and re-enables.
			if err := cs.PutClient(ctx, &auth.Client{ID: "by-url", JWKS: json.RawMessage(`{"keys":[1]}`), Scopes: []string{"system/*.r"}}); err != nil {
				t.Fatal(err)
			}
			got, _ = cs.GetClient(ctx, "by-url")
			if got.JWKSURL != "" || string(got.JWKS) != `{"keys":[1]}` || got.Disabled {
				t.Errorf("replaced client %+v", got)
			}
			list, err := cs.ListClients(ctx)
			if err != nil || len(list) != 2 || list[0].ID != "by-url" || list[1].ID != "inline" {
				t.Fatalf("list %v %v", list, err)
			}
			if err := cs.DeleteClient(ctx, "inline"); err != nil {
				t.Fatal(err)
			}
			if err := cs.DeleteClient(ctx, "inline"); !errors.Is(err, auth.ErrClientNotFound) {
				t.Errorf("second delete: %v", err)
			}
			if _, err := cs.GetClient(ctx, "inline"); !errors.Is(err, auth.ErrClientNotFound) {
				t.Errorf("deleted client still there: %v", err)
			}
		})
	}
}

func TestReplayCache(t *testing.T) {
	ctx := context.Background()
	for kind, db := range openBoth(t) {
		t.Run(kind, func(t *testing.T) {
			now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			rc := db.Replay()
			rc.Now = func() time.Time { return now }
			exp := now.Add(5 * time.Minute)
			steps := []struct {
				name      string
				client    string
				jti       string
				exp       time.Time
				advance   time.Duration
				wantUsed  bool
				wantCount int64
			}{
				{"first use", "a", "j1", exp, 0, false, 1},
				{"replay", "a", "j1", exp, 0, true, 1},
				{"same jti, other client", "b", "j1", exp, 0, false, 2},
				{"replay just before expiry", "a", "j1", exp, 5*time.Minute - time.Second, true, 2},
				// Past expiry the purge runs (a minute has passed since the
				// first call) and the id may be used again.
				{"after expiry", "a", "j1", now.Add(20 * time.Minute), 10 * time.Minute, false, 1},
				{"replay of the renewed id", "a", "j1", now.Add(20 * time.Minute), 0, true, 1},
			}
			for _, s := range steps {
				now = now.Add(s.advance)
				used, err := rc.Seen(ctx, s.client, s.jti, s.exp)
				if err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
				if used != s.wantUsed {
					t.Errorf("%s: used %v, want %v", s.name, used, s.wantUsed)
				}
				if n, err := rc.Count(ctx); err != nil || n != s.wantCount {
					t.Errorf("%s: %d rows (%v), want %d", s.name, n, err, s.wantCount)
				}
			}
		})
	}
}

// TestReplayCacheRace: of many concurrent uses of one assertion id, across
// two cache values (two replicas), exactly one wins.
func TestReplayCacheRace(t *testing.T) {
	ctx := context.Background()
	for kind, db := range openBoth(t) {
		t.Run(kind, func(t *testing.T) {
			replicas := []*store.ReplayCache{db.Replay(), db.Replay()}
			exp := time.Now().Add(time.Minute)
			var wg sync.WaitGroup
			var mu sync.Mutex
			wins, errs := 0, 0
			for i := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					used, err := replicas[i%2].Seen(ctx, "c", "same", exp)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err != nil:
						errs++
						t.Log(err)
					case !used:
						wins++
					}
				}()
			}
			wg.Wait()
			if wins != 1 || errs != 0 {
				t.Errorf("%d winners and %d errors, want exactly one winner", wins, errs)
			}
		})
	}
}
