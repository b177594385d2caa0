package uaserver

import (
	"math"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uasc"
)

// Services gopcua lacks or answers with BadServiceUnsupported: each is
// implemented here, or answered with the Bad status the specification
// gives for what this server does not keep.

// subParams are a subscription's revised parameters, fixed at creation:
// gopcua's subscription cannot change its publishing timer while it runs.
type subParams struct {
	interval  float64
	lifetime  uint32
	keepAlive uint32
}

// ownSub returns the subscription id of the request's session, or nil.
func (s *Server) ownSub(hdr *ua.RequestHeader, subID uint32) bool {
	svc := s.srv.SubscriptionService
	if svc == nil {
		return false
	}
	sess := s.srv.Session(hdr)
	svc.Mu.Lock()
	sub := svc.Subs[subID]
	svc.Mu.Unlock()
	return sub != nil && sess != nil && sub.Session == sess
}

// modifySubscription answers with the subscription's parameters as
// created: the server revises every request to them (Part 4, 5.13.3
// lets it revise), because gopcua cannot change a running subscription.
func (s *Server) modifySubscription(sc *uasc.SecureChannel, r ua.Request, reqID uint32, ss *session) (ua.Response, error) {
	req, ok := r.(*ua.ModifySubscriptionRequest)
	if !ok {
		return nil, ua.StatusBadRequestTypeInvalid
	}
	if !s.ownSub(req.RequestHeader, req.SubscriptionID) {
		return nil, ua.StatusBadSubscriptionIDInvalid
	}
	s.mu.Lock()
	p, ok := s.subParams[req.SubscriptionID]
	s.mu.Unlock()
	if !ok {
		return nil, ua.StatusBadSubscriptionIDInvalid
	}
	return &ua.ModifySubscriptionResponse{ResponseHeader: respHeader(req, ua.StatusOK), RevisedPublishingInterval: p.interval,
		RevisedLifetimeCount: p.lifetime, RevisedMaxKeepAliveCount: p.keepAlive}, nil
}

// republish: no retransmission queue is kept (every PublishResponse says
// so with empty AvailableSequenceNumbers), so no message is available.
func (s *Server) republish(sc *uasc.SecureChannel, r ua.Request, reqID uint32, ss *session) (ua.Response, error) {
	req, ok := r.(*ua.RepublishRequest)
	if !ok {
		return nil, ua.StatusBadRequestTypeInvalid
	}
	if !s.ownSub(req.RequestHeader, req.SubscriptionID) {
		return nil, ua.StatusBadSubscriptionIDInvalid
	}
	return nil, ua.StatusBadMessageNotAvailable
}

// revisedSampling is the sampling interval of an item: the engine's
// values are taken every sample_interval.
func (s *Server) revisedSampling(req float64) float64 {
	floor := float64(s.cfg.SampleInterval.D()) / float64(time.Millisecond)
	if !(req >= floor) || math.IsInf(req, 0) {
		return floor
	}
	return min(req, maxPublishMs)
}

