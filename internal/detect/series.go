package detect

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// series collects the events of one windowed detection for one key (a
// scanning host, a client/server pair...). Flows end out of time order, so
// events are kept and the window is slid over them sorted by time when the
// detection is finished; a full series is evaluated early and halved, so
// memory stays bounded on long captures.
type series struct {
	det      string
	key      string
	d        def
	proto    string
	window   int64
	n        int
	distinct bool
	assets   []string
	detail   string
	events   []event
	fired    bool  // the alert is raised; later events extend it until the series re-arms
	sup      bool  // a suppression covers the series' client (decided when it starts)
	dirty    bool  // events came since the last evaluation
	last     int64 // newest event time: quiet for a window re-arms a fired series
}

type event struct {
	t      int64
	target string
	ev     Evidence
}

// maxEvents bounds the events kept per series.
const maxEvents = 4096

// add records one event of a built-in windowed detection.
func (e *Engine) add(det, key, proto string, window time.Duration, n int, distinct bool, t int64, target string, ev Evidence, assets ...string) {
	e.addSeries(det, key, Detections[det], proto, window, n, distinct, t, target, ev, assets...)
}

func (e *Engine) addSeries(det, key string, d def, proto string, window time.Duration, n int, distinct bool, t int64, target string, ev Evidence, assets ...string) {
	// The key is built in a scratch buffer: a lookup with string(bytes)
	// does not allocate, only a new series' key does.
	e.kbuf = append(append(append(e.kbuf[:0], det...), '|'), key...)
	s := e.series[string(e.kbuf)]
	if s == nil {
		if len(e.series) >= e.th.MaxKeys {
			e.evictSeries()
		}
		s = &series{det: det, key: key, d: d, proto: proto, window: int64(window), n: n, distinct: distinct, assets: assets,
			sup: e.cfg.Rules.suppresses(det, e.curCli)}
		e.series[string(e.kbuf)] = s
	}
	e.seen(t)
	if t > s.last {
		s.last = t
	}
	if s.fired {
		// Later events only extend the alert.
		if a := e.alerts[string(e.kbuf)]; a != nil {
			a.add(ev)
			if target != "" && len(a.Assets) < 64 && distinct && !containsStr(a.Assets, hostOf(target)) {
				a.Assets = append(a.Assets, hostOf(target))
			}
		}
		return
	}
	s.events = append(s.events, event{t, target, ev})
	s.dirty = true
	if len(s.events) >= maxEvents {
		e.evaluate(s)
		if !s.fired {
			sortEvents(s.events)
			s.events = append(s.events[:0], s.events[len(s.events)/2:]...)
		}
	}
}

// sortEvents orders events by time, stably. Events mostly come in time
// order (PDUs do; flows end out of order), so the check comes first:
// sorting moves whole events with their evidence.
func sortEvents(ev []event) {
	if !slices.IsSortedFunc(ev, cmpEvent) {
		slices.SortStableFunc(ev, cmpEvent)
	}
}

func cmpEvent(a, b event) int { return cmp.Compare(a.t, b.t) }

// hostOf strips a port from "ip:port" targets.
func hostOf(target string) string {
	for i := len(target) - 1; i > 0; i-- {
		if target[i] == ':' {
			if target[0] == '[' {
				return target[1 : i-1]
			}
			if countByte(target, ':') == 1 {
				return target[:i]
			}
			break
		}
	}
	return target
}

func countByte(s string, c byte) int {
	n := 0
	for i := range len(s) {
		if s[i] == c {
			n++
		}
	}
	return n
}

// evaluate slides the window over the series and raises the alert at the
// first window holding n events (n distinct targets when distinct).
func (e *Engine) evaluate(s *series) {
	if s.fired || len(s.events) < s.n {
		return
	}
	ev := s.events
	sortEvents(ev)
	cnt := map[string]int{}
	lo := 0
	for hi := range ev {
		cnt[ev[hi].target]++
		for ev[hi].t-ev[lo].t > s.window {
			if cnt[ev[lo].target]--; cnt[ev[lo].target] == 0 {
				delete(cnt, ev[lo].target)
			}
			lo++
		}
		have := hi - lo + 1
		if s.distinct {
			have = len(cnt)
		}
		if have < s.n {
			continue
		}
		// Extend the window to every event within it after hi, for the
		// count and the evidence.
		end := hi + 1
		for end < len(ev) && ev[end].t-ev[lo].t <= s.window {
			cnt[ev[end].target]++
			end++
		}
		a := e.alertSup(s.det, s.key, s.d, s.proto, s.sup, s.assets...)
		targets := []string{}
		seen := map[string]bool{}
		for _, x := range ev[lo:end] {
			a.add(x.ev)
			if h := hostOf(x.target); x.target != "" && s.distinct && !seen[h] && len(a.Assets) < 64 {
				seen[h] = true
				if !containsStr(a.Assets, h) {
					a.Assets = append(a.Assets, h)
				}
			}
			if x.target != "" && len(targets) < 8 && !containsStr(targets, x.target) {
				targets = append(targets, x.target)
			}
		}
		win := time.Duration(s.window)
		if s.distinct {
			a.Detail = fmt.Sprintf("%d distinct targets within %s (threshold %d), e.g. %v", len(cnt), win, s.n, targets)
		} else {
			a.Detail = fmt.Sprintf("%d events within %s (threshold %d)", end-lo, win, s.n)
		}
		if s.detail != "" {
			a.Detail = s.detail + ": " + a.Detail
		}
		s.fired, s.events = true, nil
		return
	}
}
