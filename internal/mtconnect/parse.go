package mtconnect

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/otlink/otlink/internal/errcode"
)

// DefaultMaxDocument bounds the size of one document read from a peer.
const DefaultMaxDocument = 16 << 20

// Kind is the kind of an MTConnect document.
type Kind uint8

// The document kinds.
const (
	KindUnknown Kind = iota
	KindDevices
	KindStreams
	KindError
	KindAssets
)

func (k Kind) String() string {
	switch k {
	case KindDevices:
		return "MTConnectDevices"
	case KindStreams:
		return "MTConnectStreams"
	case KindError:
		return "MTConnectError"
	case KindAssets:
		return "MTConnectAssets"
	}
	return "unknown"
}

// Doc is a parsed document: exactly one of its pointers is set.
type Doc struct {
	Kind    Kind
	Version string // from the namespace, e.g. "2.0"; "" when it has none
	Devices *Devices
	Streams *Streams
	Error   *ErrorDoc
}

// ReadAll reads one document of at most max bytes (DefaultMaxDocument
// when max <= 0) from r. A longer one is an MTConnectTooLarge error, so a
// hostile peer cannot make otlink buffer without bound.
func ReadAll(r io.Reader, max int64) ([]byte, error) {
	if max <= 0 {
		max = DefaultMaxDocument
	}
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, errcode.Wrap(errcode.MTConnectConnection, err, "read mtconnect document")
	}
	if int64(len(b)) > max {
		return nil, errcode.New(errcode.MTConnectTooLarge, "mtconnect document larger than %d bytes", max)
	}
	return b, nil
}

// Parse parses one document, whatever its kind. Errors are
// MTConnectMalformed and say where the document went wrong.
func Parse(data []byte) (*Doc, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.CharsetReader = charsetReader
	for {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, errcode.New(errcode.MTConnectMalformed, "mtconnect document has no root element")
			}
			return nil, malformed(err, dec)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		doc := &Doc{}
		ns := se.Name.Space
		var prefix string
		var target any
		switch se.Name.Local {
		case "MTConnectDevices":
			doc.Kind, prefix = KindDevices, nsDevices
			doc.Devices = &Devices{}
			target = doc.Devices
		case "MTConnectStreams":
			doc.Kind, prefix = KindStreams, nsStreams
			doc.Streams = &Streams{}
			target = doc.Streams
		case "MTConnectError":
			doc.Kind, prefix = KindError, nsError
			doc.Error = &ErrorDoc{}
			target = doc.Error
		case "MTConnectAssets":
			return &Doc{Kind: KindAssets, Version: versionOf(ns, nsAssets)}, nil
		default:
			return nil, errcode.New(errcode.MTConnectMalformed, "root element <%s> is not an MTConnect document", clip(se.Name.Local))
		}
		if ns != "" && !strings.HasPrefix(ns, prefix) {
			return nil, errcode.New(errcode.MTConnectMalformed, "<%s> has namespace %q, want %s<version>", se.Name.Local, clip(ns), prefix)
		}
		doc.Version = versionOf(ns, prefix)
		if err := dec.DecodeElement(target, &se); err != nil {
			return nil, malformed(err, dec)
		}
		if err := doc.check(); err != nil {
			return nil, err
		}
		return doc, nil
	}
}

func versionOf(ns, prefix string) string {
	if strings.HasPrefix(ns, prefix) {
		return ns[len(prefix):]
	}
	return ""
}

// check validates what the decoder cannot: the fields a client relies on.
func (d *Doc) check() error {
	switch d.Kind {
	case KindStreams:
		h := &d.Streams.Header
		if h.NextSequence > 0 && h.FirstSequence > h.NextSequence {
			return errcode.New(errcode.MTConnectMalformed, "streams header firstSequence %d is after nextSequence %d", h.FirstSequence, h.NextSequence)
		}
		var bad error
		d.Streams.Each(func(_ *DeviceStream, _ string, o *Observation) {
			o.XMLName.Space = "" // written again under the root's namespace
			if bad == nil && o.DataItemID == "" {
				bad = errcode.New(errcode.MTConnectMalformed, "observation <%s> has no dataItemId", clip(o.Element()))
			}
		})
		return bad
	case KindDevices:
		var bad error
		for i := range d.Devices.Devices.Items {
			d.Devices.Devices.Items[i].Walk(func(c, _ *Component) {
				c.XMLName.Space = ""
				for _, it := range c.Items() {
					if bad == nil && it.ID == "" {
						bad = errcode.New(errcode.MTConnectMalformed, "data item of type %q in component %q has no id", clip(it.Type), clip(c.ID))
					}
				}
			})
		}
		return bad
	}
	return nil
}

// Err turns an MTConnectError document into an MTConnectAgentError whose
// message lists its error codes and texts.
func (e *ErrorDoc) Err() error {
	all := e.All()
	if len(all) == 0 {
		return errcode.New(errcode.MTConnectAgentError, "agent answered with an empty MTConnectError")
	}
	parts := make([]string, 0, len(all))
	for _, x := range all {
		parts = append(parts, strings.TrimSpace(x.Code+" "+clip(strings.TrimSpace(x.Text))))
	}
	return errcode.New(errcode.MTConnectAgentError, "agent error %s", strings.Join(parts, "; "))
}

// Has reports whether the document carries the error code c.
func (e *ErrorDoc) Has(c string) bool {
	for _, x := range e.All() {
		if x.Code == c {
			return true
		}
	}
	return false
}

func malformed(err error, dec *xml.Decoder) error {
	return errcode.Wrap(errcode.MTConnectMalformed, err, "mtconnect xml at byte %d", dec.InputOffset())
}

// charsetReader accepts the encodings MTConnect documents declare; they
// are UTF-8 in practice, and ASCII is a subset.
func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return input, nil
	}
	return nil, fmt.Errorf("unsupported charset %q", clip(charset))
}

// clip shortens text from a peer for an error message.
func clip(s string) string {
	const max = 80
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
