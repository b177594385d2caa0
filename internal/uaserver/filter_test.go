package uaserver_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	"github.com/otlink/otlink/internal/acquire"
	"github.com/otlink/otlink/internal/config"
	"github.com/otlink/otlink/internal/model"
	"github.com/otlink/otlink/internal/uaserver"
	"github.com/otlink/otlink/internal/uatrust"
)

// source is a value source the test sets.
type source struct {
	mu   sync.Mutex
	vals map[string]model.Value
	t    int64
}

func (s *source) set(path string, v model.Value) {
	s.mu.Lock()
	s.vals[path] = v
	s.t++
	s.mu.Unlock()
}

func (s *source) SnapshotInto(dst []acquire.TagValue) []acquire.TagValue {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p, v := range s.vals {
		dst = append(dst, acquire.TagValue{Path: p, Value: v, Quality: model.Good, Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano() + s.t})
	}
	return dst
}

const fm = "acme/s/a/l/m"

// fakeServer serves three tags of a source the test controls.
func fakeServer(t testing.TB) (*source, string) {
	t.Helper()
	src := &source{vals: map[string]model.Value{fm + "/temp": model.FloatValue(model.Float64, 0), fm + "/count": model.UintValue(model.Uint16, 0),
		fm + "/name": model.StringValue("a")}}
	cfg := &config.Config{Version: 1, Plant: config.Plant{Enterprise: "acme", Sites: []config.Site{{Name: "s", Areas: []config.Area{{Name: "a",
		Lines: []config.Line{{Name: "l", Machines: []config.Machine{{Name: "m", Device: "d", Tags: []config.Tag{
			{Name: "temp", Address: "hr:0", Type: "float64", Range: &config.Range{Min: 0, Max: 200}},
			{Name: "count", Address: "hr:1", Type: "uint16"},
			{Name: "name", Address: "hr:2", Type: "string"},
		}}}}}}}}}}}
	config.Defaults(cfg)
	store, err := uatrust.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := uaserver.New(uaserver.Options{Config: config.OPCUAServer{Enabled: true, Listen: freePort(t), SecurityPolicies: []string{"None", "Basic256Sha256"},
		SampleInterval: config.Duration(20 * time.Millisecond)}, Plant: cfg.Plant, Source: src, Users: users{}, PKI: pki{store}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return src, srv.EndpointURL()
}

// seen collects the values published per client handle.
type seen struct {
	mu sync.Mutex
	v  map[uint32][]any
}

func (s *seen) get(h uint32) []any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]any(nil), s.v[h]...)
}

func (s *seen) last(h uint32) any {
	v := s.get(h)
	if len(v) == 0 {
		return nil
	}
	return v[len(v)-1]
}

func deadband(kind ua.DeadbandType, v float64) *ua.ExtensionObject {
	return ua.NewExtensionObject(&ua.DataChangeFilter{Trigger: ua.DataChangeTriggerStatusValue, DeadbandType: uint32(kind), DeadbandValue: v})
}

