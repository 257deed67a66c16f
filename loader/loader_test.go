package loader

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// failingSink accepts every item and fails every write.
type failingSink struct{}

func (failingSink) Prepare(*Parsed) error { return nil }
func (failingSink) Supports(string) bool  { return true }
func (failingSink) Write(context.Context, []*Parsed) ([]Result, error) {
	return nil, errors.New("database gone")
}

// A load that stops on an error still says how long it ran.
func TestInterruptedLoadHasElapsed(t *testing.T) {
	var tick atomic.Int64
	l := &Loader{Sink: failingSink{}, Now: func() time.Time { return time.Unix(tick.Add(1), 0) }}
	sum, err := l.RunSource(context.Background(), 0, func(_ context.Context, _ *atomic.Int64, emit func(Item) error) error {
		return emit(Item{Source: "x", Body: []byte(`{"resourceType":"Patient","id":"p1"}`)})
	})
	if err == nil || !strings.Contains(err.Error(), "database gone") {
		t.Fatalf("error %v, want the sink's", err)
	}
	if sum.Elapsed <= 0 {
		t.Errorf("elapsed %v, want the time the load ran", sum.Elapsed)
	}
}
