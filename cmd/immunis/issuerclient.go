package main

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"time"
)

// go-oidc fetches the issuer's JWKS again whenever a token's signature
// does not verify with the keys it has (that is how it follows key
// rotation), with no limit: every forged token would make the server call
// the issuer. The issuer client below answers a repeated GET of the same
// URL from its last good answer for jwksMinInterval, so bad tokens cost
// the issuer at most one request per interval; a real rotation is seen
// within that interval.

// jwksMinInterval is the shortest time between two fetches of one URL.
const jwksMinInterval = 10 * time.Second

// newIssuerClient is the HTTP client of the OpenID issuer verifier.
func newIssuerClient() *http.Client {
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &throttledGets{next: http.DefaultTransport, every: jwksMinInterval, now: time.Now},
	}
}

// throttledGets is an http.RoundTripper that reuses a URL's last 200
// answer to GETs within every of its fetch.
type throttledGets struct {
	next  http.RoundTripper
	every time.Duration
	now   func() time.Time

	mu    sync.Mutex
	cache map[string]*cachedAnswer
}

type cachedAnswer struct {
	at     time.Time
	header http.Header
	body   []byte
}

// maxCachedBody bounds what is kept of one answer (a JWKS is a few KB).
const maxCachedBody = 1 << 20

// RoundTrip implements http.RoundTripper.
func (t *throttledGets) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet {
		return t.next.RoundTrip(req)
	}
	key := req.URL.String()
	t.mu.Lock()
	if c, ok := t.cache[key]; ok && t.now().Sub(c.at) < t.every {
		t.mu.Unlock()
		return c.response(req), nil
	}
	t.mu.Unlock()
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCachedBody+1))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if len(body) <= maxCachedBody {
		t.mu.Lock()
		if t.cache == nil {
			t.cache = map[string]*cachedAnswer{}
		}
		t.cache[key] = &cachedAnswer{at: t.now(), header: resp.Header.Clone(), body: body}
		t.mu.Unlock()
	}
	return resp, nil
}

func (c *cachedAnswer) response(req *http.Request) *http.Response {
	return &http.Response{
		Status:        "200 OK",
		StatusCode:    http.StatusOK,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        c.header.Clone(),
		Body:          io.NopCloser(bytes.NewReader(c.body)),
		ContentLength: int64(len(c.body)),
		Request:       req,
	}
}
