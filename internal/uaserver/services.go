package uaserver

import (
	"sync/atomic"
	"time"

	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uasc"

	"github.com/otlink/otlink/internal/uareflect"
)

func respHeader(req ua.Request, status ua.StatusCode) *ua.ResponseHeader {
	return &ua.ResponseHeader{Timestamp: time.Now(), RequestHandle: req.Header().RequestHandle, ServiceResult: status,
		ServiceDiagnostics: &ua.DiagnosticInfo{}, StringTable: []string{}, AdditionalHeader: ua.NewExtensionObject(nil)}
}

// canRead reports whether the session's user may see the node nid.
func (s *Server) canRead(ss *session, nid *ua.NodeID) bool {
	n := s.sp.lookup(nid)
	if n == nil {
		return true // namespace 0 and unknown nodes are for everyone
	}
	return ss.user.Read != nil && ss.user.Read(pathOf(n))
}

// pathOf is the plant path a node belongs to (a property belongs to its tag).
func pathOf(n *node) string {
	for i := 0; i < len(n.sid); i++ {
		if n.sid[i] == '#' {
			return n.sid[:i]
		}
	}
	return n.sid
}

func (s *Server) read(sc *uasc.SecureChannel, r ua.Request, reqID uint32, ss *session) (ua.Response, error) {
	req, ok := r.(*ua.ReadRequest)
	if !ok {
		return nil, ua.StatusBadRequestTypeInvalid
	}
	if len(req.NodesToRead) > maxNodesPerCall {
		return nil, ua.StatusBadTooManyOperations
	}
	if len(req.NodesToRead) == 0 {
		return nil, ua.StatusBadNothingToDo
	}
	out := make([]*ua.DataValue, len(req.NodesToRead))
	for i, n := range req.NodesToRead {
		if n == nil || n.NodeID == nil {
			out[i] = bad(ua.StatusBadNodeIDInvalid)
			continue
		}
		if !s.canRead(ss, n.NodeID) {
			out[i] = bad(ua.StatusBadUserAccessDenied)
			continue
		}
		ns, err := s.srv.Namespace(int(n.NodeID.Namespace()))
		if err != nil {
			out[i] = bad(ua.StatusBadNodeIDUnknown)
			continue
		}
		out[i] = ns.Attribute(n.NodeID, n.AttributeID)
		if out[i] == nil {
			out[i] = bad(ua.StatusBadAttributeIDInvalid)
		}
	}
	return &ua.ReadResponse{ResponseHeader: respHeader(req, ua.StatusOK), Results: out, DiagnosticInfos: []*ua.DiagnosticInfo{}}, nil
}

func (s *Server) browse(sc *uasc.SecureChannel, r ua.Request, reqID uint32, ss *session) (ua.Response, error) {
	req, ok := r.(*ua.BrowseRequest)
	if !ok {
		return nil, ua.StatusBadRequestTypeInvalid
	}
	if len(req.NodesToBrowse) > maxNodesPerCall {
		return nil, ua.StatusBadTooManyOperations
	}
	out := make([]*ua.BrowseResult, len(req.NodesToBrowse))
	for i, bd := range req.NodesToBrowse {
		if bd == nil || bd.NodeID == nil {
			out[i] = &ua.BrowseResult{StatusCode: ua.StatusBadNodeIDInvalid}
			continue
		}
		if !s.canRead(ss, bd.NodeID) {
			out[i] = &ua.BrowseResult{StatusCode: ua.StatusBadUserAccessDenied}
			continue
		}
		ns, err := s.srv.Namespace(int(bd.NodeID.Namespace()))
		if err != nil {
			out[i] = &ua.BrowseResult{StatusCode: ua.StatusBadNodeIDUnknown}
			continue
		}
		res := ns.Browse(bd)
		if res == nil {
			res = &ua.BrowseResult{StatusCode: ua.StatusBadNodeIDUnknown}
		}
		// Hide what the user may not read.
		keep := res.References[:0:0]
		for _, rd := range res.References {
			if rd != nil && rd.NodeID != nil && !s.canRead(ss, rd.NodeID.NodeID) {
				continue
			}
			keep = append(keep, rd)
		}
		res.References = keep
		out[i] = res
	}
	return &ua.BrowseResponse{ResponseHeader: respHeader(req, ua.StatusOK), Results: out, DiagnosticInfos: []*ua.DiagnosticInfo{}}, nil
}

