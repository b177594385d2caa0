package capture

import (
	"encoding/binary"
	"fmt"
	"io"
)

// maxPacket is the largest record accepted, Wireshark's limit for
// standard link types; a bigger length field means a damaged file.
const maxPacket = 262144

// pcapReader reads classic pcap records straight out of a large buffer:
// no copy per packet and no time.Time, which pcapgo's reader costs (a
// copy into its packet buffer, two small reads per record).
type pcapReader struct {
	r          io.Reader
	buf        []byte
	start, end int
	swapped    bool  // big-endian file
	nsec       int64 // nanoseconds per unit of the fraction field
	link       LinkType
	err        error // sticky read error
}

const pcapBuffer = 1 << 20

// newPcapReader reads the file header (24 bytes) from r.
func newPcapReader(r io.Reader) (*pcapReader, error) {
	p := &pcapReader{r: r, buf: make([]byte, pcapBuffer)}
	if err := p.fill(24); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	h := p.buf[p.start : p.start+24]
	switch binary.LittleEndian.Uint32(h) {
	case 0xa1b2c3d4:
		p.nsec = 1000
	case 0xa1b23c4d:
		p.nsec = 1
	case 0xd4c3b2a1:
		p.nsec, p.swapped = 1000, true
	case 0x4d3cb2a1:
		p.nsec, p.swapped = 1, true
	default:
		return nil, fmt.Errorf("unknown magic %08x", binary.LittleEndian.Uint32(h))
	}
	if v := p.u32(h[4:]); p.swapped && v>>16 != 2 || !p.swapped && v&0xffff != 2 {
		return nil, fmt.Errorf("unknown pcap version in %x", h[4:8])
	}
	// The link type's upper bits carry FCS information (pcap-linktype).
	p.link = LinkType(p.u32(h[20:]) & 0xffff)
	p.start += 24
	return p, nil
}

func (p *pcapReader) u32(b []byte) uint32 {
	if p.swapped {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

// fill makes at least n bytes available from start: io.EOF when none
// are left at all, io.ErrUnexpectedEOF when some but fewer than n are.
func (p *pcapReader) fill(n int) error {
	if p.end-p.start >= n {
		return nil
	}
	if n > len(p.buf) {
		nb := make([]byte, max(n, 2*len(p.buf)))
		p.end = copy(nb, p.buf[p.start:p.end])
		p.buf, p.start = nb, 0
	} else if p.start > 0 {
		p.end = copy(p.buf, p.buf[p.start:p.end])
		p.start = 0
	}
	for p.end < n && p.err == nil {
		m, err := p.r.Read(p.buf[p.end:])
		p.end += m
		if err != nil {
			p.err = err
		}
	}
	if p.end >= n {
		return nil
	}
	if p.err == io.EOF {
		if p.end == 0 {
			return io.EOF
		}
		return io.ErrUnexpectedEOF
	}
	return p.err
}

// next returns the next record's data (valid until the next call) and
// its capture information.
func (p *pcapReader) next() ([]byte, Info, error) {
	var ci Info
	// The length checks are made here before fill is called: a call per
	// record for a buffer that nearly always holds it is measurable.
	if p.end-p.start < 16 {
		if err := p.fill(16); err != nil {
			return nil, ci, err
		}
	}
	h := p.buf[p.start : p.start+16]
	ci.Time = int64(p.u32(h))*1e9 + int64(p.u32(h[4:]))*p.nsec
	incl, orig := p.u32(h[8:]), p.u32(h[12:])
	if incl > maxPacket {
		return nil, ci, fmt.Errorf("record of %d bytes exceeds %d: damaged file", incl, maxPacket)
	}
	n := int(incl)
	if p.end-p.start < 16+n {
		if err := p.fill(16 + n); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, ci, err
		}
	}
	ci.CapLen, ci.Len, ci.Link = n, int(orig), p.link
	data := p.buf[p.start+16 : p.start+16+n : p.start+16+n]
	p.start += 16 + n
	return data, ci, nil
}
