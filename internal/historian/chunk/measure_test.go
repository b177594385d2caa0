package chunk

import (
	"bufio"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/model"
	"github.com/otlink/otlink/internal/sim"
)

// Timestamp styles of the measured series.
const (
	tsGrid   = iota // exactly on the poll grid (the cycle's scheduled time)
	tsJitter        // reply arrival in ns: grid + 0..3 ms
	tsMilli         // arrival rounded to the millisecond
)

type signal struct {
	name string
	typ  model.Type
	get  func(v *sim.Values) model.Value
}

// simSignals are the tags a plant engineer configures for a simulated
// machine, typed as the Modbus driver delivers them (internal/sim
// regmap.go): float32 analogues, scaled integer registers (raw × gain
// gives a float64), state and alarm words, counters, coils and the
// program name.
func simSignals() []signal {
	f32 := func(name string, f func(v *sim.Values) float64) signal {
		return signal{name, model.Float32, func(v *sim.Values) model.Value { return model.FloatValue(model.Float32, float64(float32(f(v)))) }}
	}
	scaled := func(name string, gain float64, f func(v *sim.Values) float64) signal {
		return signal{name + "_raw", model.Float64, func(v *sim.Values) model.Value {
			return model.FloatValue(model.Float64, math.Round(f(v)/gain)*gain)
		}}
	}
	u := func(name string, typ model.Type, f func(v *sim.Values) uint64) signal {
		return signal{name, typ, func(v *sim.Values) model.Value { return model.UintValue(typ, f(v)) }}
	}
	b := func(name string, f func(v *sim.Values) bool) signal {
		return signal{name, model.Bool, func(v *sim.Values) model.Value { return model.BoolValue(f(v)) }}
	}
	return []signal{
		f32("spindle_speed", func(v *sim.Values) float64 { return v.SpindleSpeed }),
		f32("feed", func(v *sim.Values) float64 { return v.Feed }),
		f32("spindle_load", func(v *sim.Values) float64 { return v.SpindleLoad }),
		f32("spindle_temp", func(v *sim.Values) float64 { return v.SpindleTemp }),
		f32("coolant_temp", func(v *sim.Values) float64 { return v.CoolantTemp }),
		f32("ambient_temp", func(v *sim.Values) float64 { return v.AmbientTemp }),
		f32("vibration", func(v *sim.Values) float64 { return v.Vibration }),
		f32("power", func(v *sim.Values) float64 { return v.Power }),
		f32("energy", func(v *sim.Values) float64 { return v.Energy }),
		f32("cycle_time", func(v *sim.Values) float64 { return v.CycleTime }),
		f32("tool_wear", func(v *sim.Values) float64 { return v.ToolWear }),
		f32("x_pos", func(v *sim.Values) float64 { return v.XPos }),
		scaled("spindle_speed", 1, func(v *sim.Values) float64 { return v.SpindleSpeed }),
		scaled("spindle_load", 0.1, func(v *sim.Values) float64 { return v.SpindleLoad }),
		scaled("spindle_temp", 0.1, func(v *sim.Values) float64 { return v.SpindleTemp }),
		scaled("coolant_temp", 0.1, func(v *sim.Values) float64 { return v.CoolantTemp }),
		scaled("ambient_temp", 0.1, func(v *sim.Values) float64 { return v.AmbientTemp }),
		scaled("vibration", 0.01, func(v *sim.Values) float64 { return v.Vibration }),
		scaled("power", 0.1, func(v *sim.Values) float64 { return v.Power }),
		scaled("energy", 0.1, func(v *sim.Values) float64 { return v.Energy }),
		u("state", model.Uint16, func(v *sim.Values) uint64 { return uint64(v.State) }),
		u("alarm_word", model.Uint16, func(v *sim.Values) uint64 { return uint64(v.Alarms) }),
		u("good_count", model.Uint32, func(v *sim.Values) uint64 { return uint64(v.Good) }),
		u("scrap_count", model.Uint32, func(v *sim.Values) uint64 { return uint64(v.Scrap) }),
		u("feed_override", model.Uint16, func(v *sim.Values) uint64 { return uint64(v.FeedOverride) }),
		b("running", func(v *sim.Values) bool { return v.State == sim.StateRunning }),
		b("fault", func(v *sim.Values) bool { return v.State == sim.StateFault }),
		b("door_open", func(v *sim.Values) bool { return v.DoorOpen }),
		b("coolant_on", func(v *sim.Values) bool { return v.CoolantOn }),
		b("spindle_on", func(v *sim.Values) bool { return v.SpindleSpeed > 0 }),
		{"program", model.String, func(v *sim.Values) model.Value { return model.StringValue(v.Program) }},
	}
}