func registerNodes(sc *uasc.SecureChannel, r ua.Request, reqID uint32, ss *session) (ua.Response, error) {
	req, ok := r.(*ua.RegisterNodesRequest)
	if !ok {
		return nil, ua.StatusBadRequestTypeInvalid
	}
	return &ua.RegisterNodesResponse{ResponseHeader: respHeader(req, ua.StatusOK), RegisteredNodeIDs: req.NodesToRegister}, nil
}

func unregisterNodes(sc *uasc.SecureChannel, r ua.Request, reqID uint32, ss *session) (ua.Response, error) {
	req, ok := r.(*ua.UnregisterNodesRequest)
	if !ok {
		return nil, ua.StatusBadRequestTypeInvalid
	}
	return &ua.UnregisterNodesResponse{ResponseHeader: respHeader(req, ua.StatusOK)}, nil
}

// subs delegates to gopcua's subscription service, which exists once the
// server started.
func (s *Server) subs(pick func(*server.SubscriptionService) server.Handler) sessHandler {
	return func(sc *uasc.SecureChannel, r ua.Request, reqID uint32, ss *session) (ua.Response, error) {
		if s.srv.SubscriptionService == nil {
			return nil, ua.StatusBadServerNotConnected
		}
		return pick(s.srv.SubscriptionService)(sc, r, reqID)
	}
}

var subIDs atomic.Uint32

// createSubscription replaces gopcua's, which numbers subscriptions by
// the count of live ones (a new one can take the id of a live one) and
// accepts a publishing interval of 0 (a ticker panic).
func (s *Server) createSubscription(sc *uasc.SecureChannel, r ua.Request, reqID uint32, ss *session) (ua.Response, error) {
	req, ok := r.(*ua.CreateSubscriptionRequest)
	if !ok {
		return nil, ua.StatusBadRequestTypeInvalid
	}
	svc := s.srv.SubscriptionService
	if svc == nil {
		return nil, ua.StatusBadServerNotConnected
	}
	sess := s.srv.Session(req.RequestHeader)
	if sess == nil {
		return nil, ua.StatusBadSessionIDInvalid
	}
	iv := req.RequestedPublishingInterval
	floor := max(float64(minPublishMs), float64(s.cfg.SampleInterval.D())/float64(time.Millisecond))
	if !(iv >= floor) { // also NaN
		iv = floor
	}
	iv = min(iv, maxPublishMs)
	keep := min(max(req.RequestedMaxKeepAliveCount, 1), 10000)
	life := min(max(req.RequestedLifetimeCount, 3*keep), 100000)

	svc.Mu.Lock()
	defer svc.Mu.Unlock()
	mine := 0
	for _, sub := range svc.Subs {
		if sub.Session == sess {
			mine++
		}
	}
	if mine >= maxSubsPerSession {
		return nil, ua.StatusBadTooManySubscriptions
	}
	subID := subIDs.Add(1)
	for svc.Subs[subID] != nil || subID == 0 {
		subID = subIDs.Add(1)
	}
	sub := server.NewSubscription()
	if err := uareflect.SetUnexported(sub, "srv", svc); err != nil {
		return nil, ua.StatusBadInternalError
	}
	sub.Session = sess
	sub.Channel = sc
	sub.ID = subID
	sub.RevisedPublishingInterval = iv
	sub.RevisedLifetimeCount = life
	sub.RevisedMaxKeepAliveCount = keep
	if err := uareflect.SetUnexported(sub, "running", true); err != nil {
		return nil, ua.StatusBadInternalError
	}
	svc.Subs[subID] = sub
	s.mu.Lock()
	s.subParams[subID] = subParams{interval: iv, lifetime: life, keepAlive: keep}
	s.mu.Unlock()
	sub.Start()
	return &ua.CreateSubscriptionResponse{ResponseHeader: respHeader(req, ua.StatusOK), SubscriptionID: subID,
		RevisedPublishingInterval: iv, RevisedLifetimeCount: life, RevisedMaxKeepAliveCount: keep}, nil
}

