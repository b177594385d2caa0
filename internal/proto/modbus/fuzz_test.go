package modbus

import (
	"bytes"
	"testing"
)

// FuzzDecodeRequest checks that any bytes decode without panic and that a
// request that decodes re-encodes to the same bytes.
func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte{0x03, 0x00, 0x6B, 0x00, 0x03})
	f.Add([]byte{0x10, 0x00, 0x01, 0x00, 0x02, 0x04, 0x00, 0x0A, 0x01, 0x02})
	f.Add([]byte{0x2B, 0x0E, 0x01, 0x00})
	f.Add([]byte{0x11})
	f.Fuzz(func(t *testing.T, pdu []byte) {
		var q Request
		if err := q.Decode(pdu); err != nil {
			_ = ExceptionFor(err)
			return
		}
		if got := q.Append(nil); !bytes.Equal(got, pdu) {
			t.Fatalf("re-encoded % X from % X", got, pdu)
		}
		if _, err := RTURequestLen(AppendRTU(nil, 1, pdu)); err != nil {
			t.Fatalf("valid request % X has no RTU length: %v", pdu, err)
		}
	})
}

// FuzzDecodeResponse decodes standalone and against each kind of request;
// a valid reply must give an RTU length equal to its frame.
func FuzzDecodeResponse(f *testing.F) {
	f.Add([]byte{0x03, 0x04, 0x02, 0x2B, 0x00, 0x00})
	f.Add([]byte{0x83, 0x02})
	f.Add([]byte{0x2B, 0x0E, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 'A'})
	f.Add([]byte{0x11, 0x05, 0xB4, 0xFF, 'L', 'M', 'B'})
	reqs := []Request{
		{Function: 3, Quantity: 2}, {Function: 1, Quantity: 9},
		{Function: 6, Address: 1, Quantity: 1, Value: 3}, {Function: 43, MEIType: 14, DeviceIDCode: 1}, {Function: 17},
	}
	f.Fuzz(func(t *testing.T, pdu []byte) {
		var r Response
		err := r.Decode(pdu)
		for i := range reqs {
			_ = r.DecodeFor(&reqs[i], pdu)
		}
		if err != nil {
			return
		}
		_ = r.Err()
		for range r.Objects() {
		}
		frame := AppendRTU(nil, 1, pdu)
		n, err := RTUResponseLen(frame)
		if err != nil || n != len(frame) {
			t.Fatalf("valid reply % X: RTU length %d of %d, %v", pdu, n, len(frame), err)
		}
	})
}

// FuzzParseADU splits a stream chunk into frames as a reader would.
func FuzzParseADU(f *testing.F) {
	f.Add([]byte{0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x11, 0x03, 0x00, 0x6B, 0x00, 0x03})
	f.Add([]byte{0x00, 0x01, 0x00, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		for range 64 {
			a, n, err := ParseADU(b)
			if err != nil || n > len(b) {
				return
			}
			if n < MBAPHeaderLen+1 || len(a.PDU) != n-MBAPHeaderLen {
				t.Fatalf("frame length %d, pdu %d", n, len(a.PDU))
			}
			var r Response
			_ = r.Decode(a.PDU)
			b = b[n:]
		}
	})
}

// FuzzRTUFrame splits a byte stream into RTU frames both ways and checks
// CRC round trips.
func FuzzRTUFrame(f *testing.F) {
	f.Add([]byte{0x11, 0x03, 0x00, 0x6B, 0x00, 0x03, 0x76, 0x87})
	f.Add([]byte{0x01, 0x2B, 0x0E, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 'A', 0x00, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, lenFn := range []func([]byte) (int, error){RTURequestLen, RTUResponseLen} {
			s := b
			for range 64 {
				n, err := lenFn(s)
				if err != nil || n > len(s) {
					break
				}
				if n < 2 {
					t.Fatalf("length %d", n)
				}
				_, _, _ = DecodeRTU(s[:n])
				s = s[n:]
			}
		}
		if len(b) >= 1 && len(b) <= MaxPDU+1 {
			frame := AppendCRC(append([]byte(nil), b...))
			addr, pdu, err := DecodeRTU(frame)
			if len(frame) >= 4 && (err != nil || addr != b[0] || !bytes.Equal(pdu, b[1:])) {
				t.Fatalf("crc round trip of % X: %v", b, err)
			}
		}
	})
}
