package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"os"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/otlink/otlink/internal/errcode"
)

// File is a pcap or pcapng capture file opened for reading.
type File struct {
	f      *os.File
	cr     *countReader
	size   int64
	link   LinkType // pcap: the file's link type
	ng     *pcapgo.NgReader
	pcap   *pcapReader
	ifLink []LinkType // pcapng: link type per interface index
	format string
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// OpenFile opens a pcap (microsecond or nanosecond, either byte order) or
// pcapng file, telling them apart by the magic number.
func OpenFile(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errcode.Wrap(errcode.CaptureOpen, err, "open capture %s", path)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, errcode.Wrap(errcode.CaptureOpen, err, "open capture %s", path)
	}
	cr := &countReader{r: f}
	br := bufio.NewReaderSize(cr, 1<<18)
	fl := &File{f: f, cr: cr, size: st.Size()}
	magic, err := br.Peek(4)
	if err != nil {
		f.Close()
		return nil, errcode.Wrap(errcode.CaptureFormat, err, "read capture %s: file shorter than a capture header", path)
	}
	switch m := binary.LittleEndian.Uint32(magic); m {
	case 0x0a0d0d0a:
		ng, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true, SkipUnknownVersion: true})
		if err != nil {
			f.Close()
			return nil, errcode.Wrap(errcode.CaptureFormat, err, "read pcapng header of %s", path)
		}
		fl.ng, fl.format = ng, "pcapng"
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1:
		r, err := newPcapReader(br)
		if err != nil {
			f.Close()
			return nil, errcode.Wrap(errcode.CaptureFormat, err, "read pcap header of %s", path)
		}
		fl.pcap, fl.format, fl.link = r, "pcap", r.link
	default:
		f.Close()
		return nil, errcode.New(errcode.CaptureFormat, "read capture %s: magic %08x is neither pcap nor pcapng", path, m)
	}
	return fl, nil
}

// Format is "pcap" or "pcapng".
func (fl *File) Format() string { return fl.format }

// Size is the file's size in bytes.
func (fl *File) Size() int64 { return fl.size }

// Fraction is the share of the file read so far, for progress bars; it
// runs ahead of the packets handed out by at most the read buffer.
func (fl *File) Fraction() float64 {
	if fl.size <= 0 {
		return 1
	}
	return min(float64(fl.cr.n)/float64(fl.size), 1)
}

// Next returns the next frame; io.EOF at the end of the file, and an
// error coded CaptureTruncated when the file ends inside a packet.
func (fl *File) Next() ([]byte, Info, error) {
	var (
		data []byte
		err  error
		ci   Info
	)
	if fl.pcap != nil {
		data, ci, err = fl.pcap.next()
	} else {
		d, gci, e := fl.ng.ZeroCopyReadPacketData()
		data, err = d, e
		ci = Info{Time: gci.Timestamp.UnixNano(), CapLen: gci.CaptureLength, Len: gci.Length, Iface: gci.InterfaceIndex}
		if err == nil {
			ci.Link = fl.ngLink(gci.InterfaceIndex)
		}
	}
	if err != nil {
		switch {
		case err == io.EOF:
			return nil, ci, io.EOF
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, ci, errcode.Wrap(errcode.CaptureTruncated, err, "read %s", fl.f.Name())
		}
		return nil, ci, errcode.Wrap(errcode.CaptureRead, err, "read %s", fl.f.Name())
	}
	return data, ci, nil
}

func (fl *File) ngLink(i int) LinkType {
	if i < len(fl.ifLink) {
		return fl.ifLink[i]
	}
	fl.ifLink = fl.ifLink[:0]
	for j := range fl.ng.NInterfaces() {
		ifc, err := fl.ng.Interface(j)
		if err != nil {
			break
		}
		fl.ifLink = append(fl.ifLink, LinkType(ifc.LinkType))
	}
	if i < len(fl.ifLink) {
		return fl.ifLink[i]
	}
	return LinkType(fl.ng.LinkType())
}

// Close closes the file.
func (fl *File) Close() error { return fl.f.Close() }

var _ Source = (*File)(nil)
