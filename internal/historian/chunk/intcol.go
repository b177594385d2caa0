package chunk

// An int column holds a sequence of int64: byte order, byte unit
// exponent e, the first value raw (64 bits), then
//
//   - order 0 (a constant step): the step, 64 bits, and nothing per value;
//   - order 1 or 2: per value, the difference of that order (1: delta, 2:
//     delta-of-delta) divided by 10^e, as a prefix code:
//
//	0                       → 0
//	10     + 4 bits signed  → -8 .. 7
//	110    + 8 bits signed
//	1110   + 12 bits signed
//	11110  + 20 bits signed
//	111110 + 32 bits signed
//	111111 + 64 bits        (any)
//
// A regular series (1 s, 100 ms, 250 ms) is order 0 and costs nothing per
// timestamp; a regular series with a gap costs one bit per timestamp;
// with the power of ten, timestamps rounded to the millisecond with a few
// ms of jitter cost 6 bits.

var pow10 = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// codeWidths are the payload widths of prefix codes 1..6.
var codeWidths = [7]uint{0, 4, 8, 12, 20, 32, 64}

func fitsSigned(v int64, n uint) bool {
	lim := int64(1) << (n - 1)
	return v >= -lim && v < lim
}

func codeBits(v int64) int {
	if v == 0 {
		return 1
	}
	for k := 1; k < 6; k++ {
		if fitsSigned(v, codeWidths[k]) {
			return k + 1 + int(codeWidths[k])
		}
	}
	return 6 + 64
}

func writeCode(w *bitWriter, v int64) {
	if v == 0 {
		w.write(0, 1)
		return
	}
	for k := uint(1); k < 6; k++ {
		if n := codeWidths[k]; fitsSigned(v, n) {
			w.write(1<<(k+1)-2, k+1) // k ones and a zero
			w.write(uint64(v), n)
			return
		}
	}
	w.write(0b111111, 6)
	w.write(uint64(v), 64)
}

func readCode(r *bitReader) int64 {
	// Fast path: a zero bit is the common case of a regular series.
	k := r.ones(6)
	if k == 0 {
		return 0
	}
	n := codeWidths[k]
	if n == 64 {
		return int64(r.read64())
	}
	v := r.read(n)
	return int64(v<<(64-n)) >> (64 - n)
}

// unitExp returns the largest e such that every consecutive difference of
// xs is a multiple of 10^e.
func unitExp(xs []int64) uint8 {
	e := len(pow10) - 1
	for i := 1; i < len(xs) && e > 0; i++ {
		d := xs[i] - xs[i-1]
		if d == 0 {
			continue
		}
		for e > 0 && d%pow10[e] != 0 {
			e--
		}
	}
	allSame := true
	for i := 1; i < len(xs); i++ {
		if xs[i] != xs[i-1] {
			allSame = false
			break
		}
	}
	if allSame {
		return 0
	}
	return uint8(e)
}

// intCost returns the bit cost of xs at the given order and unit.
func intCost(xs []int64, order int, unit int64) int {
	c := 0
	var pd int64
	for i := 1; i < len(xs); i++ {
		d := (xs[i] - xs[i-1]) / unit
		if order == 2 {
			c += codeBits(d - pd)
			pd = d
		} else {
			c += codeBits(d)
		}
	}
	return c
}

// appendIntCol appends the int column of xs (empty when xs is empty):
// byte order, byte unit exponent, then the bit stream. With v1, only
// orders 0–2 are used (the documented example pins that output).
func appendIntCol(dst []byte, xs []int64) []byte {
	return appendIntColScratch(dst, xs, nil)
}

