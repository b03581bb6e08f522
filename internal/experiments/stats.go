package experiments

import "math"

// Z95 is the standard normal quantile of 0.975: the two-sided 95% intervals use it.
const Z95 = 1.959963984540054

// Interval is an estimate with its 95% confidence interval.
type Interval struct {
	Estimate, Low, High float64
}

// Wilson is the 95% Wilson score interval of x successes in n trials:
//
//	p = x/n, centre = (p + z²/2n) / (1 + z²/n),
//	half = z·√(p(1−p)/n + z²/4n²) / (1 + z²/n).
//
// With n = 0 it is the uninformative [0, 1] around 0.
func Wilson(x, n int) Interval {
	if n <= 0 {
		return Interval{0, 0, 1}
	}
	p := float64(x) / float64(n)
	nf := float64(n)
	z2 := Z95 * Z95
	den := 1 + z2/nf
	centre := (p + z2/(2*nf)) / den
	half := Z95 * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf)) / den
	return Interval{p, math.Max(0, centre-half), math.Min(1, centre+half)}
}

// Moments are n users' values by their sum and sum of squares.
type Moments struct {
	N       int
	Sum, Sq float64
}

// Mean is Sum/N (0 without users).
func (m Moments) Mean() float64 {
	if m.N == 0 {
		return 0
	}
	return m.Sum / float64(m.N)
}

// Variance is the sample variance (Sq − Sum²/N) / (N − 1); 0 below two users.
func (m Moments) Variance() float64 {
	if m.N < 2 {
		return 0
	}
	v := (m.Sq - m.Sum*m.Sum/float64(m.N)) / float64(m.N-1)
	return math.Max(v, 0)
}

// MeanInterval is the mean with its 95% normal-approximation interval,
// mean ± z·√(s²/N); a single point below two users.
func (m Moments) MeanInterval() Interval {
	mean := m.Mean()
	half := 0.0
	if m.N >= 2 {
		half = Z95 * math.Sqrt(m.Variance()/float64(m.N))
	}
	return Interval{mean, mean - half, mean + half}
}

// DiffMeans is mean(t) − mean(c) with the 95% interval ± z·√(s_t²/N_t + s_c²/N_c)
// (unpooled, as for Welch's test, with the normal quantile).
func DiffMeans(t, c Moments) Interval {
	d := t.Mean() - c.Mean()
	var v float64
	if t.N >= 2 {
		v += t.Variance() / float64(t.N)
	}
	if c.N >= 2 {
		v += c.Variance() / float64(c.N)
	}
	half := Z95 * math.Sqrt(v)
	return Interval{d, d - half, d + half}
}

// DiffRates is x_t/n_t − x_c/n_c with the 95% Wald interval
// ± z·√(p_t(1−p_t)/n_t + p_c(1−p_c)/n_c).
func DiffRates(xt, nt, xc, nc int) Interval {
	if nt == 0 || nc == 0 {
		return Interval{0, -1, 1}
	}
	pt, pc := float64(xt)/float64(nt), float64(xc)/float64(nc)
	d := pt - pc
	half := Z95 * math.Sqrt(pt*(1-pt)/float64(nt)+pc*(1-pc)/float64(nc))
	return Interval{d, math.Max(-1, d-half), math.Min(1, d+half)}
}
