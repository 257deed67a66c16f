package e2e

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// A Bulk Data client we did not write: fhir-kit-client from the npm
// registry (testdata/bulk-npm) gets a Backend Services token from the
// server's own token endpoint, kicks exports off, polls and downloads
// every file, against the real server on PostgreSQL. Without node and npm
// (or the registry) the test skips, except in CI, where it must run.
func TestBulkNpmClient(t *testing.T) {
	dir := npmClient(t)
	s, dataDir := startAuth(t, "postgres", []string{"--auth", "dev", "--bulk-file-resources", "50"})
	admin := newDevSigner(t, s, dataDir).Token(t, "system/*.*", "")
	pids, iids := seedBulk(t, s, 40, 3, bearer(admin)...)

	c := newBackendClient(t, "npm-bulk", "RS384")
	if out, stderr, code := cli(t, []string{"client", "add", "--id", c.ID, "--jwks-file", c.jwksFile(t),
		"--scope", "system/Patient.rs system/Immunization.rs", "--data-dir", dataDir, "--database-url", serverDatabaseURL(t, s)}); code != 0 {
		t.Fatalf("client add: %d %s %s", code, out, stderr)
	}
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", filepath.Join(dir, "export.mjs"))
	cmd.Env = append(os.Environ(), "FHIR_BASE="+s.Base, "CLIENT_ID="+c.ID, "KEY_ID="+c.KID,
		"KEY_PEM="+string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"SCOPE=system/Patient.rs system/Immunization.rs")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node export.mjs: %v\n%s\nserver:\n%s", err, stderr.String(), s.Logs())
	}
	var summary map[string]struct {
		TransactionTime     string              `json:"transactionTime"`
		RequiresAccessToken bool                `json:"requiresAccessToken"`
		Files               int                 `json:"files"`
		IDs                 map[string][]string `json:"ids"`
	}
	if err := json.Unmarshal(out, &summary); err != nil {
		t.Fatalf("client output %q: %v", out, err)
	}
	want := map[string]map[string][]string{
		"patientGET": {"Patient": pids, "Immunization": iids},
		"systemPOST": {"Immunization": iids},
	}
	for run, types := range want {
		got := summary[run]
		if !got.RequiresAccessToken || got.Files < 3 {
			t.Errorf("%s: %+v", run, got)
		}
		if _, err := time.Parse(time.RFC3339Nano, got.TransactionTime); err != nil {
			t.Errorf("%s: transactionTime %q", run, got.TransactionTime)
		}
		for typ, ids := range types {
			if g := sortedCopy(got.IDs[typ]); !slices.Equal(g, sortedCopy(ids)) {
				t.Errorf("%s %s: the client got %d, %d stored", run, typ, len(g), len(ids))
			}
		}
		if len(got.IDs) != len(types) {
			t.Errorf("%s: types %v", run, got.IDs)
		}
	}
}

// npmClient installs testdata/bulk-npm (package-lock pinned) once into a
// cache directory and returns it with the script beside node_modules.
func npmClient(t *testing.T) string {
	t.Helper()
	ci := os.Getenv("CI") == "true"
	unavailable := func(format string, args ...any) {
		t.Helper()
		if ci {
			t.Fatalf(format, args...)
		}
		t.Skipf(format+" (set CI=true to make this fatal)", args...)
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			unavailable("%s is not installed", tool)
		}
	}
	src := filepath.Join("testdata", "bulk-npm")
	lock, err := os.ReadFile(filepath.Join(src, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	sum := sha256.Sum256(lock)
	dir := filepath.Join(cache, "immunis-e2e", "bulk-npm-"+hex.EncodeToString(sum[:8]))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "fhir-kit-client", "package.json")); err != nil {
		tmp, err := os.MkdirTemp(filepath.Dir(dir), "install-")
		if err != nil {
			if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
				t.Fatal(err)
			}
			if tmp, err = os.MkdirTemp(filepath.Dir(dir), "install-"); err != nil {
				t.Fatal(err)
			}
		}
		defer os.RemoveAll(tmp)
		for _, f := range []string{"package.json", "package-lock.json"} {
			copyFile(t, filepath.Join(src, f), filepath.Join(tmp, f))
		}
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = tmp
		if out, err := cmd.CombinedOutput(); err != nil {
			unavailable("npm ci fhir-kit-client: %v\n%s", err, out)
		}
		// Another test process may have won the race: theirs is as good.
		if err := os.Rename(tmp, dir); err != nil {
			if _, serr := os.Stat(filepath.Join(dir, "node_modules")); serr != nil {
				t.Fatal(err)
			}
		}
	}
	copyFile(t, filepath.Join(src, "export.mjs"), filepath.Join(dir, "export.mjs"))
	return dir
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
