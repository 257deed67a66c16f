package authtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Hydra is a running hydra on loopback: memory database, JWT access
// tokens, exact scope matching.
type Hydra struct {
	// Issuer is the issuer URL as hydra's discovery document states it.
	Issuer string
	// PublicURL and AdminURL are hydra's two listeners.
	PublicURL string
	AdminURL  string
	// TokenURL is hydra's token endpoint: the aud of client assertions.
	TokenURL string
	// JWKSURL publishes hydra's signing keys.
	JWKSURL string

	cmd  *exec.Cmd
	logs *syncBuffer
	http *http.Client
}

// startTimeout bounds hydra's start (migrations on the memory database).
const startTimeout = 60 * time.Second

// StartHydra builds hydra if needed, starts it on free loopback ports and
// stops it when tb ends. Start it once per test binary where possible.
func StartHydra(tb testing.TB) *Hydra {
	tb.Helper()
	bin := HydraBinary(tb)
	var lastErr error
	for range 3 { // a free port may be taken between probe and listen
		h, err := startHydra(bin, tb.TempDir())
		if err == nil {
			tb.Cleanup(h.stop)
			return h
		}
		lastErr = err
	}
	unavailable(tb, "start hydra: %v", lastErr)
	return nil
}

func startHydra(bin, dir string) (*Hydra, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	public := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	admin := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	secret := make([]byte, 24)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("hydra secret: %w", err)
	}
	cfg := fmt.Sprintf(`dsn: memory
serve:
  public: {host: 127.0.0.1, port: %d}
  admin: {host: 127.0.0.1, port: %d}
urls:
  self:
    issuer: %s
strategies:
  access_token: jwt
  scope: exact
secrets:
  system: [%q]
ttl:
  access_token: 1h
oauth2:
  # SMART launch context: consent sessions may put these claims at the
  # top level of access tokens, where resource servers read them.
  allowed_top_level_claims: [patient, fhirUser]
log:
  level: warn
`, ports[0], ports[1], public, hex.EncodeToString(secret))
	cfgPath := filepath.Join(dir, "hydra.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, fmt.Errorf("hydra config: %w", err)
	}
	h := &Hydra{PublicURL: public, AdminURL: admin, logs: &syncBuffer{}, http: &http.Client{Timeout: 30 * time.Second}}
	h.cmd = exec.Command(bin, "serve", "all", "--dev", "--sqa-opt-out", "-c", cfgPath)
	// A clean environment: hydra reads configuration from variables such
	// as DSN or SECRETS_SYSTEM.
	h.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TMPDIR=" + dir}
	h.cmd.Stdout, h.cmd.Stderr = h.logs, h.logs
	if err := h.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start hydra: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- h.cmd.Wait() }()
	if err := h.waitReady(exited); err != nil {
		h.stop()
		return nil, fmt.Errorf("%w\nhydra log:\n%s", err, tail(h.logs.Bytes(), 4000))
	}
	return h, nil
}

func (h *Hydra) waitReady(exited <-chan error) error {
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("hydra exited: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := h.http.Get(h.AdminURL + "/health/ready")
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return h.discover()
		}
	}
	return errors.New("hydra not ready after " + startTimeout.String())
}

func (h *Hydra) discover() error {
	var doc struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
		JWKSURI       string `json:"jwks_uri"`
	}
	if err := h.getJSON(h.PublicURL+"/.well-known/openid-configuration", &doc); err != nil {
		return err
	}
	h.Issuer, h.TokenURL, h.JWKSURL = doc.Issuer, doc.TokenEndpoint, doc.JWKSURI
	return nil
}

func (h *Hydra) stop() {
	if h.cmd.Process != nil {
		_ = h.cmd.Process.Kill()
	}
}

// Logs returns what hydra printed so far.
func (h *Hydra) Logs() string { return string(h.logs.Bytes()) }

// JWKS returns hydra's published key set, raw.
func (h *Hydra) JWKS(ctx context.Context) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.JWKSURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := h.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("hydra JWKS: %w", err)
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// RotateAccessTokenKey adds a new RS256 key to the key set hydra signs JWT
// access tokens with; hydra signs new tokens with it.
func (h *Hydra) RotateAccessTokenKey(ctx context.Context) error {
	body := `{"alg":"RS256","use":"sig","kid":"rotated-` + strconv.FormatInt(time.Now().UnixNano(), 36) + `"}`
	return h.doJSON(ctx, http.MethodPost, h.AdminURL+"/admin/keys/hydra.jwt.access-token", []byte(body), http.StatusCreated, nil)
}

func (h *Hydra) getJSON(url string, v any) error {
	return h.doJSON(context.Background(), http.MethodGet, url, nil, http.StatusOK, v)
}

func (h *Hydra) doJSON(ctx context.Context, method, url string, body []byte, want int, v any) error {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			return fmt.Errorf("%s %s: decode: %w", method, url, err)
		}
	}
	return nil
}

// freePorts finds n free loopback TCP ports.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// syncBuffer is a bytes.Buffer safe for a writing process and a reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}