func TestDeadbandsAndSubscriptionServices(t *testing.T) {
	src, url := fakeServer(t)
	c := goClient(t, url)
	ctx := context.Background()
	ch := make(chan *opcua.PublishNotificationData, 64)
	sub, err := c.Subscribe(ctx, &opcua.SubscriptionParameters{Interval: 20 * time.Millisecond}, ch)
	if err != nil {
		t.Fatal(err)
	}
	got := &seen{v: map[uint32][]any{}}
	go func() {
		for n := range ch {
			if dc, ok := n.Value.(*ua.DataChangeNotification); ok {
				got.mu.Lock()
				for _, it := range dc.MonitoredItems {
					got.v[it.ClientHandle] = append(got.v[it.ClientHandle], it.Value.Value.Value())
				}
				got.mu.Unlock()
			}
		}
	}()
	temp := ua.NewStringNodeID(1, fm+"/temp")
	item := func(n *ua.NodeID, h uint32, f *ua.ExtensionObject) *ua.MonitoredItemCreateRequest {
		r := opcua.NewMonitoredItemCreateRequestWithDefaults(n, ua.AttributeIDValue, h)
		r.RequestedParameters.Filter = f
		r.RequestedParameters.QueueSize = 10
		return r
	}
	res, err := sub.Monitor(ctx, ua.TimestampsToReturnBoth,
		item(temp, 1, nil),
		item(temp, 2, deadband(ua.DeadbandTypeAbsolute, 5)),
		item(temp, 3, deadband(ua.DeadbandTypePercent, 10)), // 10 % of 0..200
		item(ua.NewStringNodeID(1, fm+"/count"), 4, deadband(ua.DeadbandTypePercent, 10)),
		item(ua.NewStringNodeID(1, fm+"/name"), 5, deadband(ua.DeadbandTypeAbsolute, 1)),
		item(temp, 6, deadband(ua.DeadbandTypeAbsolute, -1)),
		item(temp, 7, deadband(ua.DeadbandType(9), 1)),
	)
	if err != nil {
		t.Fatal(err)
	}
	want := []ua.StatusCode{ua.StatusOK, ua.StatusOK, ua.StatusOK, ua.StatusBadMonitoredItemFilterUnsupported, ua.StatusBadFilterNotAllowed,
		ua.StatusBadDeadbandFilterInvalid, ua.StatusBadDeadbandFilterInvalid}
	for i, r := range res.Results {
		if r.StatusCode != want[i] {
			t.Errorf("item %d: %v, want %v", i+1, r.StatusCode, want[i])
		}
		if r.StatusCode == ua.StatusOK && r.RevisedQueueSize != 1 {
			t.Errorf("item %d: revised queue size %d, want 1", i+1, r.RevisedQueueSize)
		}
	}
	// Step the value; the unfiltered item sees every step before the next.
	step := func(v float64) {
		t.Helper()
		src.set(fm+"/temp", model.FloatValue(model.Float64, v))
		waitFor(t, "unfiltered item sees the new value", func() bool { return got.last(1) == v })
	}
	waitFor(t, "initial values", func() bool { return got.last(1) == 0.0 && got.last(2) == 0.0 && got.last(3) == 0.0 })
	for _, v := range []float64{1, 2, 3, 7, 8, 30, 31, 100} {
		step(v)
	}
	// 100 passes every deadband: once it arrived, nothing else can.
	waitFor(t, "100 through the deadbands", func() bool { return got.last(2) == 100.0 && got.last(3) == 100.0 })
	if g := got.get(2); !equal(g, []any{0.0, 7.0, 30.0, 100.0}) {
		t.Errorf("absolute deadband 5 reported %v, want [0 7 30 100]", g)
	}
	if g := got.get(3); !equal(g, []any{0.0, 30.0, 100.0}) {
		t.Errorf("percent deadband 10 %% of 0..200 reported %v, want [0 30 100]", g)
	}

	// ModifyMonitoredItems: item 2 loses its deadband; an invalid filter is
	// refused per item.
	mr, err := sub.ModifyMonitoredItems(ctx, ua.TimestampsToReturnBoth,
		&ua.MonitoredItemModifyRequest{MonitoredItemID: res.Results[1].MonitoredItemID, RequestedParameters: &ua.MonitoringParameters{ClientHandle: 2, SamplingInterval: 0, QueueSize: 5, DiscardOldest: true}},
		&ua.MonitoredItemModifyRequest{MonitoredItemID: res.Results[2].MonitoredItemID, RequestedParameters: &ua.MonitoringParameters{ClientHandle: 3, Filter: deadband(ua.DeadbandTypePercent, 101)}},
	)
	if err != nil {
		t.Fatal(err)
	}
	if st := []ua.StatusCode{mr.Results[0].StatusCode, mr.Results[1].StatusCode}; st[0] != ua.StatusOK || st[1] != ua.StatusBadDeadbandFilterInvalid {
		t.Errorf("modify results %v, want [Good BadDeadbandFilterInvalid]", st)
	}
	step(101)
	waitFor(t, "item 2 without deadband", func() bool { return got.last(2) == 101.0 })

	// ModifySubscription answers with the parameters as created.
	ms, err := sub.ModifySubscription(ctx, opcua.SubscriptionParameters{Interval: time.Second, LifetimeCount: 10000, MaxKeepAliveCount: 3000})
	if err != nil || ms.ResponseHeader.ServiceResult != ua.StatusOK || ms.RevisedPublishingInterval != 50 {
		t.Errorf("modify subscription: %v %+v, want the interval as created (50 ms)", err, ms)
	}
	// Republish: no retransmission queue.
	send := func(req ua.Request) (ua.Response, error) {
		var out ua.Response
		err := c.Send(ctx, req, func(r ua.Response) error { out = r; return nil })
		return out, err
	}
	if _, err := send(&ua.RepublishRequest{SubscriptionID: sub.SubscriptionID, RetransmitSequenceNumber: 1}); err != ua.StatusBadMessageNotAvailable {
		t.Errorf("republish: %v, want BadMessageNotAvailable", err)
	}
	if _, err := send(&ua.RepublishRequest{SubscriptionID: 424242, RetransmitSequenceNumber: 1}); err != ua.StatusBadSubscriptionIDInvalid {
		t.Errorf("republish of an unknown subscription: %v, want BadSubscriptionIdInvalid", err)
	}
	// gopcua's client refuses unknown item ids itself: send the request.
	r, err := send(&ua.ModifyMonitoredItemsRequest{SubscriptionID: sub.SubscriptionID, TimestampsToReturn: ua.TimestampsToReturnBoth,
		ItemsToModify: []*ua.MonitoredItemModifyRequest{{MonitoredItemID: 999999, RequestedParameters: &ua.MonitoringParameters{ClientHandle: 9}}}})
	if mm, ok := r.(*ua.ModifyMonitoredItemsResponse); err != nil || !ok || len(mm.Results) != 1 || mm.Results[0].StatusCode != ua.StatusBadMonitoredItemIDInvalid {
		t.Errorf("modify of an unknown item: %v %v, want BadMonitoredItemIdInvalid", r, err)
	}
	// BrowseNext: Browse hands out no continuation points.
	r, err = send(&ua.BrowseNextRequest{ContinuationPoints: [][]byte{{1, 2, 3}}})
	if bn, ok := r.(*ua.BrowseNextResponse); err != nil || !ok || len(bn.Results) != 1 || bn.Results[0].StatusCode != ua.StatusBadContinuationPointInvalid {
		t.Errorf("browse next: %v %v", r, err)
	}
	// TranslateBrowsePathsToNodeIds from Objects down to the tag.
	path := func(start *ua.NodeID, names ...string) *ua.BrowsePath {
		bp := &ua.BrowsePath{StartingNode: start, RelativePath: &ua.RelativePath{}}
		for _, n := range names {
			bp.RelativePath.Elements = append(bp.RelativePath.Elements, &ua.RelativePathElement{ReferenceTypeID: ua.NewNumericNodeID(0, id.HierarchicalReferences),
				IncludeSubtypes: true, TargetName: &ua.QualifiedName{NamespaceIndex: 1, Name: n}})
		}
		return bp
	}
	rootPath := path(ua.NewNumericNodeID(0, id.RootFolder), "Objects", "acme", "s", "a", "l", "m", "temp", "EURange")
	rootPath.RelativePath.Elements[0].TargetName.NamespaceIndex = 0
	r, err = send(&ua.TranslateBrowsePathsToNodeIDsRequest{BrowsePaths: []*ua.BrowsePath{
		path(ua.NewNumericNodeID(0, id.ObjectsFolder), "acme", "s", "a", "l", "m", "temp"),
		rootPath,
		path(ua.NewNumericNodeID(0, id.ObjectsFolder), "acme", "nope"),
		path(ua.NewStringNodeID(1, "no/such"), "x"),
		{StartingNode: ua.NewNumericNodeID(0, id.ObjectsFolder), RelativePath: &ua.RelativePath{}},
	}})
	tr, ok := r.(*ua.TranslateBrowsePathsToNodeIDsResponse)
	if err != nil || !ok || len(tr.Results) != 5 {
		t.Fatalf("translate: %v %v", r, err)
	}
	target := func(i int) string {
		if len(tr.Results[i].Targets) != 1 {
			return tr.Results[i].StatusCode.Error()
		}
		return tr.Results[i].Targets[0].TargetID.NodeID.String()
	}
	if g := target(0); g != "ns=1;s="+fm+"/temp" {
		t.Errorf("translate to the tag: %s", g)
	}
	if g := target(1); g != "ns=1;s="+fm+"/temp#EURange" {
		t.Errorf("translate from Root to EURange: %s", g)
	}
	for i, want := range []ua.StatusCode{ua.StatusBadNoMatch, ua.StatusBadNodeIDUnknown, ua.StatusBadNothingToDo} {
		if st := tr.Results[i+2].StatusCode; st != want {
			t.Errorf("translate %d: %v, want %v", i+2, st, want)
		}
	}
}

func equal(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
