package chunk

import "math/bits"

// Version 2 int column orders (see docs/formats/chunk.md):
//
//   - orders 3 and 4: the delta (3) or delta-of-delta (4) divided by the
//     unit, zig-zag mapped, Rice coded in blocks of riceBlock values: per
//     block 6 bits k, then per value z>>k in unary (that many one bits and
//     a zero) and the low k bits of z; a quotient of riceEscape or more is
//     riceEscape one bits followed by z in 64 bits. Noisy analogue values
//     (a float32's ordered bit pattern, a scaled register) cost about
//     log2(noise)+2 bits, where the prefix code rounds up to its next
//     width and XOR pays for carries and window headers.
//   - order 5, grid: the step (64 bits) and the smallest residual rmin (64
//     bits, in units), 7 bits w, then per further value i the residual
//     (value_i − first − i·step)/unit − rmin in w bits. Timestamps of a
//     poll cycle with reply jitter sit within a few units of their grid
//     point: 1 or 2 bits each, where delta-of-delta pays for both
//     neighbours' jitter.
const (
	orderRice1 = 3
	orderRice2 = 4
	orderGrid  = 5
	maxOrder   = orderGrid

	riceBlock  = 64
	riceEscape = 24
)

func zigzag(v int64) uint64   { return uint64(v<<1) ^ uint64(v>>63) }
func unzigzag(z uint64) int64 { return int64(z>>1) ^ -int64(z&1) }

// riceBits is the cost of z with parameter k.
func riceBits(z uint64, k uint) int {
	q := z >> k
	if q >= riceEscape {
		return riceEscape + 64
	}
	return int(q) + 1 + int(k)
}

// riceK picks the parameter of a block: near log2 of the mean, the best of
// three neighbours by exact cost.
func riceK(zs []uint64) (uint, int) {
	var sum uint64
	for _, z := range zs {
		sum += min(z, 1<<50)
	}
	mean := sum / uint64(len(zs))
	k0 := 0
	if mean > 0 {
		k0 = 63 - bits.LeadingZeros64(mean)
	}
	bestK, best := uint(0), -1
	for k := max(k0-1, 0); k <= min(k0+1, 63); k++ {
		c := 6
		for _, z := range zs {
			c += riceBits(z, uint(k))
		}
		if best < 0 || c < best {
			bestK, best = uint(k), c
		}
	}
	return bestK, best
}

// diffs returns the zig-zagged differences of the given order (1 or 2) of
// xs in units, for the values after the first.
func diffs(dst []uint64, xs []int64, order int, unit int64) []uint64 {
	dst = dst[:0]
	var pd int64
	for i := 1; i < len(xs); i++ {
		d := (xs[i] - xs[i-1]) / unit
		if order == 2 {
			dst = append(dst, zigzag(d-pd))
			pd = d
		} else {
			dst = append(dst, zigzag(d))
		}
	}
	return dst
}

// riceCost is the bit cost of zs as Rice blocks.
func riceCost(zs []uint64) int {
	c := 0
	for i := 0; i < len(zs); i += riceBlock {
		_, n := riceK(zs[i:min(i+riceBlock, len(zs))])
		c += n
	}
	return c
}

func writeRice(w *bitWriter, zs []uint64) {
	for i := 0; i < len(zs); i += riceBlock {
		blk := zs[i:min(i+riceBlock, len(zs))]
		k, _ := riceK(blk)
		w.write(uint64(k), 6)
		for _, z := range blk {
			q := z >> k
			if q >= riceEscape {
				w.write(1<<riceEscape-1, riceEscape)
				w.write(z, 64)
				continue
			}
			// q ones and a zero, then the low k bits: at most 24+1+63 bits.
			w.write(1<<(q+1)-2, uint(q)+1)
			w.write(z, k)
		}
	}
}

// gridPlan returns the step, the smallest residual and the width of the
// grid coding of xs (at least two values) in units, and its bit cost; ok
// is false when residuals do not fit 63 bits.
func gridPlan(xs []int64, unit int64) (step, rmin int64, w uint, cost int, ok bool) {
	n := int64(len(xs) - 1)
	// The step is the mean period rounded to the unit; with jitter and no
	// gap, every residual is then within the jitter.
	span := (xs[n] - xs[0]) / unit
	step = (span + n/2) / n * unit
	if span < 0 {
		return 0, 0, 0, 0, false
	}
	rmin, rmax := int64(0), int64(0)
	for i := int64(1); i <= n; i++ {
		r := (xs[i] - xs[0] - i*step) / unit
		if xs[0]+i*step+r*unit != xs[i] {
			return 0, 0, 0, 0, false // wrapped arithmetic; not a grid
		}
		if i == 1 || r < rmin {
			rmin = r
		}
		if i == 1 || r > rmax {
			rmax = r
		}
	}
	if rmax-rmin < 0 || uint64(rmax-rmin) >= 1<<62 {
		return 0, 0, 0, 0, false
	}
	w = uint(64 - bits.LeadingZeros64(uint64(rmax-rmin)))
	return step, rmin, w, 128 + 7 + int(n)*int(w), true
}

func writeGrid(bw *bitWriter, xs []int64, unit, step, rmin int64, w uint) {
	bw.write(uint64(step), 64)
	bw.write(uint64(rmin), 64)
	bw.write(uint64(w), 7)
	for i := 1; i < len(xs); i++ {
		r := (xs[i]-xs[0]-int64(i)*step)/unit - rmin
		bw.write(uint64(r), w)
	}
}

// readRice decodes one Rice value; blockLeft and k are the reader's state.
func (c *intColReader) readRice() uint64 {
	if c.blockLeft == 0 {
		c.k = uint(c.br.read(6))
		c.blockLeft = riceBlock
	}
	c.blockLeft--
	q := c.br.onesFast(riceEscape)
	if q == riceEscape {
		return c.br.read64()
	}
	if c.k == 0 {
		return uint64(q)
	}
	return uint64(q)<<c.k | c.br.readN(c.k)
}
