package server

import (
	"context"
	"net/http"
	"strings"
	"time"
)

// WithTimeout gives every request a deadline d from its start: its body
// must have arrived by then, the store's queries are cancelled when it
// passes, and the request answers 503 with an OperationOutcome ("timed out
// before it completed; nothing was written").
// Export file downloads get no deadline: a file may be gigabytes that take
// longer than d to send.
//
// It is not http.TimeoutHandler, which buffers every answer whole and runs
// each request on a goroutine of its own: a forecast answer is 56 KB, the
// buffer was grown and copied on every request, and the fresh goroutine's
// stack was grown again for every one (together a fifth of the server's
// CPU in bench/immds). What TimeoutHandler adds — answering before a
// handler that ignores its context returns — leaves that handler running
// anyway, so it bought no capacity.
func WithTimeout(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, BulkPrefix+"/") && strings.Contains(r.URL.Path, "/file/") {
			h.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		// The body must arrive within d too: a client that trickles it
		// would otherwise hold the request open for ever. (net/http clears
		// the deadline for the next request on the connection.)
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}
