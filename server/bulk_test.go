package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
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

// WithTimeout gives requests a deadline that cuts slow work off, except
// file downloads, which may rightly take longer.
func TestWithTimeoutSparesDownloads(t *testing.T) {
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			w.WriteHeader(http.StatusServiceUnavailable)
		case <-time.After(200 * time.Millisecond):
			w.WriteHeader(http.StatusOK)
		}
	})
	h := WithTimeout(slow, 10*time.Millisecond)
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/bulk/abc/file/1", http.StatusOK},
		{"GET", "/bulk/abc", http.StatusServiceUnavailable},
		{"DELETE", "/bulk/abc/file/1", http.StatusServiceUnavailable},
		{"GET", "/fhir/Patient", http.StatusServiceUnavailable},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, rec.Code, tc.want)
		}
	}
}
