package agent

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/otlink/otlink/internal/mtconnect"
)

// ids returns the data item ids of a streams document, sorted.
func ids(doc *mtconnect.Doc) []string {
	var out []string
	doc.Streams.Each(func(_ *mtconnect.DeviceStream, _ string, o *mtconnect.Observation) { out = append(out, o.DataItemID) })
	slices.Sort(out)
	return out
}

// TestPathFilters: the XPath forms MTConnect clients send select the data
// items they name and those below the components they name, on current
// and sample, with a device in the URL too.
func TestPathFilters(t *testing.T) {
	_, srv := newAgent(t, 64)
	for path, want := range map[string]string{
		`//DataItem[@type="EXECUTION"]`:                              "exec",
		`//DataItem[@category="SAMPLE"]`:                             "speed",
		`//Controller`:                                               "exec speed sys",
		`//Controller//DataItem[@category='CONDITION']`:              "sys",
		`//Device[@name="mill"]/DataItems/DataItem`:                  "avail",
		`//Device[@uuid="u-mill"]`:                                   "avail exec speed sys",
		`/MTConnectDevices/Devices/Device/Components/*`:              "exec speed sys",
		`//DataItem[@type="EXECUTION" or @type="AVAILABILITY"]`:      "avail exec",
		`//DataItem[@category="EVENT" and @type="EXECUTION"]`:        "exec",
		`//DataItem[@id="speed"] | //DataItem[@id="avail"]`:          "avail speed",
		`//*[@units="REVOLUTION/MINUTE"]`:                            "speed",
		`Controller`:                                                 "exec speed sys",
		`//DataItem[@category="EVENT"][@type="EXECUTION"]`:           "exec",
		`//Components/Controller/DataItems/DataItem[@type="SYSTEM"]`: "sys",
		`  //DataItem [ @type = "EXECUTION" ]  `:                     "exec",
	} {
		for _, req := range []string{"/current?path=", "/mill/current?path=", "/sample?path="} {
			st, doc := get(t, srv.URL+req+url.QueryEscape(path))
			if st != 200 || doc.Kind != mtconnect.KindStreams {
				t.Errorf("%s%s: status %d %+v", req, path, st, doc.Error)
				continue
			}
			if got := strings.Join(ids(doc), " "); got != want {
				t.Errorf("%s%s: %q, want %q", req, path, got, want)
			}
		}
	}
	for _, bad := range []string{`//`, `//DataItem[`, `//DataItem[@type]`, `//DataItem[@type="x"`, `//DataItem[@type=x]`,
		`//DataItem[@type="EXECUTION"]junk`, `//DataItem/..`, `//ancestor::Device`, `//DataItem[last()]`, `|`, strings.Repeat("/a", 40),
		strings.Repeat("x", maxPath+1), `//DataItem[@type="NOPE"]`} {
		st, doc := get(t, srv.URL+"/current?path="+url.QueryEscape(bad))
		if st != 400 || doc.Kind != mtconnect.KindError || !doc.Error.Has(mtconnect.ErrInvalidXPath) {
			t.Errorf("path %.40q: status %d, want INVALID_XPATH", bad, st)
		}
	}
}

// TestCurrentAt: current?at=N answers each item's observation as it was
// at sequence N, also after older observations left the buffer, and only
// within the buffer.
func TestCurrentAt(t *testing.T) {
	a, srv := newAgent(t, 8)  // four UNAVAILABLE observations: 1..4
	for i := 1; i <= 6; i++ { // speed 100..600: sequences 5..10; 1..3 leave the buffer
		a.Add(Update{ID: "speed", Value: fmt.Sprint(i * 100), Time: t0})
	}
	a.Add(Update{ID: "exec", Value: "ACTIVE", Time: t0}) // 11
	first, next := a.Sequences()
	if first != 4 || next != 12 {
		t.Fatalf("buffer %d..%d", first, next)
	}
	values := func(q string) map[string]string {
		t.Helper()
		st, doc := get(t, srv.URL+"/current?"+q)
		if st != 200 {
			t.Fatalf("%s: %d %+v", q, st, doc.Error)
		}
		out := map[string]string{}
		doc.Streams.Each(func(_ *mtconnect.DeviceStream, _ string, o *mtconnect.Observation) {
			out[o.DataItemID] = fmt.Sprintf("%s@%d", o.Value, o.Sequence)
			if o.Element() == "Unavailable" {
				out[o.DataItemID] = fmt.Sprintf("UNAVAILABLE@%d", o.Sequence)
			}
		})
		return out
	}
	for q, want := range map[string]string{
		"at=4":  "avail=UNAVAILABLE@1 exec=UNAVAILABLE@3 speed=UNAVAILABLE@2 sys=UNAVAILABLE@4",
		"at=7":  "avail=UNAVAILABLE@1 exec=UNAVAILABLE@3 speed=300@7 sys=UNAVAILABLE@4",
		"at=10": "avail=UNAVAILABLE@1 exec=UNAVAILABLE@3 speed=600@10 sys=UNAVAILABLE@4",
		"at=11": "avail=UNAVAILABLE@1 exec=ACTIVE@11 speed=600@10 sys=UNAVAILABLE@4",
		"at=6&path=" + url.QueryEscape(`//DataItem[@type="ROTARY_VELOCITY"]`): "speed=200@6",
	} {
		var got []string
		for k, v := range values(q) {
			got = append(got, k+"="+v)
		}
		slices.Sort(got)
		if strings.Join(got, " ") != want {
			t.Errorf("current?%s: %v, want %s", q, got, want)
		}
	}
	if st, doc := get(t, srv.URL+"/current?at=3"); st != 404 || !doc.Error.Has(mtconnect.ErrOutOfRange) {
		t.Errorf("at before the buffer: %d", st)
	}
	if st, doc := get(t, srv.URL+"/current?path="+url.QueryEscape("//DataItem[@type!='x']")); st != 400 || !doc.Error.Has(mtconnect.ErrInvalidXPath) {
		t.Errorf("!= comparison: %d", st)
	}
	if st, doc := get(t, srv.URL+"/current?at=11"); st != 200 || doc.Streams.Header.NextSequence != 12 {
		t.Errorf("at=11 header %+v", doc.Streams.Header)
	}
}

// FuzzPath: any path= text gives a selection or INVALID_XPATH, never a
// panic, and only ever selects existing items.
func FuzzPath(f *testing.F) {
	for _, s := range []string{`//DataItem[@type="EXECUTION"]`, `//Controller`, `/MTConnectDevices/Devices/Device/Components/*`,
		`//DataItem[@category="EVENT" and @type="X" or @id='y'] | //Device`, `//*[@a="]"]`, `//DataItem[@type=`, `|//`, `a b`} {
		f.Add(s)
	}
	a, err := New([]mtconnect.Component{testDevice()}, Options{InstanceID: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		sel, rerr := a.pathFilter(expr, -1)
		if rerr != nil {
			if rerr.code != mtconnect.ErrInvalidXPath {
				t.Fatalf("%q: code %s", expr, rerr.code)
			}
			return
		}
		if len(sel) != len(a.items) {
			t.Fatalf("%q: %d flags for %d items", expr, len(sel), len(a.items))
		}
	})
}
