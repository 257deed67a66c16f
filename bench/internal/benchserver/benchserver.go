// Package benchserver runs the real immunis binary for the benchmark
// programs under bench/: build it (unless a binary is given), start
// `immunis serve` on a free loopback port, read its FHIR base from its
// first line, stop it, and read its memory from /proc.
package benchserver

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

// Server is a running `immunis serve`.
type Server struct {
	Base string // FHIR base URL
	cmd  *exec.Cmd
	dir  string // temporary build directory, removed by Stop
}

var listenRE = regexp.MustCompile(`immunis listening on (http://\S+) \(FHIR base (\S+)\)`)

// Start builds ./cmd/immunis when bin is empty (run from the repository
// root) and starts it with `serve --addr 127.0.0.1:0` plus args.
func Start(ctx context.Context, bin string, args ...string) (*Server, error) {
	s := &Server{}
	if bin == "" {
		dir, err := os.MkdirTemp("", "immunis-bench")
		if err != nil {
			return nil, err
		}
		s.dir = dir
		if bin, err = Build(dir); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	s.cmd = exec.CommandContext(ctx, bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
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
	case s.Base = <-ready:
	case <-time.After(60 * time.Second):
		s.Stop()
		return nil, fmt.Errorf("server did not start")
	}
	return s, nil
}

// Build builds ./cmd/immunis into dir (run from the repository root) and
// returns the binary's path.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "immunis")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/immunis").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/immunis (run from the repository root): %v\n%s", err, out)
	}
	return bin, nil
}

// CPUTime is the server's user+system CPU time so far (Linux /proc).
func (s *Server) CPUTime() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// Pid is the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Stop interrupts the server (killing it after 10 s) and removes its build.
func (s *Server) Stop() {
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

// Memory reads the server's current and peak resident set size in bytes
// (VmRSS, VmHWM of /proc/<pid>/status).
func (s *Server) Memory() (rss, peak int64, err error) {
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
