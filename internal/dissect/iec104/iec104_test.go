package iec104

import (
	"bytes"
	"strings"
	"testing"

	"github.com/otlink/otlink/internal/dissect"
)

func TestEncodedAPDUs(t *testing.T) {
	startdt := []byte{0x68, 4, 0x07, 0, 0, 0}
	// C_SC_NA_1 activation, common address 7, IOA 0x010203, SCO on.
	sc := []byte{0x68, 14, 0, 0, 0, 0, 45, 1, 6, 0, 7, 0, 3, 2, 1, 1}
	// M_ME_NC_1 spontaneous, SQ=1, two floats from IOA 100: 1.5 and -2.
	me := []byte{0x68, 23, 2, 0, 2, 0, 13, 0x82, 3, 0, 7, 0, 100, 0, 0, 0, 0, 0xc0, 0x3f, 0, 0, 0, 0, 0xc0, 0}
	// C_CS_NA_1 clock sync with a negative confirmation.
	cs := []byte{0x68, 20, 4, 0, 4, 0, 103, 1, 0x47, 0, 7, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7}
	stream := bytes.Join([][]byte{startdt, []byte{1, 2, 3}, sc, me, cs}, nil)
	for _, seg := range []int{1, 5, 1000} {
		var got []dissect.PDU
		p := Dissector{}.NewParser()
		for b := stream; len(b) > 0; {
			k := min(seg, len(b))
			p.Data(dissect.Meta{T: dissect.TCP}, b[:k], func(q *dissect.PDU) {
				c := *q
				c.Objects = append([]dissect.Object(nil), q.Objects...)
				for i := range c.Objects { // the parser reuses its slices
					c.Objects[i].Values = append([]float64(nil), c.Objects[i].Values...)
				}
				got = append(got, c)
			})
			b = b[k:]
		}
		var names []string
		for _, q := range got {
			names = append(names, q.Name+"/"+q.Action.String()+"/"+q.Malformed)
		}
		want := "STARTDT act/connect/|/other/garbage before an apdu start 0x68|C_SC_NA_1/write/|M_ME_NC_1/data/|C_CS_NA_1/time_set/"
		if strings.Join(names, "|") != want {
			t.Fatalf("segments of %d: %q", seg, names)
		}
		if q := got[2]; q.Function != 45 || q.Counting != dissect.CountFunction || q.Unit != 7 || !q.Request ||
			len(q.Objects) != 1 || q.Objects[0].Start != 0x010203 || q.Objects[0].Values[0] != 1 {
			t.Fatalf("single command: %+v", q)
		}
		if q := got[3]; len(q.Objects) != 1 || q.Objects[0].Start != 100 || q.Objects[0].Count != 2 ||
			q.Objects[0].Values[0] != 1.5 || q.Objects[0].Values[1] != -2 {
			t.Fatalf("floats: %+v", q.Objects)
		}
		if q := got[4]; q.Exception != 0x47 || !q.Response {
			t.Fatalf("negative confirmation: %+v", q)
		}
		if got[0].Counting != dissect.CountNone {
			t.Fatal("u frames are not counted")
		}
	}
}