// appendIntColScratch is appendIntCol with a reusable scratch slice.
func appendIntColScratch(dst []byte, xs []int64, scratch *[]uint64) []byte {
	if len(xs) == 0 {
		return dst
	}
	e := unitExp(xs)
	unit := pow10[e]
	order := 2
	var zs []uint64
	var step, rmin int64
	var gw uint
	if len(xs) > 1 && constStep(xs) {
		order = 0 // every delta-of-delta is zero
	} else {
		c1, c2 := intCost(xs, 1, unit), intCost(xs, 2, unit)
		best := c2
		if c1 <= c2 {
			order, best = 1, c1
		}
		if scratch == nil {
			scratch = new([]uint64)
		}
		// Rice and grid codings pay a few bytes of header; they are
		// tried only where they can win.
		if len(xs) > 8 {
			for _, o := range []int{1, 2} {
				*scratch = diffs(*scratch, xs, o, unit)
				if c := riceCost(*scratch); c < best {
					order, best = orderRice1+o-1, c
				}
			}
			if st, rm, w, c, ok := gridPlan(xs, unit); ok && c < best {
				order, best, step, rmin, gw = orderGrid, c, st, rm, w
			}
		}
		if order == orderRice1 || order == orderRice2 {
			*scratch = diffs(*scratch, xs, order-orderRice1+1, unit)
			zs = *scratch
		}
	}
	dst = append(dst, byte(order), e)
	w := bitWriter{b: dst}
	w.write(uint64(xs[0]), 64)
	switch order {
	case 0:
		w.write(uint64(xs[1]-xs[0]), 64)
		return w.bytes()
	case orderRice1, orderRice2:
		writeRice(&w, zs)
		return w.bytes()
	case orderGrid:
		writeGrid(&w, xs, unit, step, rmin, gw)
		return w.bytes()
	}
	var pd int64
	for i := 1; i < len(xs); i++ {
		d := (xs[i] - xs[i-1]) / unit
		if order == 2 {
			writeCode(&w, d-pd)
			pd = d
		} else {
			writeCode(&w, d)
		}
	}
	return w.bytes()
}

// intColReader decodes an int column value by value.
type intColReader struct {
	br        bitReader
	order     uint8
	unit      int64
	start     bool
	prev      int64
	pd        int64
	k         uint // Rice parameter of the current block
	blockLeft int  // Rice values left in the block
	first     int64
	base      int64 // grid: first + rmin·unit + i·step, the next grid point
	gw        uint  // grid residual width
}

// init locates an int column; maxOrd is the highest order the chunk's
// format version knows.
func (c *intColReader) init(col []byte, maxOrd uint8) error {
	*c = intColReader{}
	if len(col) < 2 {
		return errTrunc("int column header")
	}
	if col[0] > maxOrd {
		return errCorrupt("int column order %d", col[0])
	}
	if int(col[1]) >= len(pow10) {
		return errCorrupt("int column unit exponent %d", col[1])
	}
	c.order, c.unit, c.start = col[0], pow10[col[1]], true
	c.br = newBitReader(col[2:])
	return nil
}

func (c *intColReader) next() int64 {
	if c.start {
		c.start = false
		c.prev = int64(c.br.read64())
		switch c.order {
		case 0:
			c.pd = int64(c.br.read64())
		case orderGrid:
			c.pd = int64(c.br.read64()) // step
			rmin := int64(c.br.read64())
			c.gw = uint(c.br.read(7))
			if c.gw > 64 {
				c.br.eof = true
			}
			c.base = c.prev + rmin*c.unit
		}
		return c.prev
	}
	switch c.order {
	case 0:
		c.prev += c.pd
		return c.prev
	case orderGrid:
		c.base += c.pd
		return c.base + int64(c.br.readN(c.gw))*c.unit
	case orderRice1:
		c.prev += unzigzag(c.readRice()) * c.unit
		return c.prev
	case orderRice2:
		c.pd += unzigzag(c.readRice()) * c.unit
		c.prev += c.pd
		return c.prev
	}
	d := readCode(&c.br) * c.unit
	if c.order == 2 {
		c.pd += d
		c.prev += c.pd
	} else {
		c.prev += d
	}
	return c.prev
}

func constStep(xs []int64) bool {
	d := xs[1] - xs[0]
	for i := 2; i < len(xs); i++ {
		if xs[i]-xs[i-1] != d {
			return false
		}
	}
	return true
}