// createMonitoredItems refuses items on unknown or hidden nodes and hands
// the rest to gopcua.
func (s *Server) createMonitoredItems(sc *uasc.SecureChannel, r ua.Request, reqID uint32, ss *session) (ua.Response, error) {
	req, ok := r.(*ua.CreateMonitoredItemsRequest)
	if !ok {
		return nil, ua.StatusBadRequestTypeInvalid
	}
	mis := s.srv.MonitoredItemService
	if mis == nil {
		return nil, ua.StatusBadServerNotConnected
	}
	if len(req.ItemsToCreate) > maxNodesPerCall {
		return nil, ua.StatusBadTooManyOperations
	}
	s.srv.SubscriptionService.Mu.Lock()
	sub := s.srv.SubscriptionService.Subs[req.SubscriptionID]
	s.srv.SubscriptionService.Mu.Unlock()
	if sub == nil || sub.Session != s.srv.Session(req.RequestHeader) {
		return nil, ua.StatusBadSubscriptionIDInvalid
	}
	if req.TimestampsToReturn > ua.TimestampsToReturnNeither {
		return nil, ua.StatusBadTimestampsToReturnInvalid
	}
	results := make([]*ua.MonitoredItemCreateResult, len(req.ItemsToCreate))
	var pass []*ua.MonitoredItemCreateRequest
	var at []int
	var filters []*itemFilter
	for i, it := range req.ItemsToCreate {
		var st ua.StatusCode
		var f *itemFilter
		switch {
		case it == nil || it.ItemToMonitor == nil || it.ItemToMonitor.NodeID == nil || it.RequestedParameters == nil:
			st = ua.StatusBadMonitoredItemFilterInvalid
		case it.ItemToMonitor.NodeID.Namespace() == s.sp.idx && s.sp.lookup(it.ItemToMonitor.NodeID) == nil:
			st = ua.StatusBadNodeIDUnknown
		case !s.canRead(ss, it.ItemToMonitor.NodeID):
			st = ua.StatusBadUserAccessDenied
		default:
			n := s.sp.lookup(it.ItemToMonitor.NodeID)
			f, st = parseFilter(n, it.ItemToMonitor.AttributeID, it.RequestedParameters, it.MonitoringMode)
			if st == ua.StatusOK {
				st = 0
				// gopcua reports the current value when it creates the
				// item: that is the first value sent.
				if n != nil && n.tag != nil && f.value {
					if dv := n.tag.cur.Load(); dv != nil {
						f.record(dv)
					}
				}
			}
		}
		if st != 0 {
			results[i] = &ua.MonitoredItemCreateResult{StatusCode: st, FilterResult: ua.NewExtensionObject(nil)}
			continue
		}
		pass = append(pass, it)
		at = append(at, i)
		filters = append(filters, f)
	}
	if len(pass) > 0 {
		sub := *req
		sub.ItemsToCreate = pass
		resp, err := mis.CreateMonitoredItems(sc, &sub, reqID)
		if err != nil {
			return nil, err
		}
		cr, ok := resp.(*ua.CreateMonitoredItemsResponse)
		if !ok || len(cr.Results) != len(pass) {
			return nil, ua.StatusBadInternalError
		}
		s.fmu.Lock()
		for j, i := range at {
			results[i] = cr.Results[j]
			if r := cr.Results[j]; r != nil && r.StatusCode == ua.StatusOK {
				s.filters[r.MonitoredItemID] = filters[j]
				r.RevisedSamplingInterval = s.revisedSampling(pass[j].RequestedParameters.SamplingInterval)
				r.RevisedQueueSize = 1
			}
		}
		s.fmu.Unlock()
	}
	return &ua.CreateMonitoredItemsResponse{ResponseHeader: respHeader(req, ua.StatusOK), Results: results, DiagnosticInfos: []*ua.DiagnosticInfo{}}, nil
}

