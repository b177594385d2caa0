package chunk

import (
	"encoding/binary"
	"math/bits"
)

// bitWriter appends bits MSB first to a byte slice.
type bitWriter struct {
	b    []byte
	acc  uint64 // pending bits, right aligned
	nacc uint   // number of pending bits (< 8 after flush)
}

// write appends the low n bits of v (n ≤ 64).
func (w *bitWriter) write(v uint64, n uint) {
	if n == 0 {
		return
	}
	if n < 64 {
		v &= 1<<n - 1
	}
	for n > 0 {
		// Take as many bits as fit next to the pending ones (at most 56).
		k := min(n, 56-w.nacc)
		w.acc = w.acc<<k | v>>(n-k)
		w.nacc += k
		n -= k
		if n < 64 {
			v &= 1<<n - 1
		}
		for w.nacc >= 8 {
			w.nacc -= 8
			w.b = append(w.b, byte(w.acc>>w.nacc))
		}
		w.acc &= 1<<w.nacc - 1
	}
}

func (w *bitWriter) bit(b bool) {
	if b {
		w.write(1, 1)
	} else {
		w.write(0, 1)
	}
}

// bytes flushes the last partial byte (zero padded) and returns the stream.
func (w *bitWriter) bytes() []byte {
	if w.nacc > 0 {
		w.b = append(w.b, byte(w.acc<<(8-w.nacc)))
		w.acc, w.nacc = 0, 0
	}
	return w.b
}

// bitReader reads bits MSB first. Reading past the end sets eof and
// returns zeros, so callers check eof once per sample rather than per read.
type bitReader struct {
	b   []byte
	i   int    // next byte to load
	buf uint64 // left-aligned unread bits
	n   uint   // valid bits in buf
	eof bool
}

func newBitReader(b []byte) bitReader { return bitReader{b: b} }

func (r *bitReader) refill() {
	if r.i+8 <= len(r.b) && r.n <= 56 {
		// Load as many whole bytes as fit in one go.
		v := binary.BigEndian.Uint64(r.b[r.i:])
		k := (64 - r.n) / 8 // bytes, ≥ 1
		if k == 8 {
			r.buf = v
		} else {
			r.buf |= v >> (64 - 8*k) << (64 - r.n - 8*k)
		}
		r.n += 8 * k
		r.i += int(k)
		return
	}
	for r.n <= 56 && r.i < len(r.b) {
		r.buf |= uint64(r.b[r.i]) << (56 - r.n)
		r.n += 8
		r.i++
	}
}

// read returns the next n bits (n ≤ 56) right aligned.
func (r *bitReader) read(n uint) uint64 {
	if n == 0 {
		return 0
	}
	if r.n < n {
		r.refill()
		if r.n < n {
			r.eof = true
			r.n = n // pretend zeros
		}
	}
	v := r.buf >> (64 - n)
	r.buf <<= n
	r.n -= n
	return v
}

func (r *bitReader) read64() uint64 {
	hi := r.read(32)
	return hi<<32 | r.read(32)
}

func (r *bitReader) bit() bool {
	if r.n == 0 {
		r.refill()
		if r.n == 0 {
			r.eof = true
			return false
		}
	}
	v := r.buf>>63 != 0
	r.buf <<= 1
	r.n--
	return v
}

// ones counts leading one bits, up to max, consuming them and the
// terminating zero (when fewer than max ones are read).
func (r *bitReader) ones(max int) int {
	for k := 0; k < max; k++ {
		if !r.bit() {
			return k
		}
	}
	return max
}

// readN returns the next n bits for any n ≤ 64.
func (r *bitReader) readN(n uint) uint64 {
	if n > 56 {
		hi := r.read(n - 32)
		return hi<<32 | r.read(32)
	}
	return r.read(n)
}

// onesFast is ones for the Rice quotient: it counts the leading ones in
// the buffer at once instead of bit by bit.
func (r *bitReader) onesFast(max int) int {
	if r.n <= uint(max) {
		r.refill()
	}
	// Bits past n are zero in buf, so the count stops at n at the latest.
	k := bits.LeadingZeros64(^r.buf)
	switch {
	case k >= max:
		r.buf <<= uint(max)
		r.n -= uint(max)
		return max
	case uint(k) < r.n:
		r.buf <<= uint(k + 1)
		r.n -= uint(k + 1)
		return k
	}
	return r.ones(max) // at the end of the stream
}
