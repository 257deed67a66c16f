package synth

import "math"

// rng is a small deterministic generator (SplitMix64). Its sequence is fixed by this file,
// not by the Go release, so output stays byte-identical across toolchains.
type rng struct{ s uint64 }

// mix64 is the SplitMix64 finalizer.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// newRNG derives an independent stream from the given parts (seed, index, purpose…).
func newRNG(parts ...uint64) rng {
	s := uint64(0x6a09e667f3bcc909)
	for _, p := range parts {
		s = mix64(s ^ mix64(p+0x9e3779b97f4a7c15))
	}
	return rng{s: s}
}

// sub derives a child stream for one purpose, leaving r untouched.
func (r *rng) sub(tag uint64) rng { return newRNG(r.s, tag) }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return mix64(r.s)
}

// float returns a number in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// intn returns a number in [0, n); n must be positive.
func (r *rng) intn(n int) int {
	if n <= 1 {
		return 0
	}
	hi, _ := mulHiLo(r.next(), uint64(n))
	return int(hi)
}

// between returns a number in [lo, hi].
func (r *rng) between(lo, hi int) int {
	if hi <= lo {
		return lo
	}
	return lo + r.intn(hi-lo+1)
}

// chance reports true with probability p.
func (r *rng) chance(p float64) bool { return r.float() < p }

// triangular returns a number in [lo, hi] peaked at mode.
func (r *rng) triangular(lo, mode, hi float64) float64 {
	u := r.float()
	if hi <= lo {
		return lo
	}
	c := (mode - lo) / (hi - lo)
	if u < c {
		return lo + math.Sqrt(u*(hi-lo)*(mode-lo))
	}
	return hi - math.Sqrt((1-u)*(hi-lo)*(hi-mode))
}

func mulHiLo(a, b uint64) (hi, lo uint64) {
	const mask32 = 1<<32 - 1
	a0, a1 := a&mask32, a>>32
	b0, b1 := b&mask32, b>>32
	w0 := a0 * b0
	t := a1*b0 + w0>>32
	w1 := t & mask32
	w2 := t >> 32
	w1 += a0 * b1
	hi = a1*b1 + w2 + w1>>32
	lo = a * b
	return
}

// weighted picks indexes with probability proportional to their weights.
type weighted struct{ cum []float64 }

func newWeighted(w []float64) weighted {
	cum := make([]float64, len(w))
	t := 0.0
	for i, x := range w {
		t += x
		cum[i] = t
	}
	return weighted{cum: cum}
}

func (w weighted) pick(r *rng) int {
	if len(w.cum) == 0 {
		return -1
	}
	x := r.float() * w.cum[len(w.cum)-1]
	lo, hi := 0, len(w.cum)-1
	for lo < hi {
		m := (lo + hi) / 2
		if w.cum[m] > x {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}