// modifyMonitoredItems changes the client handle, sampling interval and
// data-change filter of the session's items; the queue size stays 1.
func (s *Server) modifyMonitoredItems(sc *uasc.SecureChannel, r ua.Request, reqID uint32, ss *session) (ua.Response, error) {
	req, ok := r.(*ua.ModifyMonitoredItemsRequest)
	if !ok {
		return nil, ua.StatusBadRequestTypeInvalid
	}
	mis := s.srv.MonitoredItemService
	if mis == nil {
		return nil, ua.StatusBadServerNotConnected
	}
	switch n := len(req.ItemsToModify); {
	case n == 0:
		return nil, ua.StatusBadNothingToDo
	case n > maxNodesPerCall:
		return nil, ua.StatusBadTooManyOperations
	}
	if !s.ownSub(req.RequestHeader, req.SubscriptionID) {
		return nil, ua.StatusBadSubscriptionIDInvalid
	}
	if req.TimestampsToReturn > ua.TimestampsToReturnNeither {
		return nil, ua.StatusBadTimestampsToReturnInvalid
	}
	res := make([]*ua.MonitoredItemModifyResult, len(req.ItemsToModify))
	mis.Mu.Lock()
	s.fmu.Lock()
	for i, m := range req.ItemsToModify {
		fail := func(st ua.StatusCode) {
			res[i] = &ua.MonitoredItemModifyResult{StatusCode: st, FilterResult: ua.NewExtensionObject(nil)}
		}
		if m == nil || m.RequestedParameters == nil {
			fail(ua.StatusBadMonitoredItemFilterInvalid)
			continue
		}
		it := mis.Items[m.MonitoredItemID]
		if it == nil || it.Sub == nil || it.Sub.ID != req.SubscriptionID || it.Req == nil || it.Req.ItemToMonitor == nil {
			fail(ua.StatusBadMonitoredItemIDInvalid)
			continue
		}
		old := s.filters[it.ID]
		mode := ua.MonitoringModeReporting
		if old != nil {
			mode = old.mode
		}
		f, st := parseFilter(s.sp.lookup(it.Req.ItemToMonitor.NodeID), it.Req.ItemToMonitor.AttributeID, m.RequestedParameters, mode)
		if st != ua.StatusOK {
			fail(st)
			continue
		}
		if old != nil { // what was reported stays the reference
			f.sent, f.lastStatus, f.lastNum, f.lastVar, f.lastTS = old.sent, old.lastStatus, old.lastNum, old.lastVar, old.lastTS
		}
		s.filters[it.ID] = f
		nr, p := *it.Req, *m.RequestedParameters
		nr.RequestedParameters = &p
		it.Req = &nr
		res[i] = &ua.MonitoredItemModifyResult{StatusCode: ua.StatusOK, RevisedSamplingInterval: s.revisedSampling(p.SamplingInterval),
			RevisedQueueSize: 1, FilterResult: ua.NewExtensionObject(nil)}
	}
	s.fmu.Unlock()
	mis.Mu.Unlock()
	return &ua.ModifyMonitoredItemsResponse{ResponseHeader: respHeader(req, ua.StatusOK), Results: res, DiagnosticInfos: []*ua.DiagnosticInfo{}}, nil
}

// browseNext: Browse returns every reference at once and hands out no
// continuation point, so none is valid.
func (s *Server) browseNext(sc *uasc.SecureChannel, r ua.Request, reqID uint32, ss *session) (ua.Response, error) {
	req, ok := r.(*ua.BrowseNextRequest)
	if !ok {
		return nil, ua.StatusBadRequestTypeInvalid
	}
	switch n := len(req.ContinuationPoints); {
	case n == 0:
		return nil, ua.StatusBadNothingToDo
	case n > maxNodesPerCall:
		return nil, ua.StatusBadTooManyOperations
	}
	res := make([]*ua.BrowseResult, len(req.ContinuationPoints))
	for i := range res {
		res[i] = &ua.BrowseResult{StatusCode: ua.StatusBadContinuationPointInvalid, References: []*ua.ReferenceDescription{}}
	}
	return &ua.BrowseNextResponse{ResponseHeader: respHeader(req, ua.StatusOK), Results: res, DiagnosticInfos: []*ua.DiagnosticInfo{}}, nil
}

// Bounds of TranslateBrowsePathsToNodeIds.
const maxPathElements = 32

// translate answers TranslateBrowsePathsToNodeIds for paths through the
// plant: from Root (i=84) or Objects (i=85) of namespace 0, or from any
// plant node, by browse names. Nodes the user may not read do not match.
func (s *Server) translate(sc *uasc.SecureChannel, r ua.Request, reqID uint32, ss *session) (ua.Response, error) {
	req, ok := r.(*ua.TranslateBrowsePathsToNodeIDsRequest)
	if !ok {
		return nil, ua.StatusBadRequestTypeInvalid
	}
	switch n := len(req.BrowsePaths); {
	case n == 0:
		return nil, ua.StatusBadNothingToDo
	case n > maxNodesPerCall:
		return nil, ua.StatusBadTooManyOperations
	}
	res := make([]*ua.BrowsePathResult, len(req.BrowsePaths))
	for i, bp := range req.BrowsePaths {
		res[i] = s.translateOne(bp, ss)
		if res[i].Targets == nil {
			res[i].Targets = []*ua.BrowsePathTarget{}
		}
	}
	return &ua.TranslateBrowsePathsToNodeIDsResponse{ResponseHeader: respHeader(req, ua.StatusOK), Results: res, DiagnosticInfos: []*ua.DiagnosticInfo{}}, nil
}

