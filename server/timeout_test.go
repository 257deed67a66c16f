package server

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

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

// A body that trickles in slower than the timeout is cut off: the
// handler's read fails instead of waiting for ever.
func TestWithTimeoutBoundsBodyRead(t *testing.T) {
	readErr := make(chan error, 1)
	srv := httptest.NewServer(WithTimeout(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr <- err
		w.WriteHeader(http.StatusBadRequest)
	}), 200*time.Millisecond))
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Headers promise 100 bytes; only 5 come.
	fmt.Fprintf(conn, "POST /fhir/Patient HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nhello")
	select {
	case err := <-readErr:
		if err == nil {
			t.Fatal("the body read succeeded with 95 bytes missing")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the body read was not cut off by the request timeout")
	}
}
