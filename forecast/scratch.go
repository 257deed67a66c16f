package forecast

// Per-call working memory. A Forecast call takes a scratch from the
// Engine's pool, carves every intermediate slice (antigen dose lists,
// series runs, target doses, evaluations) out of its slabs, and returns it
// when the Result — which never points into scratch memory — is built.
// This keeps a typical patient to a few dozen allocations.

type scratch struct {
	doses   []patientDose
	ptrs    slab[*patientDose]
	series  slab[*series]
	runs    slab[seriesRun]
	runPtrs slab[*seriesRun]
	targets slab[targetDose]
	evals   slab[doseEval]
	ints    slab[int]
	cands   slab[conflictCandidate]
	dobAdd  []Date // DOB + interned duration, by duration id (0: not computed)

	byAntigen [][]*patientDose
}

func (s *scratch) reset(nDurations int) {
	s.doses = s.doses[:0]
	s.ptrs.reset()
	s.series.reset()
	s.runs.reset()
	s.runPtrs.reset()
	s.targets.reset()
	s.evals.reset()
	s.ints.reset()
	s.cands.reset()
	if cap(s.dobAdd) < nDurations {
		s.dobAdd = make([]Date, nDurations)
	}
	s.dobAdd = s.dobAdd[:nDurations]
	clear(s.dobAdd)
}

// slab hands out zeroed sub-slices of one growing buffer. A sub-slice's
// capacity is capped at its length, so appending to it never writes into
// a neighbour; when the buffer is full a new one is started and earlier
// sub-slices keep the old one alive until the call ends.
type slab[T any] struct{ buf []T }

func (s *slab[T]) reset() { s.buf = s.buf[:0] }

func (s *slab[T]) take(n int) []T {
	if len(s.buf)+n > cap(s.buf) {
		c := 2 * cap(s.buf)
		if c < 4*n {
			c = 4 * n
		}
		if c < 256 {
			c = 256
		}
		s.buf = make([]T, 0, c)
	}
	start := len(s.buf)
	s.buf = s.buf[:start+n]
	out := s.buf[start : start+n : start+n]
	clear(out)
	return out
}

// room returns an empty slice with capacity n, for appending. It is not
// cleared: every element is written before it is read.
func (s *slab[T]) room(n int) []T {
	if len(s.buf)+n > cap(s.buf) {
		c := 2 * cap(s.buf)
		if c < 4*n {
			c = 4 * n
		}
		if c < 256 {
			c = 256
		}
		s.buf = make([]T, 0, c)
	}
	start := len(s.buf)
	s.buf = s.buf[:start+n]
	return s.buf[start : start : start+n]
}

// one returns a pointer to a fresh zero element.
func (s *slab[T]) one() *T { return &s.take(1)[0] }
