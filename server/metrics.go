package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// httpMetrics are the Prometheus series of the HTTP layer. Labels stay
// bounded: the route pattern (not the URL), the resource type only when the
// server supports it, the status code.
type httpMetrics struct {
	duration *prometheus.HistogramVec
	inflight prometheus.Gauge
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "immunis_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern, resource type, method and status.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10, 60},
		}, []string{"route", "type", "method", "status"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "immunis_http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
	}
	reg.MustRegister(m.duration, m.inflight)
	return m
}

// metrics records every request.
func (s *Server) metrics(c *gin.Context) {
	if s.httpMetrics == nil {
		c.Next()
		return
	}
	start := time.Now()
	s.httpMetrics.inflight.Inc()
	c.Next()
	s.httpMetrics.inflight.Dec()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	typ := c.Param("type")
	if typ != "" && !s.Service.Registry.Supports(typ) {
		typ = "other"
	}
	s.httpMetrics.duration.WithLabelValues(route, typ, c.Request.Method, strconv.Itoa(c.Writer.Status())).
		Observe(time.Since(start).Seconds())
}

// metricsHandler serves /metrics from the registry.
func (s *Server) metricsHandler() gin.HandlerFunc {
	if s.Metrics == nil {
		return func(c *gin.Context) { c.Status(http.StatusNotFound) }
	}
	h := promhttp.HandlerFor(s.Metrics, promhttp.HandlerOpts{})
	return gin.WrapH(h)
}
