package model

// Sample is one value of one tag at one time.
//
// Source is when the device produced the value (when the protocol says so)
// or when the reply arrived; Server is when otlink stamped it. Both are Unix
// nanoseconds.
type Sample struct {
	Tag     string  // full tag path, e.g. acme/taichung/machining/line1/cnc01/spindle_speed
	Value   Value   // typed value; invalid when quality is bad and nothing was read
	Source  int64   // source timestamp, Unix ns
	Server  int64   // server timestamp, Unix ns
	Quality Quality // OPC UA StatusCode compatible
	Code    uint16  // otlink error code (OTL-nnnn) that explains a bad quality, 0 otherwise
	// (fields ordered so that a Sample is 72 bytes, not 80: batches of
	// 300,000 samples are common)
}

// Batch is the result of one poll cycle of one poll class of one device,
// or one part of it (see Part). Samples of a batch travel together on the
// bus.
type Batch struct {
	Device string // device name from the config
	Class  string // poll class name
	Seq    uint64 // per device and class, increases by one each cycle
	Start  int64  // when the cycle started, Unix ns
	End    int64  // when its last reply arrived, Unix ns
	Missed uint64 // cycles skipped before this one because the previous overran; on the first part only
	// Part numbers the parts of one cycle, from 0: a cycle with many
	// samples is delivered as several batches with the same Seq (each at
	// most a few thousand samples), so that no message outgrows a bus's
	// payload limit and no one holds a whole plant's samples at once.
	Part    uint32
	Samples []Sample // changed samples (report by exception) or all, as configured
}
