package mtconnect

import (
	"encoding/xml"
	"io"
)

const xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

// version returns v or the default.
func version(v string) string {
	if v == "" {
		return DefaultVersion
	}
	return v
}

// schemaVersion is the namespace version of a header version: "2.0.0" and
// "2.0" both write the 2.0 namespace.
func schemaVersion(v string) string {
	v = version(v)
	dots := 0
	for i := 0; i < len(v); i++ {
		if v[i] == '.' {
			dots++
			if dots == 2 {
				return v[:i]
			}
		}
	}
	return v
}

// WriteDevices writes a probe document; the namespace follows
// d.Header.Version.
func WriteDevices(w io.Writer, d *Devices) error {
	c := *d
	c.XMLName = xml.Name{Local: "MTConnectDevices"}
	c.Xmlns = nsDevices + schemaVersion(d.Header.Version)
	return write(w, &c)
}

// WriteStreams writes a current or sample document.
func WriteStreams(w io.Writer, s *Streams) error {
	c := *s
	c.XMLName = xml.Name{Local: "MTConnectStreams"}
	c.Xmlns = nsStreams + schemaVersion(s.Header.Version)
	return write(w, &c)
}

// WriteError writes an MTConnectError document.
func WriteError(w io.Writer, e *ErrorDoc) error {
	c := *e
	c.XMLName = xml.Name{Local: "MTConnectError"}
	c.Xmlns = nsError + schemaVersion(e.Header.Version)
	return write(w, &c)
}

func write(w io.Writer, v any) error {
	if _, err := io.WriteString(w, xmlHeader); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	if err := enc.Encode(v); err != nil {
		return err
	}
	return enc.Close()
}