// simSeries runs three machines (mill, lathe, press) for n steps of 1 s
// and returns, per signal and machine, the series of samples.
func simSeries(n, style int) map[string][]model.Sample {
	sigs := simSignals()
	out := map[string][]model.Sample{}
	r := rand.New(rand.NewPCG(7, 7))
	for k, kind := range []sim.Kind{sim.KindMill, sim.KindLathe, sim.KindPress} {
		m := sim.NewMachine(sim.MachineConfig{Name: kind.String(), Kind: kind, Seed: uint64(k + 1), Step: time.Second})
		t0 := int64(1_750_000_000) * 1e9
		for i := range n {
			m.Step()
			v := m.Values()
			ts := t0 + int64(i)*1e9
			switch style {
			case tsJitter:
				ts += r.Int64N(3_000_000)
			case tsMilli:
				ts += r.Int64N(3_000_000) / 1e6 * 1e6
			}
			for _, sg := range sigs {
				key := kind.String() + "/" + sg.name
				out[key] = append(out[key], model.Sample{Value: sg.get(&v), Source: ts, Server: ts})
			}
		}
	}
	return out
}

// chunkBytes encodes ss in chunks of 4096 samples and returns the total size.
func chunkBytes(t testing.TB, ss []model.Sample) int {
	total := 0
	for len(ss) > 0 {
		n := min(len(ss), 4096)
		total += len(encode(t, ss[0].Value.T, ss[:n]))
		ss = ss[n:]
	}
	return total
}

// TestCompressionSim measures bytes per sample on simulator signals and
// holds the format to the historian's budget of 2 bytes per sample when
// timestamps are on the poll grid or in milliseconds.
func TestCompressionSim(t *testing.T) {
	n := 3 * 4096
	if testing.Short() {
		n = 4096
	}
	for _, style := range []int{tsGrid, tsMilli, tsJitter} {
		series := simSeries(n, style)
		keys := make([]string, 0, len(series))
		for k := range series {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var bytes, samples int
		perSig := map[string][2]int{}
		for _, k := range keys {
			ss := series[k]
			b := chunkBytes(t, ss)
			checkSame(t, ss[:100], decodeAll(t, encode(t, ss[0].Value.T, ss[:100])))
			bytes += b
			samples += len(ss)
			name := k[strings.IndexByte(k, '/')+1:]
			p := perSig[name]
			perSig[name] = [2]int{p[0] + b, p[1] + len(ss)}
		}
		bps := float64(bytes) / float64(samples)
		t.Logf("timestamps %s: %d signals, %d samples, %.3f bytes/sample", []string{"on grid", "ns jitter", "ms jitter"}[style], len(keys), samples, bps)
		if style == tsGrid {
			names := make([]string, 0, len(perSig))
			for k := range perSig {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				t.Logf("  %-22s %.3f", k, float64(perSig[k][0])/float64(perSig[k][1]))
			}
		}
		if style != tsJitter && bps > 2 {
			t.Errorf("%.3f bytes/sample on simulator signals, budget 2", bps)
		}
	}
}

func randomFloats(n int) []model.Sample {
	r := rand.New(rand.NewPCG(9, 9))
	ss := make([]model.Sample, n)
	for i := range ss {
		ts := int64(1_750_000_000)*1e9 + int64(i)*1e9
		ss[i] = model.Sample{Value: model.FloatValue(model.Float64, r.NormFloat64()*1000), Source: ts, Server: ts}
	}
	return ss
}

func TestCompressionRandom(t *testing.T) {
	ss := randomFloats(4 * 4096)
	bps := float64(chunkBytes(t, ss)) / float64(len(ss))
	t.Logf("random float64: %.3f bytes/sample", bps)
	// Random mantissas cannot compress: 8 bytes of value plus about one
	// bit of timestamp; more than 9 would mean the coding wastes space.
	if bps > 9 {
		t.Errorf("%.3f bytes/sample on random floats", bps)
	}
}

const tepDir = "../../../../shared/testdata/tep"

// readTEP reads the Braatz TEP test files (960 rows × 52 columns, one row
// per 3 minutes) into one series per column and file.
func readTEP(t testing.TB) [][]model.Sample {
	files, _ := filepath.Glob(filepath.Join(tepDir, "d*_te.dat"))
	if len(files) == 0 {
		t.Skipf("TEP data not found at %s (public data, not in the repository); skipping", tepDir)
	}
	var out [][]model.Sample
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		var cols [][]model.Sample
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		row := 0
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) == 0 {
				continue
			}
			if cols == nil {
				cols = make([][]model.Sample, len(fields))
			}
			ts := int64(1_750_000_000)*1e9 + int64(row)*180e9
			for j, s := range fields {
				x, err := strconv.ParseFloat(s, 64)
				if err != nil || j >= len(cols) {
					t.Fatalf("%s row %d: %v", f, row, err)
				}
				cols[j] = append(cols[j], model.Sample{Value: model.FloatValue(model.Float64, x), Source: ts, Server: ts})
			}
			row++
		}
		fh.Close()
		out = append(out, cols...)
	}
	return out
}

