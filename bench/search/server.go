package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// server is the immunis binary running against the benchmark database.
type server struct {
	cmd  *exec.Cmd
	base string
	dir  string
}

var listenRE = regexp.MustCompile(`immunis listening on (http://\S+) \(FHIR base (\S+)\)`)

// startServer builds (unless bin is given) and starts `immunis serve`.
func startServer(ctx context.Context, bin, dbURL string) (*server, error) {
	s := &server{}
	if bin == "" {
		dir, err := os.MkdirTemp("", "immunis-bench")
		if err != nil {
			return nil, err
		}
		s.dir = dir
		bin = filepath.Join(dir, "immunis")
		logf("building the server…")
		out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/immunis").CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("go build ./cmd/immunis (run from the repository root): %v\n%s", err, out)
		}
	}
	s.cmd = exec.CommandContext(ctx, bin, "serve", "--addr", "127.0.0.1:0", "--database-url", dbURL,
		"--log-level", "warn", "--db-max-conns", "16", "--data-dir", os.TempDir())
	s.cmd.Stderr = os.Stderr
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				ready <- m[2]
			}
		}
	}()
	select {
	case s.base = <-ready:
	case <-time.After(60 * time.Second):
		s.stop()
		return nil, fmt.Errorf("server did not start")
	}
	logf("server pid %d at %s", s.cmd.Process.Pid, s.base)
	return s, nil
}

func (s *server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
		}
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

// memory reads the server's current and peak resident set size in bytes
// (VmRSS, VmHWM of /proc/<pid>/status).
func (s *server) memory() (rss, peak int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb * 1024
		case "VmHWM:":
			peak = kb * 1024
		}
	}
	return rss, peak, nil
}
