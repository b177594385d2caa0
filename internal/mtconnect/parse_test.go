package mtconnect

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/otlink/otlink/internal/errcode"
)

// A streams document as cppagent 2.x writes it, abridged.
const streamsDoc = `<?xml version="1.0" encoding="UTF-8"?>
<MTConnectStreams xmlns:m="urn:mtconnect.org:MTConnectStreams:2.0" xmlns="urn:mtconnect.org:MTConnectStreams:2.0">
  <Header creationTime="2025-03-01T08:00:01Z" sender="agent" instanceId="1700000000" version="2.0.0.12" bufferSize="131072" nextSequence="58" firstSequence="1" lastSequence="57"/>
  <Streams>
    <DeviceStream name="VMC-3Axis" uuid="000">
      <ComponentStream component="Rotary" name="C" componentId="c1">
        <Samples>
          <RotaryVelocity dataItemId="c2" timestamp="2025-03-01T08:00:00.5Z" name="Sspeed" sequence="41" subType="ACTUAL">1200.5</RotaryVelocity>
        </Samples>
        <Condition>
          <Fault dataItemId="c3" timestamp="2025-03-01T08:00:00.7Z" sequence="43" type="LOAD" nativeCode="OVL">spindle overload</Fault>
          <Warning dataItemId="c3" timestamp="2025-03-01T08:00:00.6Z" sequence="42" type="LOAD" nativeCode="HOT"/>
        </Condition>
      </ComponentStream>
      <ComponentStream component="Path" componentId="p1">
        <Events>
          <Execution dataItemId="exec" timestamp="2025-03-01T08:00:00Z" sequence="40">ACTIVE</Execution>
          <PartCount dataItemId="pc" timestamp="2025-03-01T08:00:00Z" sequence="44">UNAVAILABLE</PartCount>
          <VariableDataSet dataItemId="vars" timestamp="2025-03-01T08:00:00Z" sequence="45"><Entry key="a">1</Entry><Entry key="b">2</Entry></VariableDataSet>
        </Events>
      </ComponentStream>
    </DeviceStream>
  </Streams>
</MTConnectStreams>`

const devicesDoc = `<?xml version="1.0"?>
<MTConnectDevices xmlns="urn:mtconnect.org:MTConnectDevices:1.3">
  <Header creationTime="2025-03-01T08:00:00Z" sender="a" instanceId="5" version="1.3.0" bufferSize="16" assetBufferSize="1" assetCount="0"/>
  <Devices>
    <Device id="d1" name="VMC-3Axis" uuid="000">
      <Description manufacturer="Mazak" model="VTC" serialNumber="123">a mill</Description>
      <DataItems><DataItem id="avail" category="EVENT" type="AVAILABILITY"/></DataItems>
      <Components>
        <Axes id="a"><Components>
          <Rotary id="c1" name="C"><DataItems>
            <DataItem id="c2" name="Sspeed" category="SAMPLE" type="ROTARY_VELOCITY" subType="ACTUAL" units="REVOLUTION/MINUTE"/>
          </DataItems></Rotary>
        </Components></Axes>
      </Components>
    </Device>
  </Devices>
</MTConnectDevices>`

