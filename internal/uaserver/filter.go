package uaserver

import (
	"math"
	"time"

	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"
)

// gopcua's monitored items report every change of their node to their
// subscription, whatever their monitoring mode and filter. This package
// keeps each item's mode and data-change filter (trigger and deadband,
// Part 4, 7.22.2) and sends a tag's new value only to the items it
// passes; gopcua's subscription then publishes the latest value per item
// (a queue size of 1, which the server reports as the revised size).

// itemFilter is the reporting state of one monitored item.
type itemFilter struct {
	mode     ua.MonitoringMode
	trigger  ua.DataChangeTrigger
	deadband float64 // absolute, in the tag's units; 0 for none
	value    bool    // a Value attribute item; others never change

	// Last reported.
	sent       bool
	lastStatus ua.StatusCode
	lastNum    float64
	lastVar    *ua.Variant
	lastTS     int64
}

// parseFilter checks the requested filter of an item on node n and
// returns its state, or the status that refuses it.
func parseFilter(n *node, attr ua.AttributeID, p *ua.MonitoringParameters, mode ua.MonitoringMode) (*itemFilter, ua.StatusCode) {
	f := &itemFilter{mode: mode, trigger: ua.DataChangeTriggerStatusValue, value: attr == ua.AttributeIDValue}
	if mode > ua.MonitoringModeReporting {
		return nil, ua.StatusBadMonitoringModeInvalid
	}
	if p.Filter == nil || p.Filter.Value == nil {
		return f, ua.StatusOK
	}
	dc, ok := p.Filter.Value.(*ua.DataChangeFilter)
	if !ok {
		return nil, ua.StatusBadMonitoredItemFilterUnsupported // event and aggregate filters
	}
	if attr != ua.AttributeIDValue {
		return nil, ua.StatusBadFilterNotAllowed
	}
	if dc.Trigger > ua.DataChangeTriggerStatusValueTimestamp {
		return nil, ua.StatusBadMonitoredItemFilterInvalid
	}
	f.trigger = dc.Trigger
	switch ua.DeadbandType(dc.DeadbandType) {
	case ua.DeadbandTypeNone:
	case ua.DeadbandTypeAbsolute, ua.DeadbandTypePercent:
		if n == nil || n.tag == nil || !n.tag.numeric {
			return nil, ua.StatusBadFilterNotAllowed
		}
		v := dc.DeadbandValue
		if !(v >= 0) || math.IsInf(v, 0) {
			return nil, ua.StatusBadDeadbandFilterInvalid
		}
		if ua.DeadbandType(dc.DeadbandType) == ua.DeadbandTypePercent {
			if !n.tag.hasRange {
				return nil, ua.StatusBadMonitoredItemFilterUnsupported
			}
			if v > 100 {
				return nil, ua.StatusBadDeadbandFilterInvalid
			}
			v = v / 100 * math.Abs(n.tag.hi-n.tag.lo)
		}
		f.deadband = v
	default:
		return nil, ua.StatusBadDeadbandFilterInvalid
	}
	return f, ua.StatusOK
}

// pass reports whether dv is to be reported, and records it when so.
func (f *itemFilter) pass(dv *ua.DataValue) bool {
	if f.mode != ua.MonitoringModeReporting || !f.value {
		return false
	}
	if !f.sent {
		f.record(dv)
		return true
	}
	changed := dv.Status != f.lastStatus
	if !changed && f.trigger >= ua.DataChangeTriggerStatusValue {
		x, num := number(dv.Value)
		switch {
		case num && f.deadband > 0 && !math.IsNaN(f.lastNum):
			changed = math.Abs(x-f.lastNum) > f.deadband
		case num:
			changed = x != f.lastNum && !(math.IsNaN(x) && math.IsNaN(f.lastNum))
		default:
			changed = !sameValue(dv.Value, f.lastVar)
		}
	}
	if !changed && f.trigger == ua.DataChangeTriggerStatusValueTimestamp {
		changed = dv.SourceTimestamp.UnixNano() != f.lastTS
	}
	if changed {
		f.record(dv)
	}
	return changed
}

func (f *itemFilter) record(dv *ua.DataValue) {
	f.sent = true
	f.lastStatus = dv.Status
	f.lastVar = dv.Value
	f.lastTS = dv.SourceTimestamp.UnixNano()
	f.lastNum, _ = number(dv.Value)
}

// number returns a numeric variant's value; NaN when it is not numeric.
func number(v *ua.Variant) (float64, bool) {
	if v == nil {
		return math.NaN(), false
	}
	switch x := v.Value().(type) {
	case int8:
		return float64(x), true
	case uint8:
		return float64(x), true
	case int16:
		return float64(x), true
	case uint16:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	return math.NaN(), false
}

// notify sends dv, the new value of the tag node n, to the monitored
// items whose mode and filter pass it.
func (s *Server) notify(n *node, dv *ua.DataValue) {
	if s.srv == nil || s.srv.MonitoredItemService == nil {
		return
	}
	mis := s.srv.MonitoredItemService
	mis.Mu.Lock()
	defer mis.Mu.Unlock()
	items := mis.Nodes[n.id.String()]
	if len(items) == 0 {
		return
	}
	s.fmu.Lock()
	defer s.fmu.Unlock()
	var wait *time.Timer
	expired := false
	for _, it := range items {
		if it == nil || it.Sub == nil || it.Req == nil || it.Req.RequestedParameters == nil {
			continue
		}
		f := s.filters[it.ID]
		if f == nil || !f.pass(dv) {
			continue
		}
		v := &ua.MonitoredItemNotification{ClientHandle: it.Req.RequestedParameters.ClientHandle, Value: dv}
		// gopcua's subscription drains this channel between publishes.
		// Waiting keeps the latest value of every item; the wait is
		// bounded, because a subscription that ended waits for this lock
		// to delete its items and would never drain it again.
		select {
		case it.Sub.NotifyChannel <- v:
			continue
		default:
		}
		if wait == nil {
			wait = time.NewTimer(notifyWait)
			defer wait.Stop()
		}
		if !expired {
			select {
			case it.Sub.NotifyChannel <- v:
				continue
			case <-wait.C:
				expired = true
			}
		}
		f.sent = false // not sent: the next sample reports it
		s.dropped.Add(1)
	}
}

// notifyWait bounds how long one sample waits for busy subscriptions.
const notifyWait = time.Second

// pruneFilters forgets the filters of items gopcua no longer has (deleted
// with their subscription or session).
func (s *Server) pruneFilters(mis *server.MonitoredItemService) {
	if mis == nil {
		return
	}
	mis.Mu.Lock()
	defer mis.Mu.Unlock()
	s.fmu.Lock()
	defer s.fmu.Unlock()
	for id := range s.filters {
		if mis.Items[id] == nil {
			delete(s.filters, id)
		}
	}
}
