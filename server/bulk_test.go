package server

import (
	"testing"
)

func TestAcceptsGzip(t *testing.T) {
	for _, tc := range []struct {
		h    string
		want bool
	}{
		{"gzip", true},
		{"gzip, deflate, br", true},
		{"br;q=1.0, GZIP;q=0.5", true},
		{"gzip;q=0", false},
		{"deflate", false},
		{"", false},
		{"x-gzip", false},
	} {
		if got := acceptsGzip(tc.h); got != tc.want {
			t.Errorf("acceptsGzip(%q) = %v", tc.h, got)
		}
	}
}
