package mtconnect

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"mime"
	"strconv"
	"strings"

	"github.com/otlink/otlink/internal/errcode"
)

// Limits of the multipart framing, apart from the size of a part.
const (
	maxHeaderLine = 4096 // bytes in one boundary or part header line
	maxHeaders    = 32   // header lines of one part
)

// PartReader reads the parts of a multipart/x-mixed-replace sample
// stream, one document each. A part with a Content-length header is read
// by length, so it is delivered as soon as its last byte arrives; one
// without is read up to the next boundary. Every read is bounded.
type PartReader struct {
	br       *bufio.Reader
	delim    []byte // "--" + boundary
	max      int64
	atPart   bool // the boundary of the next part was consumed already
	done     bool
	body     []byte
	Preamble int64 // bytes skipped outside parts, for tests and metrics
}

// Boundary returns the boundary of a multipart Content-Type, or ok false
// when the type is not multipart or names none.
func Boundary(contentType string) (string, bool) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		return "", false
	}
	b := params["boundary"]
	return b, b != "" && len(b) <= 200
}

// NewPartReader returns a reader of the parts of r, separated by boundary.
// max bounds one part (DefaultMaxDocument when <= 0).
func NewPartReader(r io.Reader, boundary string, max int64) *PartReader {
	if max <= 0 {
		max = DefaultMaxDocument
	}
	return &PartReader{br: bufio.NewReaderSize(r, 32<<10), delim: []byte("--" + boundary), max: max}
}

// Next returns the body of the next part. The slice is valid until the
// next call. It returns io.EOF after the closing boundary or when the
// stream ends between parts, an MTConnectTooLarge error for a part above
// the limit and an MTConnectBadMultipart error for broken framing.
func (p *PartReader) Next() ([]byte, error) {
	if p.done {
		return nil, io.EOF
	}
	if !p.atPart {
		if err := p.seek(); err != nil {
			return nil, err
		}
	}
	p.atPart = false
	length := int64(-1)
	for i := 0; ; i++ {
		if i == maxHeaders {
			return nil, errcode.New(errcode.MTConnectBadMultipart, "more than %d header lines in a part", maxHeaders)
		}
		line, err := p.line()
		if err != nil {
			return nil, p.cut(err, "part headers")
		}
		if len(line) > maxHeaderLine {
			return nil, errcode.New(errcode.MTConnectBadMultipart, "part header line longer than %d bytes", maxHeaderLine)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return nil, errcode.New(errcode.MTConnectBadMultipart, "part header %q has no colon", clip(string(line)))
		}
		if strings.EqualFold(string(bytes.TrimSpace(k)), "content-length") {
			n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			if err != nil || n < 0 {
				return nil, errcode.New(errcode.MTConnectBadMultipart, "part content-length %q is not a length", clip(string(v)))
			}
			if n > p.max {
				return nil, errcode.New(errcode.MTConnectTooLarge, "stream part of %d bytes is larger than %d", n, p.max)
			}
			length = n
		}
	}
	if length >= 0 {
		if int64(cap(p.body)) < length {
			p.body = make([]byte, length)
		}
		p.body = p.body[:length]
		if _, err := io.ReadFull(p.br, p.body); err != nil {
			return nil, p.cut(err, "part body")
		}
		return p.body, nil
	}
	return p.untilBoundary()
}

// seek skips to the line after the next boundary.
func (p *PartReader) seek() error {
	for {
		line, err := p.line()
		if err != nil {
			if errors.Is(err, io.EOF) && len(line) == 0 {
				p.done = true
				return io.EOF
			}
			return p.cut(err, "boundary")
		}
		switch p.isDelim(line) {
		case 1:
			return nil
		case 2:
			p.done = true
			return io.EOF
		}
		p.Preamble += int64(len(line))
		if p.Preamble > p.max {
			return errcode.New(errcode.MTConnectBadMultipart, "no boundary %q within %d bytes", clip(string(p.delim)), p.max)
		}
	}
}

// untilBoundary reads a body without a length up to the next boundary
// line, which it consumes.
func (p *PartReader) untilBoundary() ([]byte, error) {
	p.body = p.body[:0]
	for {
		line, err := p.line()
		if err != nil {
			return nil, p.cut(err, "part body")
		}
		if d := p.isDelim(line); d != 0 {
			p.atPart = d == 1
			p.done = d == 2
			// The line break before the boundary belongs to it.
			b := bytes.TrimSuffix(p.body, []byte("\n"))
			return bytes.TrimSuffix(b, []byte("\r")), nil
		}
		if int64(len(p.body)+len(line)) > p.max {
			return nil, errcode.New(errcode.MTConnectTooLarge, "stream part larger than %d bytes", p.max)
		}
		p.body = append(p.body, line...)
	}
}

// isDelim: 1 for a boundary line, 2 for the closing one, 0 otherwise.
func (p *PartReader) isDelim(line []byte) int {
	line = bytes.TrimRight(line, " \t\r\n")
	if !bytes.HasPrefix(line, p.delim) {
		return 0
	}
	switch rest := line[len(p.delim):]; {
	case len(rest) == 0:
		return 1
	case string(rest) == "--":
		return 2
	}
	return 0
}

// line reads one line with its terminator, at most the part limit.
func (p *PartReader) line() ([]byte, error) {
	var long []byte
	for {
		b, err := p.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if int64(len(long)+len(b)) > p.max {
				return nil, errcode.New(errcode.MTConnectTooLarge, "stream line longer than %d bytes", p.max)
			}
			long = append(long, b...)
			continue
		}
		if long != nil {
			long = append(long, b...)
			return long, err
		}
		return b, err
	}
}

// cut reports a stream that ended or failed inside a part.
func (p *PartReader) cut(err error, where string) error {
	if errcode.Of(err) != 0 {
		return err
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errcode.New(errcode.MTConnectBadMultipart, "stream ended inside the %s", where)
	}
	return errcode.Wrap(errcode.MTConnectConnection, err, "read stream %s", where)
}
