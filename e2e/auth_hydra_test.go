package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/immunis/immunis/auth/authtest"
)

// hydraTokens gets access tokens from a real OpenID provider (ory/hydra on
// loopback) as SMART apps do: client_credentials for tokens without a
// patient, and the authorization code flow with PKCE — login and consent
// accepted through hydra's admin API, the consent session carrying the
// patient launch context — for tokens with one.
type hydraTokens struct {
	h   *authtest.Hydra
	aud string

	mu      sync.Mutex
	clients map[string]*authtest.Client // client_credentials, by scope

	// flows lets one token be got at a time. hydra keeps its data in an
	// in-memory SQLite database, and writes from concurrent flows (parallel
	// subtests share one hydra) fail with "Unable to serialize access due
	// to a concurrent update in another session", again on retry while the
	// other flow goes on (ory/hydra#3648: an SQLite limitation, not fixed).
	flows sync.Mutex
}

// hydraHTTP follows no redirects: the flow reads each Location itself.
var hydraHTTP = &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
	return http.ErrUseLastResponse
}}

// Token implements tokenSource.
func (ht *hydraTokens) Token(t *testing.T, scope, patient string) string {
	t.Helper()
	return ht.TokenFor(t, scope, patient, ht.aud)
}

// TokenFor is Token with another audience (the wrong-audience attack).
func (ht *hydraTokens) TokenFor(t *testing.T, scope, patient, aud string) string {
	t.Helper()
	get := func() (string, error) {
		if patient == "" {
			return ht.h.Token(context.Background(), ht.client(t, scope), strings.Fields(scope), aud)
		}
		return ht.codeFlow(scope, patient, aud)
	}
	// A token takes a handful of requests to hydra; on a loaded machine
	// one may fail, so it is asked again (the server under test is not
	// involved).
	ht.flows.Lock()
	defer ht.flows.Unlock()
	var errs []string
	for attempt := 1; attempt <= 3; attempt++ {
		tok, err := get()
		if err == nil {
			return tok
		}
		t.Logf("hydra token for %q, patient %q, attempt %d: %v", scope, patient, attempt, err)
		errs = append(errs, err.Error())
		time.Sleep(time.Duration(attempt) * 200 * time.Millisecond)
	}
	t.Fatalf("hydra token for %q, patient %q: %s\nhydra log:\n%s", scope, patient, strings.Join(errs, "; "), tail(ht.h.Logs()))
	return ""
}

func (ht *hydraTokens) client(t *testing.T, scope string) *authtest.Client {
	ht.mu.Lock()
	defer ht.mu.Unlock()
	if c, ok := ht.clients[scope]; ok {
		return c
	}
	c := ht.h.CreateClient(t, authtest.ClientOptions{Alg: "ES384", Scopes: strings.Fields(scope), Audience: []string{ht.aud, wrongAudience}})
	if ht.clients == nil {
		ht.clients = map[string]*authtest.Client{}
	}
	ht.clients[scope] = c
	return c
}

// wrongAudience is an audience hydra clients may ask for that the server
// must refuse.
const wrongAudience = "https://elsewhere.example/fhir"

const redirectURI = "http://127.0.0.1:9/callback"

// codeFlow runs the authorization code flow of a public client (PKCE S256)
// for scope, accepting login and consent with the patient in the session.
func (ht *hydraTokens) codeFlow(scope, patient, aud string) (string, error) {
	ctx := context.Background()
	var created struct {
		ClientID string `json:"client_id"`
	}
	err := ht.adminJSON(ctx, http.MethodPost, "/admin/clients", map[string]any{
		"client_name":                "immunis-e2e-app",
		"grant_types":                []string{"authorization_code"},
		"response_types":             []string{"code"},
		"redirect_uris":              []string{redirectURI},
		"token_endpoint_auth_method": "none",
		"scope":                      scope,
		"audience":                   []string{ht.aud, wrongAudience},
		"access_token_strategy":      "jwt",
	}, &created)
	if err != nil {
		return "", err
	}
	verifier := randomHex(32)
	sum := sha256.Sum256([]byte(verifier))
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Timeout: 30 * time.Second, Jar: jar, CheckRedirect: hydraHTTP.CheckRedirect}
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {created.ClientID},
		"redirect_uri":          {redirectURI},
		"scope":                 {scope},
		"state":                 {randomHex(8)},
		"audience":              {aud},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}
	loc, err := redirect(browser, ht.h.PublicURL+"/oauth2/auth?"+q.Encode())
	if err != nil {
		return "", err
	}
	var accepted struct {
		RedirectTo string `json:"redirect_to"`
	}
	if err := ht.adminJSON(ctx, http.MethodPut, "/admin/oauth2/auth/requests/login/accept?login_challenge="+url.QueryEscape(loc.Query().Get("login_challenge")),
		map[string]any{"subject": "parent-of-" + patient}, &accepted); err != nil {
		return "", err
	}
	if loc, err = redirect(browser, accepted.RedirectTo); err != nil {
		return "", err
	}
	if err := ht.adminJSON(ctx, http.MethodPut, "/admin/oauth2/auth/requests/consent/accept?consent_challenge="+url.QueryEscape(loc.Query().Get("consent_challenge")),
		map[string]any{
			"grant_scope":                 strings.Fields(scope),
			"grant_access_token_audience": []string{aud},
			"session":                     map[string]any{"access_token": map[string]any{"patient": patient}},
		}, &accepted); err != nil {
		return "", err
	}
	if loc, err = redirect(browser, accepted.RedirectTo); err != nil {
		return "", err
	}
	code := loc.Query().Get("code")
	if code == "" {
		return "", fmt.Errorf("no code in %s", loc)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI},
		"client_id": {created.ClientID}, "code_verifier": {verifier}}
	resp, err := hydraHTTP.PostForm(ht.h.TokenURL, form)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &tr) != nil || tr.AccessToken == "" {
		return "", fmt.Errorf("token: %s: %s", resp.Status, b)
	}
	return tr.AccessToken, nil
}

// redirect GETs u and returns the Location it redirects to.
func redirect(c *http.Client, u string) (*url.URL, error) {
	resp, err := c.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 3 {
		return nil, fmt.Errorf("GET %s: %s, want a redirect: %s", u, resp.Status, b)
	}
	loc, err := resp.Location()
	if err != nil {
		return nil, err
	}
	if e := loc.Query().Get("error"); e != "" {
		return nil, fmt.Errorf("GET %s: redirected with error %s: %s", u, e, loc.Query().Get("error_description"))
	}
	return loc, nil
}

func (ht *hydraTokens) adminJSON(ctx context.Context, method, path string, body, out any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, ht.h.AdminURL+path, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hydraHTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	return json.Unmarshal(b, out)
}

func tail(s string) string {
	if len(s) > 3000 {
		return s[len(s)-3000:]
	}
	return s
}
