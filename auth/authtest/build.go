// Package authtest runs a real OpenID provider, ory/hydra v2.3.0, on
// loopback for tests of the auth package and of the server in smart mode.
// Only tests may import it.
//
// The hydra binary is built once from the separate tools module in
// tools/hydra (go build -tags sqlite,sqlite_omit_load_extension) into the
// user cache directory ($XDG_CACHE_HOME or ~/.cache)/immunis/hydra-v2.3.0/,
// named after a hash of that module's go.mod and go.sum, and reused by every
// later run. IMMUNIS_HYDRA_BIN names a prebuilt binary instead. When hydra
// cannot be built, tests are skipped — except with CI=true, where they fail.
package authtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// HydraVersion is the hydra release the tools module pins.
const HydraVersion = "v2.3.0"

// buildTimeout bounds the first build (a 2-core machine takes a few
// minutes).
const buildTimeout = 20 * time.Minute

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// HydraBinary returns the path of the hydra binary, building it on first
// use. It skips tb when hydra cannot be had, or fails it under CI=true.
func HydraBinary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() { buildPath, buildErr = hydraBinary() })
	if buildErr != nil {
		unavailable(tb, "hydra %s unavailable: %v", HydraVersion, buildErr)
	}
	return buildPath
}

// unavailable skips tb, or fails it when CI=true.
func unavailable(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf(format, args...)
	}
	tb.Skipf(format+" (skipped outside CI)", args...)
}

func hydraBinary() (string, error) {
	if p := os.Getenv("IMMUNIS_HYDRA_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("IMMUNIS_HYDRA_BIN: %w", err)
		}
		return p, nil
	}
	toolsDir, err := findToolsModule()
	if err != nil {
		return "", err
	}
	sum, err := moduleHash(toolsDir)
	if err != nil {
		return "", err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("cache directory: %w", err)
	}
	dir := filepath.Join(cache, "immunis", "hydra-"+HydraVersion)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("cache directory: %w", err)
	}
	bin := filepath.Join(dir, "hydra-"+sum)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	// Test binaries of several packages may get here at once: one builds,
	// the others wait for the lock and find the binary.
	unlock, err := lockFile(filepath.Join(dir, "build.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	return bin, build(toolsDir, bin)
}

func build(toolsDir, bin string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("go toolchain: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	tmp := bin + ".tmp"
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath",
		"-tags", "sqlite,sqlite_omit_load_extension",
		"-o", tmp, "github.com/ory/hydra/v2")
	cmd.Dir = toolsDir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("go build hydra in %s: %w\n%s", toolsDir, err, tail(out.Bytes(), 4000))
	}
	if err := os.Rename(tmp, bin); err != nil {
		return fmt.Errorf("install hydra binary: %w", err)
	}
	return nil
}

// findToolsModule walks up from the working directory (a package directory
// under the repository, when run by go test) to tools/hydra.
func findToolsModule() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		p := filepath.Join(dir, "tools", "hydra")
		if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("tools/hydra/go.mod not found above the working directory")
		}
		dir = parent
	}
}

// moduleHash names a build by its tools module's go.mod and go.sum.
func moduleHash(dir string) (string, error) {
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return "", fmt.Errorf("hydra tools module: %w", err)
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
