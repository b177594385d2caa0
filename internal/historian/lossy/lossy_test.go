package lossy

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

func fs(t int64, v float64) model.Sample {
	return model.Sample{Tag: "t", Source: t, Value: model.FloatValue(model.Float64, v)}
}

// randomWalk makes n float samples with irregular spacing, sometimes flat,
// sometimes ramps, sometimes steps.
func randomWalk(r *rand.Rand, n int) []model.Sample {
	ss := make([]model.Sample, n)
	t, x, slope := int64(0), 0.0, 0.0
	for i := range ss {
		t += int64(1+r.IntN(3)) * 1e9
		switch r.IntN(20) {
		case 0:
			slope = r.NormFloat64()
		case 1:
			x += r.NormFloat64() * 10
		case 2:
			slope = 0
		}
		x += slope + r.NormFloat64()*0.3
		ss[i] = fs(t, x)
	}
	return ss
}

func run(f *Filter, ss []model.Sample) []model.Sample {
	var out []model.Sample
	for _, s := range ss {
		out = append(out, f.Offer(s)...)
	}
	return append(out, f.Flush()...)
}

func checkOrdered(t *testing.T, out []model.Sample) {
	t.Helper()
	for i := 1; i < len(out); i++ {
		if out[i].Source < out[i-1].Source {
			t.Fatalf("emitted out of order at %d: %d after %d", i, out[i].Source, out[i-1].Source)
		}
	}
}

// interp is the value at t of the line through the emitted samples.
func interp(out []model.Sample, t int64) float64 {
	i := 0
	for i+1 < len(out) && out[i+1].Source <= t {
		i++
	}
	a := out[i]
	if a.Source == t || i+1 >= len(out) {
		return a.Value.Float()
	}
	b := out[i+1]
	return a.Value.Float() + (b.Value.Float()-a.Value.Float())*float64(t-a.Source)/float64(b.Source-a.Source)
}

func TestSwingingDoorWithinCompDev(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for run_ := range 300 {
		ss := randomWalk(r, 1+r.IntN(400))
		dev := []float64{0.01, 0.1, 0.5, 2, 10}[r.IntN(5)]
		st := Settings{CompDev: dev}
		if r.IntN(3) == 0 {
			st.CompMax = Duration(time.Duration(5+r.IntN(60)) * time.Second)
		}
		out := run(New(st), ss)
		checkOrdered(t, out)
		if out[0] != ss[0] || out[len(out)-1] != ss[len(ss)-1] {
			t.Fatalf("run %d: first and last samples must be kept", run_)
		}
		j := 0
		for _, s := range ss {
			for j < len(out) && out[j].Source < s.Source {
				j++
			}
			if got := interp(out, s.Source); math.Abs(got-s.Value.Float()) > dev*(1+1e-9)+1e-9 {
				t.Fatalf("run %d (dev %v): sample at %d = %v, interpolation %v", run_, dev, s.Source, s.Value.Float(), got)
			}
		}
		if st.CompMax > 0 {
			for i := 1; i < len(out); i++ {
				// A gap between kept samples longer than CompMax can only
				// come from a gap in the input.
				if g := out[i].Source - out[i-1].Source; g > int64(st.CompMax)+3e9 {
					t.Fatalf("run %d: kept samples %v apart, comp_max %v", run_, time.Duration(g), time.Duration(st.CompMax))
				}
			}
		}
	}
}

func TestExceptionWithinExcDev(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	for run_ := range 300 {
		ss := randomWalk(r, 1+r.IntN(400))
		dev := []float64{0.01, 0.1, 0.5, 2, 10}[r.IntN(5)]
		st := Settings{ExcDev: dev}
		if r.IntN(3) == 0 {
			st.ExcMax = Duration(time.Duration(5+r.IntN(60)) * time.Second)
		}
		out := run(New(st), ss)
		checkOrdered(t, out)
		j := -1
		for _, s := range ss {
			for j+1 < len(out) && out[j+1].Source <= s.Source {
				j++
			}
			if d := math.Abs(out[j].Value.Float() - s.Value.Float()); d > dev {
				t.Fatalf("run %d: sample at %d is %v from the last reported", run_, s.Source, d)
			}
			if st.ExcMax > 0 && s.Source-out[j].Source > int64(st.ExcMax) {
				t.Fatalf("run %d: sample at %d more than exc_max after the last reported", run_, s.Source)
			}
		}
	}
}

func TestBothStagesWithinSum(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for run_ := range 100 {
		ss := randomWalk(r, 300)
		st := Settings{ExcDev: 0.2, CompDev: 0.5}
		out := run(New(st), ss)
		checkOrdered(t, out)
		for _, s := range ss {
			if got := interp(out, s.Source); math.Abs(got-s.Value.Float()) > 2*0.2+0.5+1e-9 {
				t.Fatalf("run %d: sample at %d = %v, reconstruction %v", run_, s.Source, s.Value.Float(), got)
			}
		}
	}
}