// itemsByID serves SetMonitoringMode and DeleteMonitoredItems: gopcua's
// dereferences an unknown id, so only ids of this session's items reach it.
func (s *Server) itemsByID(sc *uasc.SecureChannel, r ua.Request, reqID uint32, ss *session) (ua.Response, error) {
	mis := s.srv.MonitoredItemService
	if mis == nil {
		return nil, ua.StatusBadServerNotConnected
	}
	sess := s.srv.Session(r.Header())
	var ids []uint32
	switch req := r.(type) {
	case *ua.SetMonitoringModeRequest:
		if req.MonitoringMode > ua.MonitoringModeReporting {
			return nil, ua.StatusBadMonitoringModeInvalid
		}
		ids = req.MonitoredItemIDs
	case *ua.DeleteMonitoredItemsRequest:
		ids = req.MonitoredItemIDs
	default:
		return nil, ua.StatusBadRequestTypeInvalid
	}
	if len(ids) > maxNodesPerCall {
		return nil, ua.StatusBadTooManyOperations
	}
	results := make([]ua.StatusCode, len(ids))
	var pass []uint32
	var at []int
	mis.Mu.Lock()
	for i, x := range ids {
		it := mis.Items[x]
		if it == nil || it.Sub == nil || it.Sub.Session != sess {
			results[i] = ua.StatusBadMonitoredItemIDInvalid
			continue
		}
		pass = append(pass, x)
		at = append(at, i)
	}
	mis.Mu.Unlock()
	if len(pass) > 0 {
		var resp ua.Response
		var err error
		switch req := r.(type) {
		case *ua.SetMonitoringModeRequest:
			q := *req
			q.MonitoredItemIDs = pass
			resp, err = mis.SetMonitoringMode(sc, &q, reqID)
		case *ua.DeleteMonitoredItemsRequest:
			q := *req
			q.MonitoredItemIDs = pass
			resp, err = mis.DeleteMonitoredItems(sc, &q, reqID)
		}
		if err != nil {
			return nil, err
		}
		var got []ua.StatusCode
		switch x := resp.(type) {
		case *ua.SetMonitoringModeResponse:
			got = x.Results
		case *ua.DeleteMonitoredItemsResponse:
			got = x.Results
		}
		if len(got) != len(pass) {
			return nil, ua.StatusBadInternalError
		}
		s.fmu.Lock()
		for j, i := range at {
			results[i] = got[j]
			if got[j] != ua.StatusOK {
				continue
			}
			switch req := r.(type) {
			case *ua.SetMonitoringModeRequest:
				if f := s.filters[pass[j]]; f != nil {
					f.mode = req.MonitoringMode
				}
			case *ua.DeleteMonitoredItemsRequest:
				delete(s.filters, pass[j])
			}
		}
		s.fmu.Unlock()
	}
	switch r.(type) {
	case *ua.SetMonitoringModeRequest:
		return &ua.SetMonitoringModeResponse{ResponseHeader: respHeader(r, ua.StatusOK), Results: results, DiagnosticInfos: []*ua.DiagnosticInfo{}}, nil
	default:
		return &ua.DeleteMonitoredItemsResponse{ResponseHeader: respHeader(r, ua.StatusOK), Results: results, DiagnosticInfos: []*ua.DiagnosticInfo{}}, nil
	}
}
