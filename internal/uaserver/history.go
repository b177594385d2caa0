package uaserver

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uasc"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/uavalue"
)

// Bounds of history reads.
const (
	histMaxValues = 10000 // per node per call when the client asks for more or for all
	histMaxCPs    = 16    // continuation points kept per session
)

// histCursor is what a continuation point stands for. Points are random
// keys into the session's own table, so a client cannot forge one.
type histCursor struct {
	tag      string
	from, to time.Time
	cursor   string
	made     time.Time
}

// historyRead answers HistoryRead with ReadRawModifiedDetails (raw, not
// modified) from the historian, beside gopcua's dispatch goroutine.
func (s *Server) historyRead(sc *uasc.SecureChannel, r ua.Request, reqID uint32, ss *session) (ua.Response, error) {
	req, ok := r.(*ua.HistoryReadRequest)
	if !ok {
		return nil, ua.StatusBadRequestTypeInvalid
	}
	if s.opts.History == nil {
		return nil, ua.StatusBadHistoryOperationUnsupported
	}
	if len(req.NodesToRead) > maxNodesPerCall {
		return nil, ua.StatusBadTooManyOperations
	}
	if len(req.NodesToRead) == 0 {
		return nil, ua.StatusBadNothingToDo
	}
	var det *ua.ReadRawModifiedDetails
	if req.HistoryReadDetails != nil {
		det, _ = req.HistoryReadDetails.Value.(*ua.ReadRawModifiedDetails)
	}
	if det == nil {
		return nil, ua.StatusBadHistoryOperationUnsupported
	}
	if det.IsReadModified {
		return nil, ua.StatusBadHistoryOperationUnsupported
	}
	select {
	case s.async <- struct{}{}:
	default:
		return nil, ua.StatusBadTooManyOperations
	}
	go func() {
		defer func() { <-s.async }()
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("opcua history read failed", "code", errcode.UAServerRequest.String(), "err", fmt.Sprint(p))
			}
		}()
		res := make([]*ua.HistoryReadResult, len(req.NodesToRead))
		for i, n := range req.NodesToRead {
			res[i] = s.historyOne(n, det, req.ReleaseContinuationPoints, ss)
		}
		resp := &ua.HistoryReadResponse{ResponseHeader: respHeader(req, ua.StatusOK), Results: res, DiagnosticInfos: []*ua.DiagnosticInfo{}}
		if err := sc.SendResponseWithContext(context.Background(), reqID, resp); err != nil {
			s.log.Debug("opcua history response not sent", "err", err)
		}
	}()
	return nil, nil
}

func histErr(code ua.StatusCode) *ua.HistoryReadResult {
	return &ua.HistoryReadResult{StatusCode: code, HistoryData: ua.NewExtensionObject(nil)}
}

func (s *Server) historyOne(n *ua.HistoryReadValueID, det *ua.ReadRawModifiedDetails, release bool, ss *session) *ua.HistoryReadResult {
	if n == nil || n.NodeID == nil {
		return histErr(ua.StatusBadNodeIDInvalid)
	}
	nd := s.sp.lookup(n.NodeID)
	if nd == nil || nd.tag == nil {
		return histErr(ua.StatusBadHistoryOperationUnsupported)
	}
	path := nd.tag.path
	if ss.user.History == nil || !ss.user.History(path) {
		return histErr(ua.StatusBadUserAccessDenied)
	}
	var c histCursor
	if len(n.ContinuationPoint) > 0 {
		key := hex.EncodeToString(n.ContinuationPoint)
		s.mu.Lock()
		c, ok := ss.cps[key]
		delete(ss.cps, key)
		s.mu.Unlock()
		if !ok || c.tag != path {
			return histErr(ua.StatusBadContinuationPointInvalid)
		}
		if release {
			return histErr(ua.StatusGood)
		}
		return s.historyPage(c, det, ss)
	}
	if release {
		return histErr(ua.StatusGood)
	}
	from, to := det.StartTime, det.EndTime
	if from.IsZero() && to.IsZero() {
		return histErr(ua.StatusBadInvalidTimestampArgument)
	}
	if to.IsZero() {
		to = time.Now()
	}
	if from.IsZero() {
		from = to.Add(-24 * time.Hour)
	}
	backward := to.Before(from)
	if backward {
		from, to = to, from
	}
	c = histCursor{tag: path, from: from, to: to.Add(time.Nanosecond)} // OPC UA's end is inclusive
	res := s.historyPage(c, det, ss)
	if backward {
		if hd, ok := res.HistoryData.Value.(*ua.HistoryData); ok {
			for i, j := 0, len(hd.DataValues)-1; i < j; i, j = i+1, j-1 {
				hd.DataValues[i], hd.DataValues[j] = hd.DataValues[j], hd.DataValues[i]
			}
		}
	}
	return res
}

func (s *Server) historyPage(c histCursor, det *ua.ReadRawModifiedDetails, ss *session) *ua.HistoryReadResult {
	limit := histMaxValues
	if det.NumValuesPerNode > 0 && det.NumValuesPerNode < histMaxValues {
		limit = int(det.NumValuesPerNode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pts, next, err := s.opts.History.ReadRaw(ctx, c.tag, c.from, c.to, limit, c.cursor)
	if err != nil {
		s.log.Warn("opcua history read failed", "code", errcode.UAServerHistory.String(), "tag", c.tag, "err", err)
		return histErr(ua.StatusBadHistoryOperationInvalid)
	}
	dvs := make([]*ua.DataValue, 0, len(pts))
	for _, p := range pts {
		dv := &ua.DataValue{EncodingMask: ua.DataValueStatusCode | ua.DataValueSourceTimestamp, Status: ua.StatusCode(p.Quality), SourceTimestamp: p.Time}
		if v := uavalue.Variant(p.Value); v != nil {
			dv.EncodingMask |= ua.DataValueValue
			dv.Value = v
		}
		dvs = append(dvs, dv)
	}
	res := &ua.HistoryReadResult{StatusCode: ua.StatusOK, HistoryData: ua.NewExtensionObject(&ua.HistoryData{DataValues: dvs})}
	if len(dvs) == 0 {
		res.StatusCode = ua.StatusGoodNoData
	}
	if next != "" {
		key := newNonce(16)
		c.cursor, c.made = next, time.Now()
		s.mu.Lock()
		if ss.cps == nil {
			ss.cps = map[string]histCursor{}
		}
		if len(ss.cps) >= histMaxCPs { // drop the oldest
			old, when := "", time.Time{}
			for k, x := range ss.cps {
				if old == "" || x.made.Before(when) {
					old, when = k, x.made
				}
			}
			delete(ss.cps, old)
		}
		ss.cps[hex.EncodeToString(key)] = c
		s.mu.Unlock()
		res.ContinuationPoint = key
	}
	return res
}
