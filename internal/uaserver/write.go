package uaserver

import (
	"context"
	"fmt"

	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uasc"

	"github.com/otlink/otlink/internal/errcode"
)

// write answers Write: only the Value of a writable tag can be written,
// through the engine's governed write, audited with the session's user.
// The engine's write waits for the device, so it runs beside gopcua's
// dispatch goroutine and answers when done.
func (s *Server) write(sc *uasc.SecureChannel, r ua.Request, reqID uint32, ss *session) (ua.Response, error) {
	req, ok := r.(*ua.WriteRequest)
	if !ok {
		return nil, ua.StatusBadRequestTypeInvalid
	}
	if len(req.NodesToWrite) > maxNodesPerCall {
		return nil, ua.StatusBadTooManyOperations
	}
	if len(req.NodesToWrite) == 0 {
		return nil, ua.StatusBadNothingToDo
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
				s.log.Error("opcua write failed", "code", errcode.UAServerRequest.String(), "err", fmt.Sprint(p))
			}
		}()
		res := make([]ua.StatusCode, len(req.NodesToWrite))
		for i, w := range req.NodesToWrite {
			res[i] = s.writeOne(w, ss)
		}
		resp := &ua.WriteResponse{ResponseHeader: respHeader(req, ua.StatusOK), Results: res, DiagnosticInfos: []*ua.DiagnosticInfo{}}
		if err := sc.SendResponseWithContext(context.Background(), reqID, resp); err != nil {
			s.log.Debug("opcua write response not sent", "err", err)
		}
	}()
	return nil, nil // answered by the goroutine
}

func (s *Server) writeOne(w *ua.WriteValue, ss *session) ua.StatusCode {
	if w == nil || w.NodeID == nil {
		return ua.StatusBadNodeIDInvalid
	}
	n := s.sp.lookup(w.NodeID)
	if n == nil {
		if w.NodeID.Namespace() == s.sp.idx {
			return ua.StatusBadNodeIDUnknown
		}
		return ua.StatusBadNotWritable // namespace 0 is the server's own
	}
	if n.tag == nil || w.AttributeID != ua.AttributeIDValue || w.IndexRange != "" {
		return ua.StatusBadNotWritable
	}
	path := n.tag.path
	user := ss.user
	ctx := context.Background()
	// One tag.write event per write, like the web UI's, with the OPC UA
	// user; the engine adds its own device-side record (device.write) for
	// the writes that reach it.
	old := "unknown"
	if dv := n.tag.cur.Load(); dv != nil && dv.Value != nil && uint32(dv.Status) == 0 {
		old = fmt.Sprint(dv.Value.Value())
	}
	ev := AuditEvent{Actor: user.Name, Action: "tag.write", Object: path, IP: ss.ip, Detail: "opcua old=" + old}
	refuse := func(outcome string, code ua.StatusCode, why string) ua.StatusCode {
		ev.Outcome = outcome
		ev.Detail += " " + why
		s.audit(ctx, ev)
		s.log.Info("opcua write refused", "code", errcode.UAServerWrite.String(), "tag", path, "user", user.Name, "err", why)
		return code
	}
	if !n.tag.writable {
		return refuse("denied", ua.StatusBadNotWritable, "tag is not writable")
	}
	if user.Write == nil || !user.Write(path) {
		return refuse("denied", ua.StatusBadUserAccessDenied, "user may not write this tag")
	}
	if s.opts.Writer == nil {
		return refuse("denied", ua.StatusBadNotWritable, "writes are off")
	}
	var x *ua.Variant
	if w.Value != nil {
		x = w.Value.Value
	}
	v, ok := fromVariant(x, n.tag.typ)
	if !ok {
		return refuse("failed", ua.StatusBadTypeMismatch, fmt.Sprintf("value does not fit a %s tag", n.tag.typ))
	}
	ev.Detail += " new=" + v.String()
	wctx, cancel := context.WithTimeout(ctx, s.opts.WriteMax)
	err := s.opts.Writer.Write(wctx, path, v)
	cancel()
	if err != nil {
		return refuse("failed", statusOf(err), fmt.Sprintf("%s: %v", v, err))
	}
	ev.Outcome = "ok"
	s.audit(ctx, ev)
	return ua.StatusOK
}

// statusOf maps the engine's write errors to OPC UA status codes.
func statusOf(err error) ua.StatusCode {
	switch errcode.Of(err) {
	case errcode.AcquireWriteUnknownTag:
		return ua.StatusBadNodeIDUnknown
	case errcode.AcquireWriteNotWritable, errcode.AcquireWriteUnsupported:
		return ua.StatusBadNotWritable
	case errcode.AcquireWriteType:
		return ua.StatusBadTypeMismatch
	case errcode.AcquireWriteOutOfLimits, errcode.AcquireWriteStep:
		return ua.StatusBadOutOfRange
	case errcode.AcquireWriteTooFast:
		return ua.StatusBadTooManyOperations
	case errcode.AcquireWriteNotConnected:
		return ua.StatusBadNotConnected
	case errcode.AcquireWriteFailed:
		return ua.StatusBadCommunicationError
	}
	return ua.StatusBadInternalError
}
