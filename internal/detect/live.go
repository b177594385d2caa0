package detect

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// Live evaluation. A file is evaluated once at its end (Alerts); a live
// stream is evaluated again and again (Evaluate) over windows ending at
// the caller's clock, so windows are pruned as time passes, a fired
// detection re-arms after a quiet window, and the tracked state is capped:
// a flood of spoofed sources must not grow the engine without bound.

// EngineStats are the engine's memory figures.
type EngineStats struct {
	Windows int    `json:"windows"` // tracked windows (detection and subject)
	Rates   int    `json:"rates"`   // tracked connection rates
	Alerts  int    `json:"alerts"`  // alerts kept for aggregation
	Evicted uint64 `json:"evicted"` // windows, rates and alerts dropped by the caps
	// Suppressed counts alerts not raised because a suppression of the
	// rules file covers them.
	Suppressed uint64 `json:"suppressed"`
}

// Stats returns the engine's memory figures.
func (e *Engine) Stats() EngineStats {
	return EngineStats{Windows: len(e.series), Rates: len(e.rates), Alerts: len(e.order), Evicted: e.evicted, Suppressed: e.suppressed}
}

// Evaluate checks the windowed detections and unusual rates over the
// windows ending at now and returns the alerts it did not return before,
// ordered by time: new immediate alerts (a PLC stop...) too, so a live
// caller needs nothing else. An alert is keyed by detection and subject (a
// scanning host, a client/server pair); once raised, later events only
// extend it, until the subject has been quiet for the detection's window:
// then the next occurrence raises a new alert. Unlike Alerts it does not
// freeze the engine; do not mix the two on one engine.
func (e *Engine) Evaluate(now time.Time) []*Alert {
	t := now.UnixNano()
	e.evalSeries(t, true)
	e.evalRates(t, true)
	out := append([]*Alert(nil), e.order[e.reported:]...)
	e.reported = len(e.order)
	e.capAlerts()
	sortAlerts(out)
	return out
}

// SetBaseline switches the baseline detections on (or to another
// baseline) without losing the indicator windows, as a live monitor does
// when its learning period ends. The rates restart: their learned peaks
// changed.
func (e *Engine) SetBaseline(b *Baseline) error {
	if b != nil && b.idx == nil {
		if err := b.index(); err != nil {
			return err
		}
	}
	e.cfg.Baseline = b
	for k := range e.rates {
		delete(e.alerts, "unusual_rate|"+rateKey(k))
	}
	e.rates = map[connKey]*rate{}
	return nil
}

func (e *Engine) seen(t int64) {
	if t > e.latest {
		e.latest = t
	}
}

// evalSeries evaluates the windowed series in key order (alert ids are
// deterministic). Live, only series with new events are evaluated, fired
// series quiet for their window re-arm, and events too old to fall in a
// window ending now (allowing Late for flows that end late) are dropped.
func (e *Engine) evalSeries(now int64, live bool) {
	keys := make([]string, 0, len(e.series))
	for k, s := range e.series {
		if !live || s.dirty || s.fired || len(s.events) > 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		s := e.series[k]
		if !live || s.dirty {
			s.dirty = false
			e.evaluate(s)
		}
		if !live {
			continue
		}
		if s.fired {
			if now-s.last > s.window {
				s.fired = false
				delete(e.alerts, k)
				delete(e.series, k)
			}
			continue
		}
		cut := now - s.window - int64(e.th.Late)
		s.events = slices.DeleteFunc(s.events, func(x event) bool { return x.t < cut })
		if len(s.events) == 0 {
			delete(e.series, k)
		}
	}
}

func rateKey(k connKey) string { return k.client.String() + ">" + k.server.String() + "|" + k.proto }

// evalRates raises unusual rates: a sliding minute since the detection was
// armed held more requests than RateFactor × the learned peak and at least
// RateMin. Live, a fired rate re-arms after a minute below the limit, and
// a quiet connection is forgotten.
func (e *Engine) evalRates(now int64, live bool) {
	keys := make([]connKey, 0, len(e.rates))
	for k := range e.rates {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].client != keys[j].client {
			return keys[i].client.Less(keys[j].client)
		}
		if keys[i].server != keys[j].server {
			return keys[i].server.Less(keys[j].server)
		}
		return keys[i].proto < keys[j].proto
	})
	for _, k := range keys {
		r := e.rates[k]
		ak := "unusual_rate|" + rateKey(k)
		if !r.fired && r.peak > 0 {
			r.fired = true
			e.curCli = k.client
			a := e.alert("unusual_rate", rateKey(k), Detections["unusual_rate"], k.proto, k.client.String(), k.server.String())
			for _, ev := range r.ev {
				a.add(ev)
			}
			a.Count = r.peak
			a.Detail = fmt.Sprintf("%d %s requests in one minute, learned peak %d", r.peak, k.proto, r.learned)
			if r.peakWrites*2 > r.peak {
				a.Techniques = appendTech(a.Techniques, "T0806")
			}
		} else if r.fired && r.peak > 0 {
			// Still going: the alert shows the busiest minute.
			if a := e.alerts[ak]; a != nil && r.peak > a.Count {
				a.Count = r.peak
				a.Last = time.Unix(0, r.over).UTC()
				a.Detail = fmt.Sprintf("%d %s requests in one minute, learned peak %d", r.peak, k.proto, r.learned)
			}
		}
		if !live {
			continue
		}
		if now-r.over > int64(time.Minute) {
			if r.fired {
				r.fired, r.peak, r.peakWrites, r.ev = false, 0, 0, nil
				delete(e.alerts, ak)
			}
			if now-r.last > int64(time.Minute) {
				delete(e.rates, k) // every bucket is out of the window
			}
		}
	}
}

// evictSeries drops the least recent eighth of the windows.
func (e *Engine) evictSeries() {
	type kl struct {
		k    string
		last int64
	}
	l := make([]kl, 0, len(e.series))
	for k, s := range e.series {
		l = append(l, kl{k, s.last})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].last < l[j].last })
	for _, x := range l[:max(1, len(l)/8)] {
		delete(e.series, x.k)
		e.evicted++
	}
}

// evictRates drops the least recent eighth of the connection rates.
func (e *Engine) evictRates() {
	type kl struct {
		k    connKey
		last int64
	}
	l := make([]kl, 0, len(e.rates))
	for k, r := range e.rates {
		l = append(l, kl{k, r.last})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].last < l[j].last })
	for _, x := range l[:max(1, len(l)/8)] {
		delete(e.rates, x.k)
		e.evicted++
	}
}

// capAlerts forgets the least recent half of the returned alerts when
// more than MaxAlerts are kept: a later occurrence raises a new alert
// instead of extending a forgotten one.
func (e *Engine) capAlerts() {
	if len(e.order) <= e.th.MaxAlerts {
		return
	}
	old := append([]*Alert(nil), e.order[:e.reported]...)
	sort.SliceStable(old, func(i, j int) bool { return old[i].Last.Before(old[j].Last) })
	drop := map[*Alert]bool{}
	for _, a := range old[:len(old)/2] {
		drop[a] = true
	}
	for k, a := range e.alerts {
		if drop[a] {
			delete(e.alerts, k)
		}
	}
	e.order = slices.DeleteFunc(e.order, func(a *Alert) bool { return drop[a] })
	e.reported = len(e.order)
	e.evicted += uint64(len(drop))
}
