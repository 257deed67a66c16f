package auth

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// MemoryClientStore is a ClientStore in memory, for tests and tools.
type MemoryClientStore struct {
	mu      sync.Mutex
	clients map[string]Client
}

// GetClient implements ClientStore.
func (s *MemoryClientStore) GetClient(_ context.Context, id string) (*Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return nil, fmt.Errorf("client %q: %w", clip(id), ErrClientNotFound)
	}
	c.Scopes = slices.Clone(c.Scopes)
	c.JWKS = slices.Clone(c.JWKS)
	return &c, nil
}

// PutClient implements ClientStore.
func (s *MemoryClientStore) PutClient(_ context.Context, c *Client) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.clients == nil {
		s.clients = map[string]Client{}
	}
	cp := *c
	cp.Scopes = slices.Clone(c.Scopes)
	cp.JWKS = slices.Clone(c.JWKS)
	s.clients[c.ID] = cp
	return nil
}

// MemoryReplayCache is a ReplayCache in memory, for tests and a single
// replica. Entries are dropped once expired.
type MemoryReplayCache struct {
	// Now is the clock; nil is the wall clock.
	Now func() time.Time

	mu   sync.Mutex
	seen map[[2]string]time.Time
}

// Seen implements ReplayCache.
func (c *MemoryReplayCache) Seen(_ context.Context, clientID, jti string, exp time.Time) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := now(c.Now)
	if c.seen == nil {
		c.seen = map[[2]string]time.Time{}
	}
	for k, e := range c.seen {
		if t.After(e) {
			delete(c.seen, k)
		}
	}
	key := [2]string{clientID, jti}
	if _, ok := c.seen[key]; ok {
		return true, nil
	}
	c.seen[key] = exp
	return false, nil
}
