package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Limits for fetching a client's registered JWKS URL.
const (
	jwksCacheTTL    = 5 * time.Minute  // keys are reused this long
	jwksMinRefresh  = 30 * time.Second // an unknown kid refetches at most this often
	maxJWKSBodySize = 1 << 20
)

// jwksCache fetches and caches clients' key sets. It only ever fetches URLs
// that a client registered; redirects are not followed.
type jwksCache struct {
	client *http.Client
	now    func() time.Time

	mu      sync.Mutex
	entries map[string]jwksEntry
}

type jwksEntry struct {
	set     jose.JSONWebKeySet
	fetched time.Time
}

func newJWKSCache(client *http.Client, clock func() time.Time) *jwksCache {
	if client == nil {
		client = &http.Client{
			Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	}
	return &jwksCache{client: client, now: clock, entries: map[string]jwksEntry{}}
}

// key returns the key with id kid from the set at url. A cached set older
// than jwksCacheTTL, or one without kid and older than jwksMinRefresh, is
// fetched again.
func (c *jwksCache) key(ctx context.Context, url, kid string) (jose.JSONWebKey, error) {
	t := now(c.now)
	c.mu.Lock()
	e, ok := c.entries[url]
	c.mu.Unlock()
	if ok && t.Sub(e.fetched) < jwksCacheTTL {
		if k, found := findKey(e.set, kid); found {
			return k, nil
		}
		if t.Sub(e.fetched) < jwksMinRefresh {
			return jose.JSONWebKey{}, fmt.Errorf("no key %q in JWKS %s", clip(kid), url)
		}
	}
	set, err := c.fetch(ctx, url)
	if err != nil {
		return jose.JSONWebKey{}, err
	}
	c.mu.Lock()
	c.entries[url] = jwksEntry{set: set, fetched: t}
	c.mu.Unlock()
	if k, found := findKey(set, kid); found {
		return k, nil
	}
	return jose.JSONWebKey{}, fmt.Errorf("no key %q in JWKS %s", clip(kid), url)
}

func (c *jwksCache) fetch(ctx context.Context, url string) (jose.JSONWebKeySet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("fetch JWKS %s: %w", url, err)
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	resp, err := c.client.Do(req)
	if err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("fetch JWKS %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return jose.JSONWebKeySet{}, fmt.Errorf("fetch JWKS %s: status %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBodySize+1))
	if err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("fetch JWKS %s: %w", url, err)
	}
	if len(body) > maxJWKSBodySize {
		return jose.JSONWebKeySet{}, fmt.Errorf("fetch JWKS %s: larger than %d bytes", url, maxJWKSBodySize)
	}
	set, err := parseJWKS(body)
	if err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("fetch JWKS %s: %w", url, err)
	}
	return set, nil
}

// findKey returns the public signing key with id kid.
func findKey(set jose.JSONWebKeySet, kid string) (jose.JSONWebKey, bool) {
	if kid == "" {
		return jose.JSONWebKey{}, false
	}
	for _, k := range set.Key(kid) {
		if k.IsPublic() && (k.Use == "" || k.Use == "sig") {
			return k, true
		}
	}
	return jose.JSONWebKey{}, false
}

var errNoKey = errors.New("no matching key")