func TestBadAndQualityChangesPass(t *testing.T) {
	f := New(Settings{ExcDev: 100, CompDev: 100})
	ss := []model.Sample{fs(1, 1), fs(2, 1.5), fs(3, 2), fs(4, 2.5)}
	bad := model.Sample{Tag: "t", Source: 5, Quality: model.BadTimeout}
	bad2 := model.Sample{Tag: "t", Source: 6, Quality: model.BadTimeout}
	unc := fs(7, 3)
	unc.Quality = model.UncertainLastUsableValue
	ss = append(ss, bad, bad2, unc, fs(8, 3), fs(9, 3.1))
	out := run(f, ss)
	has := func(s model.Sample) bool {
		for _, o := range out {
			if o == s {
				return true
			}
		}
		return false
	}
	for _, s := range []model.Sample{ss[0], fs(4, 2.5), bad, bad2, unc, fs(8, 3)} {
		if !has(s) {
			t.Errorf("sample at %d (%v) not kept; got %v", s.Source, s.Quality, out)
		}
	}
	if has(fs(2, 1.5)) || has(fs(3, 2)) {
		t.Errorf("samples within the deviations kept: %v", out)
	}
	checkOrdered(t, out)
}

func TestStringsAndBools(t *testing.T) {
	f := New(Settings{ExcDev: 1, CompDev: 1})
	var ss []model.Sample
	for i, b := range []bool{false, false, true, true, true, false} {
		ss = append(ss, model.Sample{Source: int64(i), Value: model.BoolValue(b)})
	}
	out := run(f, ss)
	// Every change is kept, with the sample before it so steps stay steps.
	want := []int64{0, 1, 2, 4, 5}
	if len(out) != len(want) {
		t.Fatalf("bool: kept %v", out)
	}
	for i, s := range out {
		if s.Source != want[i] {
			t.Fatalf("bool: kept %v, want times %v", out, want)
		}
	}
	f = New(Settings{ExcDev: 1})
	out = run(f, []model.Sample{{Source: 1, Value: model.StringValue("a")}, {Source: 2, Value: model.StringValue("a")}, {Source: 3, Value: model.StringValue("b")}})
	if len(out) != 3 {
		t.Fatalf("string: kept %v", out)
	}
}

func TestSettings(t *testing.T) {
	var s Settings
	if err := json.Unmarshal([]byte(`{"exc_dev":0.5,"exc_max":"10m","comp_dev":1,"comp_max":"1d"}`), &s); err != nil {
		t.Fatal(err)
	}
	if s.ExcMax != Duration(10*time.Minute) || s.CompMax != Duration(24*time.Hour) || s.IsZero() {
		t.Fatalf("parsed %+v", s)
	}
	b, _ := json.Marshal(s)
	var s2 Settings
	if err := json.Unmarshal(b, &s2); err != nil || s2 != s {
		t.Fatalf("round trip %s: %+v %v", b, s2, err)
	}
	if got := s.String(); got != "excdev=0.5 excmax=10m0s compdev=1 compmax=24h0m0s" {
		t.Errorf("String = %q", got)
	}
	for _, bad := range []Settings{{ExcDev: -1}, {CompDev: math.NaN()}, {CompDev: 1, CompMin: Duration(time.Hour), CompMax: Duration(time.Minute)}, {ExcMin: -1}} {
		if errcode.Of(bad.Validate()) != errcode.LossySettings {
			t.Errorf("%+v validates", bad)
		}
	}
	if err := json.Unmarshal([]byte(`{"comp_max":"forever"}`), &s); errcode.Of(err) != errcode.LossySettings {
		t.Errorf("bad duration: %v", err)
	}
	// Zero settings keep everything.
	ss := randomWalk(rand.New(rand.NewPCG(1, 2)), 100)
	if out := run(New(Settings{}), ss); len(out) != len(ss) {
		t.Errorf("lossless filter kept %d of %d", len(out), len(ss))
	}
}

// simSignals are like the simulator's: a noisy sine, a slow ramp with
// steps, a quantised level.
func simSignals() map[string][]model.Sample {
	r := rand.New(rand.NewPCG(3, 3))
	n := 86400
	out := map[string][]model.Sample{}
	var sine, ramp, level []model.Sample
	x := 0.0
	for i := range n {
		t := int64(i) * 1e9
		sine = append(sine, fs(t, 50+20*math.Sin(float64(i)/600)+r.NormFloat64()*0.05))
		if i%3600 == 0 {
			x += 5
		}
		ramp = append(ramp, fs(t, x+float64(i%3600)/360))
		level = append(level, fs(t, math.Round((70+10*math.Sin(float64(i)/3000))*10)/10))
	}
	out["sine"], out["ramp"], out["level"] = sine, ramp, level
	return out
}

func TestCompressionRatioOnSimSignals(t *testing.T) {
	for name, ss := range simSignals() {
		for _, st := range []Settings{{ExcDev: 0.1}, {CompDev: 0.1}, {ExcDev: 0.05, CompDev: 0.1, CompMax: Duration(8 * time.Hour)}} {
			out := run(New(st), ss)
			ratio := float64(len(ss)) / float64(len(out))
			t.Logf("%-5s %-40s kept %6d of %d: ratio %.1f", name, st, len(out), len(ss), ratio)
			if ratio < 2 {
				t.Errorf("%s %s: ratio %.1f; a smooth signal must compress", name, st, ratio)
			}
		}
	}
}

func BenchmarkSwingingDoor(b *testing.B) {
	ss := simSignals()["sine"]
	f := New(Settings{CompDev: 0.1})
	b.ResetTimer()
	for i := range b.N {
		f.Offer(ss[i%len(ss)])
		if i%len(ss) == len(ss)-1 {
			f.Flush()
		}
	}
}
