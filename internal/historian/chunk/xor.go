package chunk

import "math/bits"

// XOR float coding (Gorilla, Pelkonen et al. 2015) over w-bit patterns
// (w = 64 for float64, 32 for float32 values): the first value raw, then
// per value the XOR with the previous one:
//
//	0                                   → same value
//	10 + meaningful bits                → XOR fits the previous window
//	11 + lz (5|6 bits) + len-1 (5|6 bits) + len bits → new window
//
// lz is the count of leading zeros, len the count of meaningful bits;
// the field widths are 6 bits for w = 64 and 5 bits for w = 32.

type xorWriter struct {
	w       *bitWriter
	width   uint // 32 or 64
	field   uint // 5 or 6
	prev    uint64
	lz, tz  uint
	haveWin bool
	started bool
}

func (x *xorWriter) add(v uint64) {
	if !x.started {
		x.started = true
		x.prev = v
		x.w.write(v, x.width)
		return
	}
	d := v ^ x.prev
	x.prev = v
	if d == 0 {
		x.w.write(0, 1)
		return
	}
	lz := uint(bits.LeadingZeros64(d)) - (64 - x.width)
	tz := uint(bits.TrailingZeros64(d))
	if x.haveWin && lz >= x.lz && tz >= x.tz {
		x.w.write(0b10, 2)
		x.w.write(d>>x.tz, x.width-x.lz-x.tz)
		return
	}
	if lz > 1<<x.field-1 {
		lz = 1<<x.field - 1
	}
	n := x.width - lz - tz
	x.w.write(0b11, 2)
	x.w.write(uint64(lz), x.field)
	x.w.write(uint64(n-1), x.field)
	x.w.write(d>>tz, n)
	x.lz, x.tz, x.haveWin = lz, tz, true
}

type xorReader struct {
	br      bitReader
	width   uint
	field   uint
	prev    uint64
	lz, tz  uint
	haveWin bool
	started bool
}

func (x *xorReader) readN(n uint) uint64 {
	if n > 56 {
		hi := x.br.read(n - 32)
		return hi<<32 | x.br.read(32)
	}
	return x.br.read(n)
}

func (x *xorReader) next() uint64 {
	if !x.started {
		x.started = true
		x.prev = x.readN(x.width)
		return x.prev
	}
	if !x.br.bit() {
		return x.prev
	}
	if !x.br.bit() {
		if !x.haveWin {
			x.br.eof = true // a window reuse before any window: corrupt
			return x.prev
		}
		x.prev ^= x.readN(x.width-x.lz-x.tz) << x.tz
		return x.prev
	}
	lz := uint(x.br.read(x.field))
	n := uint(x.br.read(x.field)) + 1
	if lz+n > x.width {
		x.br.eof = true
		return x.prev
	}
	x.lz, x.tz, x.haveWin = lz, x.width-lz-n, true
	x.prev ^= x.readN(n) << x.tz
	return x.prev
}
