package modbus

import (
	"bytes"
	"testing"
)

// TestReportServerID: FC 17 requests and replies decode, encode and frame
// on RTU; the reply's data splits into id, run indicator and the rest.
func TestReportServerID(t *testing.T) {
	var q Request
	if err := q.Decode([]byte{0x11}); err != nil || q.Function != FuncReportServerID || len(q.Data) != 0 {
		t.Fatalf("request: %+v %v", q, err)
	}
	if got := q.Append(nil); !bytes.Equal(got, []byte{0x11}) {
		t.Fatalf("request re-encoded % X", got)
	}
	// Bytes after the code (a scanner's padding) are kept, not refused.
	if err := q.Decode([]byte{0x11, 0, 0, 0, 0}); err != nil || len(q.Data) != 4 {
		t.Fatalf("padded request: %+v %v", q, err)
	}
	if n, err := RTURequestLen([]byte{1, 0x11}); n != 4 || err != nil {
		t.Fatalf("rtu request length %d %v", n, err)
	}

	pdu := AppendReportServerIDResponse(nil, 180, true, []byte("LMB3.1.6"))
	var r Response
	if err := r.DecodeFor(&Request{Function: FuncReportServerID}, pdu); err != nil {
		t.Fatal(err)
	}
	id, run, hasRun, extra := r.ServerID()
	if id != 180 || !run || !hasRun || string(extra) != "LMB3.1.6" {
		t.Fatalf("server id %d run %v/%v extra %q", id, run, hasRun, extra)
	}
	frame := AppendRTU(nil, 1, pdu)
	if n, err := RTUResponseLen(frame); n != len(frame) || err != nil {
		t.Fatalf("rtu response length %d of %d: %v", n, len(frame), err)
	}
	for _, c := range []struct {
		pdu  []byte
		want error
	}{
		{[]byte{0x11}, ErrTruncated},
		{[]byte{0x11, 3, 1, 0xFF}, ErrTruncated},
		{[]byte{0x11, 1, 1, 0xFF}, ErrBadLength},
	} {
		if err := r.Decode(c.pdu); err != c.want {
			t.Errorf("% X: %v, want %v", c.pdu, err, c.want)
		}
	}
	// Only an id: no run indicator.
	if err := r.Decode([]byte{0x11, 1, 7}); err != nil {
		t.Fatal(err)
	}
	if id, _, hasRun, extra := r.ServerID(); id != 7 || hasRun || extra != nil {
		t.Fatalf("id-only reply: %d %v %q", id, hasRun, extra)
	}
	if err := r.Decode([]byte{0x91, 0x01}); err != nil || r.Exception != ExIllegalFunction {
		t.Fatalf("exception: %+v %v", r, err)
	}
}