func TestCompressionTEP(t *testing.T) {
	series := readTEP(t)
	var bytes, samples, xorBytes int
	for _, ss := range series {
		bytes += chunkBytes(t, ss)
		samples += len(ss)
		// The same values through the XOR coder alone, for comparison.
		e := Encoder{typ: model.Float64}
		for _, s := range ss {
			e.vals = append(e.vals, int64(math.Float64bits(s.Value.Float())))
		}
		xorBytes += len(xorOnly(e.vals))
		checkSame(t, ss, decodeAll(t, encode(t, model.Float64, ss)))
	}
	t.Logf("TEP: %d series, %d samples, %.3f bytes/sample (values by XOR alone: %.3f)",
		len(series), samples, float64(bytes)/float64(samples), float64(xorBytes)/float64(samples))
}

func xorOnly(vals []int64) []byte {
	bw := bitWriter{}
	w := xorWriter{w: &bw, width: 64, field: 6}
	for _, v := range vals {
		w.add(uint64(v))
	}
	return bw.bytes()
}

func benchSeries(b *testing.B, name string, series [][]model.Sample) {
	var total int
	for _, ss := range series {
		total += len(ss)
	}
	b.Run("encode/"+name, func(b *testing.B) {
		e := NewEncoder(tagPath, series[0][0].Value.T)
		var buf []byte
		size := 0
		for b.Loop() {
			size = 0
			for _, ss := range series {
				e.Reset(tagPath, ss[0].Value.T)
				for _, s := range ss {
					_ = e.Append(s)
				}
				buf = e.AppendTo(buf[:0])
				size += len(buf)
			}
		}
		b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "samples/s")
		b.ReportMetric(float64(size)/float64(total), "bytes/sample")
	})
	chunks := make([][]byte, len(series))
	for i, ss := range series {
		chunks[i] = encode(b, ss[0].Value.T, ss)
	}
	b.Run("decode/"+name, func(b *testing.B) {
		var it Iter
		var sum int64
		for b.Loop() {
			for _, c := range chunks {
				r, err := Decode(c)
				if err != nil {
					b.Fatal(err)
				}
				it.Reset(r)
				for it.Next() {
					sum += it.At().Source
				}
			}
		}
		b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "samples/s")
	})
}

func BenchmarkChunk(b *testing.B) {
	var simS [][]model.Sample
	for _, ss := range simSeries(4096, tsGrid) {
		simS = append(simS, ss)
	}
	benchSeries(b, "sim", simS)
	benchSeries(b, "random", [][]model.Sample{randomFloats(4096), randomFloats(4096)})
}
