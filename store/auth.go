package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/immunis/immunis/auth"
	"github.com/immunis/immunis/search"
)

// The SQL side of SMART Backend Services (migration 0003): the registered
// clients and the assertion ids (jti) the token endpoint has accepted. Both
// live in the database, not in memory, because any replica may answer a
// token request: a client registered with `immunis client add` must be
// known to all of them, and an assertion replayed to another replica must
// still be refused.

// ClientStore implements auth.ClientStore over the auth_client table, plus
// the listing and removal `immunis client` offers.
type ClientStore struct {
	db *DB
	// Now is the clock; nil is the wall clock.
	Now func() time.Time
}

// Clients returns the client store of db.
func (db *DB) Clients() *ClientStore { return &ClientStore{db: db} }

var _ auth.ClientStore = (*ClientStore)(nil)

const clientColumns = `id, jwks, jwks_url, scopes, disabled`

// GetClient implements auth.ClientStore.
func (s *ClientStore) GetClient(ctx context.Context, id string) (*auth.Client, error) {
	rows, err := s.db.read.QueryContext(ctx, `SELECT `+clientColumns+` FROM auth_client WHERE id = $1`, id)
	if err != nil {
		return nil, fmt.Errorf("read client %q: %w", id, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read client %q: %w", id, err)
		}
		return nil, fmt.Errorf("client %q: %w", id, auth.ErrClientNotFound)
	}
	c, err := scanClient(rows)
	if err != nil {
		return nil, fmt.Errorf("read client %q: %w", id, err)
	}
	return c, rows.Err()
}

// ListClients returns every registered client, by id.
func (s *ClientStore) ListClients(ctx context.Context) ([]*auth.Client, error) {
	rows, err := s.db.read.QueryContext(ctx, `SELECT `+clientColumns+` FROM auth_client ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	defer rows.Close()
	var out []*auth.Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, fmt.Errorf("list clients: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func scanClient(rows *sql.Rows) (*auth.Client, error) {
	var (
		c        auth.Client
		jwks     sql.NullString
		jwksURL  sql.NullString
		scopes   string
		disabled any
	)
	if err := rows.Scan(&c.ID, &jwks, &jwksURL, &scopes, &disabled); err != nil {
		return nil, err
	}
	if jwks.Valid {
		c.JWKS = json.RawMessage(jwks.String)
	}
	c.JWKSURL = jwksURL.String
	c.Scopes = strings.Fields(scopes)
	c.Disabled = truthy(disabled)
	return &c, nil
}

// PutClient implements auth.ClientStore: it creates the client or replaces
// every field of an existing one (keeping its creation time). The caller
// validates the client first (auth.ValidateClient).
func (s *ClientStore) PutClient(ctx context.Context, c *auth.Client) error {
	var jwks, jwksURL any
	if len(c.JWKS) > 0 {
		jwks = string(c.JWKS)
	}
	if c.JWKSURL != "" {
		jwksURL = c.JWKSURL
	}
	now := clockNow(s.Now).UnixMicro()
	_, err := s.db.write.ExecContext(ctx, `INSERT INTO auth_client (id, jwks, jwks_url, scopes, disabled, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6)
		ON CONFLICT (id) DO UPDATE SET jwks = excluded.jwks, jwks_url = excluded.jwks_url,
			scopes = excluded.scopes, disabled = excluded.disabled, updated_at = excluded.updated_at`,
		c.ID, jwks, jwksURL, strings.Join(c.Scopes, " "), s.db.boolArg(c.Disabled), now)
	if err != nil {
		return fmt.Errorf("store client %q: %w", c.ID, err)
	}
	return nil
}

// DeleteClient removes a client; its tokens already issued stay valid
// until they expire (at most auth.DefaultAccessTokenTTL) unless the server
// checks registration on every request (smart mode does).
func (s *ClientStore) DeleteClient(ctx context.Context, id string) error {
	res, err := s.db.write.ExecContext(ctx, `DELETE FROM auth_client WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete client %q: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("client %q: %w", id, auth.ErrClientNotFound)
	}
	return nil
}

// boolArg is a boolean bind argument for a column of the dialect's boolean
// type (boolean in PostgreSQL, integer in SQLite).
func (db *DB) boolArg(b bool) any {
	if db.dialect.name() == search.SQLite {
		if b {
			return 1
		}
		return 0
	}
	return b
}

// ReplayCache implements auth.ReplayCache over the auth_jti table.
type ReplayCache struct {
	db *DB
	// Now is the clock; nil is the wall clock.
	Now func() time.Time
	// PurgeEvery is how often expired rows are deleted; default a minute.
	PurgeEvery time.Duration

	lastPurge atomic.Int64 // unix microseconds
}

// Replay returns the replay cache of db.
func (db *DB) Replay() *ReplayCache { return &ReplayCache{db: db} }

var _ auth.ReplayCache = (*ReplayCache)(nil)

// Seen implements auth.ReplayCache. One statement decides, so two replicas
// racing with the same assertion cannot both win: it inserts (client, jti)
// unless a row is there whose expiry has not passed. A row left over from
// an expired assertion is taken over, as if it had been purged.
func (c *ReplayCache) Seen(ctx context.Context, clientID, jti string, exp time.Time) (bool, error) {
	now := clockNow(c.Now)
	if err := c.purge(ctx, now); err != nil {
		return false, err
	}
	res, err := c.db.write.ExecContext(ctx, `INSERT INTO auth_jti (client_id, jti, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = excluded.expires_at
		WHERE auth_jti.expires_at < $4`,
		clientID, jti, exp.UnixMicro(), now.UnixMicro())
	if err != nil {
		return false, fmt.Errorf("record assertion id: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("record assertion id: %w", err)
	}
	return n == 0, nil
}

// purge deletes expired ids at most once per PurgeEvery per process; the
// table then holds only the assertions of the last few minutes.
func (c *ReplayCache) purge(ctx context.Context, now time.Time) error {
	every := c.PurgeEvery
	if every <= 0 {
		every = time.Minute
	}
	last := c.lastPurge.Load()
	if now.UnixMicro()-last < every.Microseconds() || !c.lastPurge.CompareAndSwap(last, now.UnixMicro()) {
		return nil
	}
	if _, err := c.db.write.ExecContext(ctx, `DELETE FROM auth_jti WHERE expires_at < $1`, now.UnixMicro()); err != nil {
		return fmt.Errorf("purge expired assertion ids: %w", err)
	}
	return nil
}

// Count returns how many assertion ids are remembered (for tests and
// metrics).
func (c *ReplayCache) Count(ctx context.Context) (int64, error) {
	var n int64
	if err := c.db.read.QueryRowContext(ctx, `SELECT count(*) FROM auth_jti`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count assertion ids: %w", err)
	}
	return n, nil
}

func clockNow(now func() time.Time) time.Time {
	if now != nil {
		return now()
	}
	return time.Now()
}
