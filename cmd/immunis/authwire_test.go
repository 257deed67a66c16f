package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/immunis/immunis/auth"
)

// TestThrottledGets: repeated GETs of one URL within the interval are
// answered from the last good answer, so forged tokens cannot make the
// server hammer the issuer's JWKS; other URLs, later GETs and failures go
// through.
func TestThrottledGets(t *testing.T) {
	var hits atomic.Int32
	fail := atomic.Bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if fail.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{"keys":[],"path":"` + r.URL.Path + `"}`))
	}))
	defer srv.Close()
	now := time.Unix(1000, 0)
	tr := &throttledGets{next: http.DefaultTransport, every: 10 * time.Second, now: func() time.Time { return now }}
	c := &http.Client{Transport: tr}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	steps := []struct {
		name     string
		advance  time.Duration
		path     string
		fail     bool
		wantHits int32
		wantCode int
	}{
		{"first fetch", 0, "/jwks", false, 1, 200},
		{"again at once: cached", time.Second, "/jwks", false, 1, 200},
		{"many more: cached", time.Second, "/jwks", false, 1, 200},
		{"another URL", 0, "/other", false, 2, 200},
		{"after the interval", 10 * time.Second, "/jwks", false, 3, 200},
		{"a failure is not cached", 11 * time.Second, "/jwks", true, 4, 503},
		{"recovered: fetched again", 0, "/jwks", false, 5, 200},
		{"and cached again", time.Second, "/jwks", true, 5, 200},
	}
	for _, s := range steps {
		now = now.Add(s.advance)
		fail.Store(s.fail)
		code, body := get(s.path)
		if code != s.wantCode || hits.Load() != s.wantHits {
			t.Errorf("%s: status %d, %d fetches, want %d and %d", s.name, code, hits.Load(), s.wantCode, s.wantHits)
		}
		if code == 200 && !json.Valid([]byte(body)) {
			t.Errorf("%s: body %q", s.name, body)
		}
	}
}

// TestRegisteredClients: local tokens count only for registered, enabled
// clients (and dev mode's own client).
func TestRegisteredClients(t *testing.T) {
	ctx := context.Background()
	li, err := auth.OpenLocalIssuer(auth.LocalIssuerConfig{Dir: t.TempDir(), Issuer: "http://127.0.0.1:1", Audience: "http://127.0.0.1:1/fhir"})
	if err != nil {
		t.Fatal(err)
	}
	clients := &auth.MemoryClientStore{}
	_ = clients.PutClient(ctx, &auth.Client{ID: "bulk", Scopes: []string{"system/*.rs"}})
	_ = clients.PutClient(ctx, &auth.Client{ID: "off", Scopes: []string{"system/*.rs"}, Disabled: true})
	mint := func(client string) string {
		tok, err := li.Mint(auth.MintOptions{Scope: "system/*.rs", ClientID: client})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	cases := []struct {
		client, exempt string
		ok             bool
	}{
		{"bulk", "", true},
		{"off", "", false},
		{"stranger", "", false},
		{devClientID, "", false}, // smart mode: dev tokens refused
		{devClientID, devClientID, true},
		{"stranger", devClientID, false},
	}
	for _, c := range cases {
		v := registeredClients{LocalIssuer: li, clients: clients, exempt: c.exempt}
		_, err := v.Verify(ctx, mint(c.client))
		if (err == nil) != c.ok {
			t.Errorf("client %s (exempt %q): err %v, want ok=%v", c.client, c.exempt, err, c.ok)
		}
		if err != nil {
			if _, isTok := auth.AsTokenError(err); !isTok {
				t.Errorf("client %s: %T is not a TokenError", c.client, err)
			}
		}
	}
}

func TestAuthRoot(t *testing.T) {
	for base, want := range map[string]string{
		"http://127.0.0.1:8080/fhir":         "http://127.0.0.1:8080",
		"https://iis.example/prefix/fhir/":   "https://iis.example/prefix",
		"https://iis.example/api":            "",
		"https://iis.example/fhir/Patient/1": "",
	} {
		got, err := authRoot(base)
		if got != want || (err != nil) != (want == "") {
			t.Errorf("authRoot(%q) = %q, %v; want %q", base, got, err, want)
		}
	}
}
