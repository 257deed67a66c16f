package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/immunis/immunis/internal/testdb"
)

// The black-box tests build the real binary once and start it as a
// separate process per test server, on port 0, against a fresh embedded
// database or a fresh PostgreSQL database.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "immunis-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "immunis")
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "../cmd/immunis")...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Server is a running immunis process.
type Server struct {
	Base   string // FHIR base URL
	Root   string // http://host:port
	cmd    *exec.Cmd
	logs   *bytes.Buffer
	logsMu *sync.Mutex
	t      testing.TB
}

// store kinds the suite runs against.
var stores = []string{"sqlite", "postgres"}

var listenRE = regexp.MustCompile(`immunis listening on (http://\S+) \(FHIR base (\S+)\)`)

// Start boots the binary on a fresh store of the given kind with extra
// args/env.
func Start(t testing.TB, storeKind string, args []string, env ...string) *Server {
	t.Helper()
	var db []string
	switch storeKind {
	case "sqlite":
		db = []string{"--data-dir", t.TempDir()}
	case "postgres":
		db = []string{"--database-url", testdb.New(t), "--data-dir", t.TempDir()}
	default:
		t.Fatalf("unknown store %q", storeKind)
	}
	return StartWith(t, append(db, args...), env...)
}

// StartWith boots the binary with exactly these serve flags (which must
// name the store).
func StartWith(t testing.TB, args []string, env ...string) *Server {
	t.Helper()
	bin := binary(t)
	all := append([]string{"serve", "--addr", "127.0.0.1:0", "--log-level", "warn"}, args...)
	cmd := exec.Command(bin, all...)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{cmd: cmd, logs: &bytes.Buffer{}, logsMu: &sync.Mutex{}, t: t}
	cmd.Stderr = lockedWriter{s.logs, s.logsMu}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	ready := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				ready <- [2]string{m[1], m[2]}
			}
		}
		close(ready)
	}()
	select {
	case m, ok := <-ready:
		if !ok {
			t.Fatalf("server exited before listening; logs:\n%s", s.Logs())
		}
		s.Root, s.Base = m[0], m[1]
	case <-time.After(60 * time.Second):
		t.Fatalf("server did not start in 60s; logs:\n%s", s.Logs())
	}
	return s
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Logs returns what the server wrote to stderr.
func (s *Server) Logs() string {
	s.logsMu.Lock()
	defer s.logsMu.Unlock()
	return s.logs.String()
}

// Stop ends the process (SIGTERM, then kill).
func (s *Server) Stop() {
	if s.cmd.Process == nil || s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// Response is a decoded HTTP answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body.
func (r *Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not JSON (%d): %v\n%s", r.Status, err, r.Body)
	}
	return m
}

var client = &http.Client{Timeout: 60 * time.Second}

// Do sends a request to a path under the FHIR base (or an absolute URL).
func (s *Server) Do(t testing.TB, method, path string, body any, headers ...string) *Response {
	t.Helper()
	var rd io.Reader
	var ct string
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
		ct = "application/fhir+json"
	case []byte:
		rd = bytes.NewReader(b)
		ct = "application/fhir+json"
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
		ct = "application/fhir+json"
	}
	u := path
	if !strings.HasPrefix(path, "http") {
		u = s.Base + "/" + strings.TrimPrefix(path, "/")
	}
	req, err := http.NewRequestWithContext(context.Background(), method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// Expect fails the test unless the status is want.
func (r *Response) Expect(t testing.TB, want int) *Response {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status %d, want %d; body:\n%s", r.Status, want, r.Body)
	}
	return r
}

// forEachStore runs f against a fresh server on every store.
func forEachStore(t *testing.T, f func(t *testing.T, s *Server)) {
	for _, kind := range stores {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			f(t, Start(t, kind, nil))
		})
	}
}