func TestParseStreams(t *testing.T) {
	doc, err := Parse([]byte(streamsDoc))
	if err != nil {
		t.Fatal(err)
	}
	if doc.Kind != KindStreams || doc.Version != "2.0" {
		t.Fatalf("kind %v version %q", doc.Kind, doc.Version)
	}
	h := doc.Streams.Header
	if h.InstanceID != 1700000000 || h.NextSequence != 58 || h.FirstSequence != 1 || h.LastSequence != 57 {
		t.Fatalf("header %+v", h)
	}
	var got []string
	doc.Streams.Each(func(d *DeviceStream, cat string, o *Observation) {
		got = append(got, cat+" "+o.Element()+" "+o.DataItemID+" "+strings.TrimSpace(o.Value)+" "+o.NativeCode)
	})
	want := []string{
		"SAMPLE RotaryVelocity c2 1200.5 ",
		"CONDITION Fault c3 spindle overload OVL",
		"CONDITION Warning c3  HOT",
		"EVENT Execution exec ACTIVE ",
		"EVENT PartCount pc UNAVAILABLE ",
		"EVENT VariableDataSet vars  ", // the value is in its entries
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("observations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var ds *Observation
	doc.Streams.Each(func(_ *DeviceStream, _ string, o *Observation) {
		if o.DataItemID == "vars" {
			ds = o
		}
	})
	if len(ds.Entries) != 2 || ds.Entries[1].Key != "b" {
		t.Fatalf("entries %+v", ds.Entries)
	}
	if ts := ParseTime("2025-03-01T08:00:00.5Z"); ts.UnixMilli()%1000 != 500 {
		t.Fatalf("time %v", ts)
	}
}

func TestParseDevices(t *testing.T) {
	doc, err := Parse([]byte(devicesDoc))
	if err != nil {
		t.Fatal(err)
	}
	if doc.Kind != KindDevices || doc.Version != "1.3" {
		t.Fatalf("kind %v version %q", doc.Kind, doc.Version)
	}
	devs := doc.Devices.List()
	if len(devs) != 1 || devs[0].Description.Manufacturer != "Mazak" || devs[0].Type() != "Device" {
		t.Fatalf("devices %+v", devs)
	}
	var ids []string
	devs[0].Walk(func(c, _ *Component) {
		for _, it := range c.Items() {
			ids = append(ids, c.Type()+":"+it.ID+":"+it.Units)
		}
	})
	if strings.Join(ids, ",") != "Device:avail:,Rotary:c2:REVOLUTION/MINUTE" {
		t.Fatalf("items %v", ids)
	}
}

func TestRoundTrip(t *testing.T) {
	doc, err := Parse([]byte(streamsDoc))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteStreams(&b, doc.Streams); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `xmlns="urn:mtconnect.org:MTConnectStreams:2.0"`) || strings.Count(b.String(), "xmlns=") != 1 {
		t.Fatalf("namespace written wrong:\n%s", b.String()[:300])
	}
	again, err := Parse(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var n1, n2 int
	doc.Streams.Each(func(*DeviceStream, string, *Observation) { n1++ })
	again.Streams.Each(func(*DeviceStream, string, *Observation) { n2++ })
	if n1 != n2 || again.Streams.Header != doc.Streams.Header {
		t.Fatalf("round trip: %d vs %d observations, header %+v", n1, n2, again.Streams.Header)
	}
	d, _ := Parse([]byte(devicesDoc))
	b.Reset()
	if err := WriteDevices(&b, d.Devices); err != nil {
		t.Fatal(err)
	}
	if d2, err := Parse(b.Bytes()); err != nil || d2.Version != "1.3" || len(d2.Devices.List()[0].Children()) != 1 {
		t.Fatalf("devices round trip: %v\n%s", err, b.String())
	}
}

func TestParseErrors(t *testing.T) {
	ok := `<MTConnectError xmlns="urn:mtconnect.org:MTConnectError:1.1"><Header creationTime="x" sender="s" instanceId="1" version="1.1" bufferSize="1"/><Errors><Error errorCode="OUT_OF_RANGE">from too low</Error></Errors></MTConnectError>`
	doc, err := Parse([]byte(ok))
	if err != nil || doc.Kind != KindError || !doc.Error.Has(ErrOutOfRange) {
		t.Fatalf("%+v %v", doc, err)
	}
	if e := doc.Error.Err(); errcode.Of(e) != errcode.MTConnectAgentError || !strings.Contains(e.Error(), "OUT_OF_RANGE from too low") {
		t.Fatalf("error %v", e)
	}
	v10 := `<MTConnectError><Header/><Error errorCode="NO_DEVICE">x</Error></MTConnectError>`
	if doc, err := Parse([]byte(v10)); err != nil || !doc.Error.Has(ErrNoDevice) {
		t.Fatalf("1.0 error: %+v %v", doc, err)
	}
	for name, in := range map[string]string{
		"empty":      "",
		"not xml":    "HTTP/1.1 200 OK",
		"html":       "<html><body>hi</body></html>",
		"namespace":  `<MTConnectStreams xmlns="urn:example:other"><Header/></MTConnectStreams>`,
		"truncated":  streamsDoc[:len(streamsDoc)/2],
		"bad seq":    `<MTConnectStreams><Header instanceId="1" nextSequence="x"/></MTConnectStreams>`,
		"no item id": `<MTConnectStreams><Header/><Streams><DeviceStream><ComponentStream><Events><Execution sequence="1">A</Execution></Events></ComponentStream></DeviceStream></Streams></MTConnectStreams>`,
		"first>next": `<MTConnectStreams><Header nextSequence="5" firstSequence="9"/></MTConnectStreams>`,
		"entity":     `<!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><MTConnectStreams><Header sender="&b;"/></MTConnectStreams>`,
		"charset":    `<?xml version="1.0" encoding="EBCDIC"?><MTConnectStreams/>`,
		"item no id": `<MTConnectDevices><Header/><Devices><Device id="d" name="d"><DataItems><DataItem type="X" category="EVENT"/></DataItems></Device></Devices></MTConnectDevices>`,
	} {
		_, err := Parse([]byte(in))
		if errcode.Of(err) != errcode.MTConnectMalformed {
			t.Errorf("%s: want OTL-2304, got %v", name, err)
		}
	}
}

func TestReadAllBounded(t *testing.T) {
	big := io.LimitReader(zeros{}, 1<<30)
	_, err := ReadAll(big, 1<<20)
	if errcode.Of(err) != errcode.MTConnectTooLarge {
		t.Fatalf("want OTL-2305, got %v", err)
	}
	b, err := ReadAll(strings.NewReader("abc"), 3)
	if err != nil || string(b) != "abc" {
		t.Fatalf("%q %v", b, err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestPascalCase(t *testing.T) {
	for in, want := range map[string]string{"SPINDLE_SPEED": "SpindleSpeed", "PART_COUNT": "PartCount", "X": "X", "x:MY_TYPE": "x:MyType"} {
		if got := PascalCase(in); got != want {
			t.Errorf("PascalCase(%q) = %q, want %q", in, got, want)
		}
	}
}
