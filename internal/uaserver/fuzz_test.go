package uaserver_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"
)

// FuzzServiceDispatch sends whatever request gopcua's decoder makes of
// the input through a real session (None, as the test user) to the
// server's handlers, and checks that the server still answers a Read
// afterwards: no request may crash it, hang its dispatch or end the
// session. The session services (and Publish, answered only later) are
// left out, since they end or outlive the round trip.
func FuzzServiceDispatch(f *testing.F) {
	qn := &ua.QualifiedName{}
	params := func(f *ua.ExtensionObject) *ua.MonitoringParameters {
		return &ua.MonitoringParameters{Filter: f}
	}
	for _, r := range []ua.Request{
		&ua.ReadRequest{NodesToRead: []*ua.ReadValueID{{NodeID: ua.NewStringNodeID(1, fm+"/temp"), AttributeID: ua.AttributeIDValue, DataEncoding: qn}, {NodeID: ua.NewStringNodeID(1, fm), AttributeID: 99, DataEncoding: qn}}},
		&ua.BrowseRequest{NodesToBrowse: []*ua.BrowseDescription{{NodeID: ua.NewNumericNodeID(0, id.ObjectsFolder), ReferenceTypeID: ua.NewStringNodeID(0, "x"), BrowseDirection: 7}}, View: &ua.ViewDescription{ViewID: ua.NewTwoByteNodeID(0)}},
		&ua.TranslateBrowsePathsToNodeIDsRequest{BrowsePaths: []*ua.BrowsePath{{StartingNode: ua.NewNumericNodeID(0, id.RootFolder),
			RelativePath: &ua.RelativePath{Elements: []*ua.RelativePathElement{{ReferenceTypeID: ua.NewTwoByteNodeID(0), TargetName: &ua.QualifiedName{Name: "Objects"}},
				{ReferenceTypeID: ua.NewTwoByteNodeID(0), IsInverse: true, TargetName: &ua.QualifiedName{NamespaceIndex: 1, Name: "acme"}}}}}}},
		&ua.BrowseNextRequest{ContinuationPoints: [][]byte{nil, {0}}},
		&ua.WriteRequest{NodesToWrite: []*ua.WriteValue{{NodeID: ua.NewStringNodeID(1, fm+"/temp"), AttributeID: ua.AttributeIDValue, Value: &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant("x")}}}},
		&ua.HistoryReadRequest{NodesToRead: []*ua.HistoryReadValueID{{NodeID: ua.NewStringNodeID(1, fm+"/temp"), DataEncoding: &ua.QualifiedName{}}}, HistoryReadDetails: ua.NewExtensionObject(nil)},
		&ua.CreateMonitoredItemsRequest{SubscriptionID: 1, ItemsToCreate: []*ua.MonitoredItemCreateRequest{{ItemToMonitor: &ua.ReadValueID{NodeID: ua.NewStringNodeID(1, fm+"/temp"), AttributeID: ua.AttributeIDValue, DataEncoding: qn},
			RequestedParameters: params(ua.NewExtensionObject(&ua.DataChangeFilter{DeadbandType: 2, DeadbandValue: 1e308}))}}},
		&ua.ModifyMonitoredItemsRequest{SubscriptionID: 1, ItemsToModify: []*ua.MonitoredItemModifyRequest{{MonitoredItemID: 1, RequestedParameters: params(ua.NewExtensionObject(nil))}}},
		&ua.SetMonitoringModeRequest{SubscriptionID: 1, MonitoringMode: 5, MonitoredItemIDs: []uint32{1, 2}},
		&ua.CreateSubscriptionRequest{RequestedPublishingInterval: -1, RequestedLifetimeCount: 0, RequestedMaxKeepAliveCount: 1 << 31},
		&ua.ModifySubscriptionRequest{SubscriptionID: 1},
		&ua.RepublishRequest{SubscriptionID: 1},
		&ua.DeleteSubscriptionsRequest{SubscriptionIDs: []uint32{1, 0, 1 << 31}},
		&ua.CallRequest{MethodsToCall: []*ua.CallMethodRequest{{ObjectID: ua.NewTwoByteNodeID(0), MethodID: ua.NewTwoByteNodeID(0)}}},
	} {
		r.SetHeader(&ua.RequestHeader{AuthenticationToken: ua.NewTwoByteNodeID(0), AdditionalHeader: ua.NewExtensionObject(nil), Timestamp: time.Unix(0, 0)})
		b, err := ua.Encode(ua.NewFourByteExpandedNodeID(0, ua.ServiceTypeID(r)))
		if err != nil {
			f.Fatal(err)
		}
		body, err := encode(r)
		if err != nil {
			f.Fatalf("seed %T: %v", r, err)
		}
		f.Add(append(b, body...))
	}
	_, url := fakeServer(f)
	c := goClient(f, url)
	probe := &ua.ReadRequest{NodesToRead: []*ua.ReadValueID{{NodeID: ua.NewStringNodeID(1, fm+"/temp"), AttributeID: ua.AttributeIDValue}}}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, svc, err := ua.DecodeService(b)
		if err != nil {
			return
		}
		req, ok := svc.(ua.Request)
		if !ok || req.Header() == nil {
			return
		}
		switch req.(type) {
		case *ua.CreateSessionRequest, *ua.ActivateSessionRequest, *ua.CloseSessionRequest, *ua.PublishRequest,
			*ua.OpenSecureChannelRequest, *ua.CloseSecureChannelRequest:
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := encode(req); err != nil {
			return // gopcua's client could not send it (a nil it cannot encode)
		}
		c.Send(ctx, req, func(ua.Response) error { return nil }) // any answer, or a Bad status
		if _, err := c.Read(ctx, probe); err != nil {
			t.Fatalf("server stopped answering after %T: %v", req, err)
		}
	})
}

// encode is ua.Encode, with gopcua's panic on a nil it cannot encode
// turned into an error.
func encode(v any) (b []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("encode: %v", p)
		}
	}()
	return ua.Encode(v)
}
