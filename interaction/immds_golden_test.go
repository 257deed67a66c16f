package interaction_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"testing"

	"github.com/immunis/immunis/interaction"
)

// BenchmarkImmDSForecast is the whole operation in process for the
// 20-dose child of bench/immds (parse, check, engine, map, serialize):
//
//	go test ./interaction -run '^$' -bench ImmDSForecast -cpuprofile /tmp/immds.prof
func BenchmarkImmDSForecast(b *testing.B) {
	pretty, err := os.ReadFile("testdata/immds/child-20-doses.json")
	if err != nil {
		b.Fatal(err)
	}
	var body bytes.Buffer
	if err := json.Compact(&body, pretty); err != nil {
		b.Fatal(err)
	}
	s := immdsService(b)
	b.SetBytes(int64(body.Len()))
	b.ReportAllocs()
	for b.Loop() {
		ans, err := s.ImmDSForecast(context.Background(), interaction.ImmDSRequest{Method: "POST", Body: body.Bytes()})
		if err != nil {
			b.Fatal(err)
		}
		ans.Release()
	}
}

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestImmDSChildGolden pins the whole answer for the benchmark child, byte
// for byte: the writers and the pre-rendered fragments they copy must
// produce exactly this. After a deliberate change, rerun with -update and
// read the diff.
func TestImmDSChildGolden(t *testing.T) {
	body, err := os.ReadFile("testdata/immds/child-20-doses.json")
	if err != nil {
		t.Fatal(err)
	}
	ans, err := immdsService(t).ImmDSForecast(context.Background(), interaction.ImmDSRequest{Method: "POST", Body: body})
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := json.Indent(&got, ans.Bytes(), "", "  "); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	ans.Release()
	const golden = "testdata/immds/child-20-doses.answer.json"
	if *updateGolden {
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("answer differs from %s (rerun with -update after a deliberate change and review the diff)", golden)
	}
}
