package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/immunis/immunis/search"
)

// ErrNoEstimate is returned by Estimate when the store has no planner
// estimate to give; the caller counts instead.
var ErrNoEstimate = errors.New("no row estimate available")

// Estimate returns the planner's estimate of the rows a statement returns
// (_total=estimate): PostgreSQL plans it under EXPLAIN without running it.
// The embedded store has no such estimate.
func (db *DB) Estimate(ctx context.Context, st search.Statement) (int64, error) {
	if db.dialect.name() != search.Postgres {
		return 0, ErrNoEstimate
	}
	var raw []byte
	if err := db.read.QueryRowContext(ctx, "EXPLAIN (FORMAT JSON) "+st.SQL, st.Args...).Scan(&raw); err != nil {
		return 0, fmt.Errorf("estimate: %w", err)
	}
	var plans []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	if err := json.Unmarshal(raw, &plans); err != nil || len(plans) == 0 {
		return 0, fmt.Errorf("estimate: unreadable plan: %v", err)
	}
	return int64(plans[0].Plan.Rows), nil
}
