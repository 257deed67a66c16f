package forecast

import "fmt"

// tracer collects the reasoning trace. Every call site guards with
// "if p.tr != nil" so that a disabled trace costs one nil check and no
// formatting or allocation.
type tracer struct {
	lines []string
}

func (t *tracer) printf(format string, args ...any) {
	t.lines = append(t.lines, fmt.Sprintf(format, args...))
}
