package synthcli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/immunis/immunis/synth"
)

func run(t *testing.T, c Command, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := c.Run(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"unknown flag", []string{"--nope"}, "flag provided but not defined"},
		{"bad date", []string{"--as-of", "2026-02-30"}, "not a calendar date"},
		{"bad seed", []string{"--seed", "-1"}, "invalid value"},
		{"bad zip", []string{"--zip", "5510x"}, "zip"},
		{"negative patients", []string{"--patients", "-3"}, "negative"},
		{"stray argument", []string{"extra"}, "unexpected argument"},
		{"load without loader", []string{"--load"}, "no loader"},
		{"load with out", []string{"--load", "--out", "x"}, "exclusive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, Command{}, tt.args...)
			if code != 2 || !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tt.wantErr)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	code, _, stderr := run(t, Command{}, "--help")
	if code != 0 || !strings.Contains(stderr, "usage: immunis synth") || !strings.Contains(stderr, "-load") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestWritesFiles(t *testing.T) {
	tests := []struct {
		name  string
		extra []string
		files []string
	}{
		{"plain", nil, []string{"Organization.ndjson", "Practitioner.ndjson", "Patient.ndjson", "Immunization.ndjson", "truth.ndjson"}},
		{"gzip", []string{"--gzip"}, []string{"Organization.ndjson.gz", "Patient.ndjson.gz", "Immunization.ndjson.gz", "truth.ndjson.gz"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			args := append([]string{"--patients", "150", "--seed", "42", "--zip", "55401,97201", "--out", dir}, tt.extra...)
			tick := time.Unix(0, 0)
			c := Command{Now: func() time.Time { tick = tick.Add(time.Second); return tick }}
			code, stdout, stderr := run(t, c, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if !strings.Contains(stdout, "resources in 1.0s") {
				t.Errorf("report %q lacks the timing line", stdout)
			}
			for _, f := range tt.files {
				if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
					t.Errorf("%s: %v", f, err)
				}
			}
			var m synth.Manifest
			b, err := os.ReadFile(filepath.Join(dir, synth.ManifestFile))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			if m.Seed != 42 || m.Patients != 150 || len(m.ZIPs) != 2 || m.Summary.Counts["Patient"] < 150 {
				t.Errorf("manifest %+v", m)
			}
		})
	}
}

func TestSameFlagsSameBytes(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, d := range []string{a, b} {
		if code, _, stderr := run(t, Command{}, "--patients", "200", "--out", d); code != 0 {
			t.Fatal(stderr)
		}
	}
	for _, f := range []string{"Patient.ndjson", "Immunization.ndjson", "truth.ndjson", "manifest.json"} {
		x, _ := os.ReadFile(filepath.Join(a, f))
		y, _ := os.ReadFile(filepath.Join(b, f))
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between runs", f)
		}
	}
}

func TestLoadUsesLoader(t *testing.T) {
	var got int
	c := Command{Load: func(ctx context.Context, g *synth.Generator, stdout, stderr io.Writer) error {
		_, err := g.Each(ctx, func(string, []byte) error { got++; return nil })
		return err
	}}
	code, _, stderr := run(t, c, "--load", "--patients", "50")
	if code != 0 || got < 50 {
		t.Fatalf("exit %d, %d resources loaded: %s", code, got, stderr)
	}
}
