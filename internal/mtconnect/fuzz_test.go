package mtconnect

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/otlink/otlink/internal/errcode"
)

func FuzzParse(f *testing.F) {
	f.Add([]byte(streamsDoc))
	f.Add([]byte(devicesDoc))
	f.Add([]byte(`<MTConnectError><Errors><Error errorCode="OUT_OF_RANGE">x</Error></Errors></MTConnectError>`))
	f.Add([]byte(`<MTConnectStreams><Header nextSequence="1"/></MTConnectStreams>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := Parse(data)
		if err != nil {
			if errcode.Of(err) != errcode.MTConnectMalformed {
				t.Fatalf("uncoded error %v", err)
			}
			return
		}
		// What parses must write and parse again.
		var b bytes.Buffer
		switch doc.Kind {
		case KindStreams:
			err = WriteStreams(&b, doc.Streams)
		case KindDevices:
			err = WriteDevices(&b, doc.Devices)
		case KindError:
			err = WriteError(&b, doc.Error)
		default:
			return
		}
		if err != nil {
			return // encoding/xml refuses some names it accepted; not ours to fix
		}
		if _, err := Parse(b.Bytes()); err != nil && errcode.Of(err) != errcode.MTConnectMalformed {
			t.Fatalf("re-parse: %v", err)
		}
	})
}

func FuzzPartReader(f *testing.F) {
	f.Add([]byte("--XX\r\nContent-type: text/xml\r\nContent-length: 5\r\n\r\n<a/>\n\r\n--XX\r\n\r\nabc\r\n--XX--\r\n"))
	f.Add([]byte("--XX\r\nContent-length: 99999\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pr := NewPartReader(bytes.NewReader(data), "XX", 4096)
		for i := 0; i < len(data)+2; i++ {
			b, err := pr.Next()
			if err != nil {
				if !errors.Is(err, io.EOF) && errcode.Of(err) == 0 {
					t.Fatalf("uncoded error %v", err)
				}
				return
			}
			if len(b) > 4096 {
				t.Fatalf("part of %d bytes above the limit", len(b))
			}
		}
		t.Fatal("more parts than bytes")
	})
}
