package synth

import (
	"testing"
)

// BenchmarkGenerate streams 10,000 people per iteration to a handler that only counts, and
// reports people/s, resources/s and MB/s of NDJSON produced.
func BenchmarkGenerate(b *testing.B) {
	const people = 10_000
	g, err := New(smallConfig(people))
	if err != nil {
		b.Fatal(err)
	}
	var resources, bytes int
	b.ResetTimer()
	for b.Loop() {
		_, err := g.Each(b.Context(), func(_ string, body []byte) error {
			resources++
			bytes += len(body) + 1
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(people*b.N)/secs, "people/s")
	b.ReportMetric(float64(resources)/secs, "resources/s")
	b.ReportMetric(float64(bytes)/secs/1e6, "MB/s")
}
