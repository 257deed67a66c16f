package fhir

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// referenceQuote is encoding/json's quoting with HTML escaping off, the
// behaviour AppendString promises.
func referenceQuote(t testing.TB, s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	cases := []string{
		"", "a", "plain ascii text longer than eight bytes",
		`quote " in the middle of a long string`, `back\slash`, "tab\tnew\nline\r",
		"\x00\x01\x1f", "\x7f del", "héllo wörld", "\xff\xfe invalid", "line\u2028sep\u2029",
		"exactly8", "exactly8\"", "1234567\"", "12345678\\", "ends with é",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("abcXYZ019 \"\\\t\n\x00\x1f\x7f\x80\xc3\xa9\xe2\x80\xa8{}<>&")
	for range 2000 {
		n := rng.IntN(40)
		b := make([]byte, n)
		for i := range b {
			if rng.IntN(4) == 0 {
				b[i] = alphabet[rng.IntN(len(alphabet))]
			} else {
				b[i] = byte('a' + rng.IntN(26))
			}
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		if got, want := string(AppendString(nil, s)), referenceQuote(t, s); got != want {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestPlainPrefix(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want int
	}{
		{"", 0}, {"abc", 3}, {"abcdefghij", 10}, {"abcdefgh\"ij", 8}, {"abcdefg\\hij", 7},
		{"\x00abcdefgh", 0}, {"abcdefghijklmno\x1f", 15}, {"abcdefghé", 8}, {"ab\x7fcdefgh", 9},
	} {
		if got := plainPrefix(tc.s); got != tc.want {
			t.Errorf("plainPrefix(%q) = %d, want %d", tc.s, got, tc.want)
		}
	}
}

func BenchmarkAppendString(b *testing.B) {
	s := "Routine vaccination of children: the series is not complete, dose 2 of 4"
	buf := make([]byte, 0, 256)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		buf = AppendString(buf[:0], s)
	}
}