// Where a path stands: a plant node, or Root or Objects of namespace 0.
type pathPos struct {
	n   *node
	ns0 uint32
}

func (s *Server) translateOne(bp *ua.BrowsePath, ss *session) *ua.BrowsePathResult {
	if bp == nil || bp.StartingNode == nil {
		return &ua.BrowsePathResult{StatusCode: ua.StatusBadNodeIDInvalid}
	}
	if bp.RelativePath == nil || len(bp.RelativePath.Elements) == 0 {
		return &ua.BrowsePathResult{StatusCode: ua.StatusBadNothingToDo}
	}
	if len(bp.RelativePath.Elements) > maxPathElements {
		return &ua.BrowsePathResult{StatusCode: ua.StatusBadTooManyOperations}
	}
	var cur []pathPos
	switch st := bp.StartingNode; {
	case st.Namespace() == 0 && st.Type() != ua.NodeIDTypeString && (st.IntID() == id.RootFolder || st.IntID() == id.ObjectsFolder):
		cur = []pathPos{{ns0: st.IntID()}}
	default:
		n := s.sp.lookup(st)
		if n == nil {
			return &ua.BrowsePathResult{StatusCode: ua.StatusBadNodeIDUnknown}
		}
		if !s.canRead(ss, st) {
			return &ua.BrowsePathResult{StatusCode: ua.StatusBadUserAccessDenied}
		}
		cur = []pathPos{{n: n}}
	}
	for _, el := range bp.RelativePath.Elements {
		if el == nil || el.TargetName == nil || el.TargetName.Name == "" {
			return &ua.BrowsePathResult{StatusCode: ua.StatusBadBrowseNameInvalid}
		}
		var want uint32 // 0: any reference
		if rt := el.ReferenceTypeID; rt != nil && !(rt.Namespace() == 0 && rt.IntID() == 0) {
			if rt.Namespace() != 0 || rt.Type() == ua.NodeIDTypeString {
				return &ua.BrowsePathResult{StatusCode: ua.StatusBadNoMatch}
			}
			want = rt.IntID()
		}
		match := func(typ uint32) bool {
			return want == 0 || typ == want || (el.IncludeSubtypes && subtypeOf(typ, want))
		}
		var next []pathPos
		for _, p := range cur {
			switch {
			case p.n == nil && p.ns0 == id.RootFolder:
				if !el.IsInverse && match(id.Organizes) && el.TargetName.NamespaceIndex == 0 && el.TargetName.Name == "Objects" {
					next = append(next, pathPos{ns0: id.ObjectsFolder})
				}
			case p.n == nil && p.ns0 == id.ObjectsFolder:
				root := s.sp.root
				if !el.IsInverse && match(id.Organizes) && el.TargetName.NamespaceIndex == s.sp.idx && el.TargetName.Name == root.name && s.canRead(ss, root.id) {
					next = append(next, pathPos{n: root})
				}
			case p.n != nil:
				for _, rf := range p.n.refs {
					if rf.forward == el.IsInverse || !match(rf.typ) {
						continue
					}
					if rf.to == nil { // the enterprise's inverse Organizes to Objects
						if el.TargetName.NamespaceIndex == 0 && el.TargetName.Name == rf.ns0Name {
							next = append(next, pathPos{ns0: rf.ns0.IntID()})
						}
						continue
					}
					if el.TargetName.NamespaceIndex == s.sp.idx && el.TargetName.Name == rf.to.name && s.canRead(ss, rf.to.id) {
						next = append(next, pathPos{n: rf.to})
					}
				}
			}
		}
		if len(next) == 0 {
			return &ua.BrowsePathResult{StatusCode: ua.StatusBadNoMatch}
		}
		if len(next) > maxNodesPerCall {
			next = next[:maxNodesPerCall]
		}
		cur = next
	}
	out := &ua.BrowsePathResult{StatusCode: ua.StatusOK}
	for _, p := range cur {
		nid := ua.NewNumericNodeID(0, p.ns0)
		if p.n != nil {
			nid = p.n.id
		}
		out.Targets = append(out.Targets, &ua.BrowsePathTarget{TargetID: ua.NewExpandedNodeID(nid, "", 0), RemainingPathIndex: math.MaxUint32})
	}
	return out
}
