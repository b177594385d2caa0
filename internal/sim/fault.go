package sim

import (
	"fmt"
	"time"

	"github.com/otlink/otlink/internal/proto/modbus"
)

// Fault is the misbehaviour a device shows, for tests of the acquisition
// engine. The zero Fault is a well-behaved device. Modes combine; per
// request they apply in this order: Hang, Delay, DropProb, Exceptions,
// MaxBlock, then the reply is served, Malformed applied, and DropAfter
// counted.
type Fault struct {
	// Delay holds every reply back this long (a slow device).
	Delay time.Duration `yaml:"delay,omitempty"`
	// DropAfter closes a connection after answering this many requests on
	// it; 0 = never.
	DropAfter int `yaml:"drop_after,omitempty"`
	// DropProb closes the connection instead of answering, with this
	// probability per request.
	DropProb float64 `yaml:"drop_prob,omitempty"`
	// Exceptions answer matching requests with an exception.
	Exceptions []ExceptionRule `yaml:"exceptions,omitempty"`
	// Malformed corrupts replies (see Malformation); MalformedEvery applies it
	// to every Nth reply of the device (0 or 1 = every reply).
	Malformed      Malformation `yaml:"malformed,omitempty"`
	MalformedEvery int          `yaml:"malformed_every,omitempty"`
	// Hang accepts connections and reads requests but never answers.
	Hang bool `yaml:"hang,omitempty"`
	// MaxBlock refuses register reads (FC 3, 4) of more than this many
	// registers with exception 03, as many real devices do; 0 = no limit.
	MaxBlock int `yaml:"max_block,omitempty"`
	// MaxBits does the same for bit reads (FC 1, 2).
	MaxBits int `yaml:"max_bits,omitempty"`
	// Down closes the listener and every connection: clients get
	// "connection refused". Clearing it listens again on the same address.
	Down bool `yaml:"down,omitempty"`
}

// ExceptionRule answers matching requests with exception Code.
type ExceptionRule struct {
	Code     uint8  `yaml:"code"`               // exception code, e.g. 2, 4, 6
	Function uint8  `yaml:"function,omitempty"` // 0 = any function
	Start    uint16 `yaml:"start,omitempty"`    // first address matched
	Count    int    `yaml:"count,omitempty"`    // addresses matched from Start; 0 = all addresses
}

// matches reports whether the rule applies to q.
func (r *ExceptionRule) matches(q *modbus.Request) bool {
	if r.Function != 0 && r.Function != uint8(q.Function) {
		return false
	}
	if r.Count == 0 || q.Function == modbus.FuncEncapsulatedInterface {
		return r.Count == 0
	}
	lo, hi := int(q.Address), int(q.Address)+int(q.Quantity)
	return lo < int(r.Start)+r.Count && int(r.Start) < hi
}

// Malformation is a way to corrupt a reply.
type Malformation string

// The malformations.
const (
	MalformedNone      Malformation = ""
	MalformedLength    Malformation = "length"    // MBAP length one short: the PDU is cut and the stream loses sync
	MalformedTxID      Malformation = "txid"      // transaction id of another request
	MalformedGarbage   Malformation = "garbage"   // random bytes instead of the reply
	MalformedByteCount Malformation = "bytecount" // read reply whose byte count does not match its data
	MalformedFunction  Malformation = "function"  // reply to another function code
)

// Validate checks the fault's settings.
func (f *Fault) Validate() error {
	switch f.Malformed {
	case MalformedNone, MalformedLength, MalformedTxID, MalformedGarbage, MalformedByteCount, MalformedFunction:
	default:
		return fmt.Errorf("unknown malformation %q (want length, txid, garbage, bytecount or function)", f.Malformed)
	}
	if f.Delay < 0 || f.DropAfter < 0 || f.MaxBlock < 0 || f.MaxBits < 0 || f.MalformedEvery < 0 {
		return fmt.Errorf("negative fault setting")
	}
	if f.DropProb < 0 || f.DropProb > 1 {
		return fmt.Errorf("drop_prob %g outside 0..1", f.DropProb)
	}
	for _, r := range f.Exceptions {
		if r.Code == 0 || r.Code > 0x7f {
			return fmt.Errorf("exception code %d outside 1..127", r.Code)
		}
		if r.Count < 0 {
			return fmt.Errorf("negative exception count")
		}
	}
	return nil
}

// IsZero reports a well-behaved device.
func (f *Fault) IsZero() bool {
	return f.Delay == 0 && f.DropAfter == 0 && f.DropProb == 0 && len(f.Exceptions) == 0 &&
		f.Malformed == MalformedNone && !f.Hang && f.MaxBlock == 0 && f.MaxBits == 0 && !f.Down
}
