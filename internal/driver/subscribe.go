package driver

import (
	"context"
	"time"

	"github.com/otlink/otlink/internal/model"
)

// Subscriber is implemented by connections whose device reports changes
// itself: OPC UA monitored items, an MTConnect sample stream, MQTT topics.
// The engine polls nobody on such a connection. After Connect (and
// Identify) it calls Subscribe once with every resolved point of the
// device; the connection calls report for each value it receives until ctx
// ends (Subscribe then returns nil) or the subscription fails (Subscribe
// returns the error, classified by the driver's Classify, and the engine
// reconnects with back-off and subscribes again: a driver that can
// transfer or re-create a server-side subscription does so inside
// Subscribe). report may be called from any goroutine, but not
// concurrently with itself for the same item.
//
// The device's poll classes still matter: each class's interval is the
// sampling interval asked for its tags and the period at which the engine
// publishes what arrived as one batch, so a pushing device costs the bus
// no more than a polled one.
type Subscriber interface {
	Subscribe(ctx context.Context, items []Item, report func(Update)) error
}

// Pusher is implemented by drivers whose devices push values. Pushes
// reports whether dev is configured to push (a driver may offer both
// polling and subscriptions); the engine then keeps each tag's configured
// address for Item.Address and expects the device's connections to be
// Subscribers.
type Pusher interface {
	Pushes(dev DeviceSpec) bool
}

// Item is one point to subscribe to.
type Item struct {
	Point Point
	// Tag is the tag's full path, for drivers that name items after it
	// (e.g. an MQTT mapping) and for messages.
	Tag string
	// Address is the tag's address as configured (a node id, a data item
	// id, a topic), so that a driver need not keep its own table from
	// Resolve.
	Address string
	// Interval is the tag's poll-class interval: the sampling interval to
	// ask of the device.
	Interval time.Duration
	// Deadband is the tag's absolute deadband in raw device units (the
	// engineering deadband divided by the scale's gain); 0 = every change.
	// The engine applies the tag's deadband again, so a driver may ignore it.
	Deadband float64
}

// Update is one value the device reported for items[Item].
type Update struct {
	Item    int
	Value   model.Value // raw: the engine scales it
	Quality model.Quality
	Code    uint16 // OTL code explaining a bad quality, 0 otherwise
	Source  int64  // the device's timestamp in Unix ns; 0 = when it arrived
}
