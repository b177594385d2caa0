package errcode

// Acquisition engine codes, 4000-4099.
const (
	AcquireUnknownDriver     Code = 4000
	AcquireUnknownDevice     Code = 4001
	AcquireUnknownPollClass  Code = 4002
	AcquireResolve           Code = 4003
	AcquirePointTooLarge     Code = 4004
	AcquireDuplicateTag      Code = 4005
	AcquirePollFloor         Code = 4006
	AcquireConnect           Code = 4010
	AcquireNotConnected      Code = 4011
	AcquireRead              Code = 4012
	AcquireTimeout           Code = 4013
	AcquireRejected          Code = 4014
	AcquireDecode            Code = 4015
	AcquireOverrun           Code = 4016
	AcquireSink              Code = 4017
	AcquireLimits            Code = 4018
	AcquireWriteUnknownTag   Code = 4030
	AcquireWriteNotWritable  Code = 4031
	AcquireWriteOutOfLimits  Code = 4032
	AcquireWriteStep         Code = 4033
	AcquireWriteTooFast      Code = 4034
	AcquireWriteUnsupported  Code = 4035
	AcquireWriteType         Code = 4036
	AcquireWriteFailed       Code = 4037
	AcquireWriteNotConnected Code = 4038
	AcquireNotSubscriber     Code = 4039
	AcquireSubscription      Code = 4040
)

func init() {
	register(
		Entry{Code: AcquireUnknownDriver, Name: "acquire.unknown_driver",
			Title:  "device names a driver this build does not have",
			Causes: []string{"a typo in the device's driver", "a driver left out of this build"},
			Checks: []string{"`otlink drivers` lists the drivers of this build"},
			Fix:    "set driver to one of the listed names"},
		Entry{Code: AcquireUnknownDevice, Name: "acquire.unknown_device",
			Title:  "tag refers to a device that is not configured",
			Causes: []string{"a typo in the tag's or machine's device", "the device was removed or renamed"},
			Checks: []string{"the devices section for the name the tag uses"},
			Fix:    "name a configured device on the tag or its machine"},
		Entry{Code: AcquireUnknownPollClass, Name: "acquire.unknown_poll_class",
			Title:  "tag refers to a poll class its device does not have",
			Causes: []string{"a typo in the tag's poll", "the class was renamed on the device"},
			Checks: []string{"the device's poll list"},
			Fix:    "use one of the device's poll class names, or leave poll empty for the first class"},
		Entry{Code: AcquireResolve, Name: "acquire.bad_address",
			Title:  "the driver rejected a tag's address or type",
			Causes: []string{"an address in the wrong syntax for the driver", "a type that does not fit the address"},
			Checks: []string{"the driver's address syntax; the wrapped driver code explains more"},
			Fix:    "correct the tag's address or type; the tag reports BadConfigurationError until then"},
		Entry{Code: AcquirePointTooLarge, Name: "acquire.point_too_large",
			Title:  "a tag occupies more units than one read may cover",
			Causes: []string{"a long string on a device whose learned or configured block limit is small", "coalesce.max_count below the tag's size"},
			Checks: []string{"the tag's length; the device's learned limits in health; coalesce.max_count"},
			Fix:    "shorten the tag, raise coalesce.max_count, or delete the device's learned-limit file if the device was upgraded"},
		Entry{Code: AcquireDuplicateTag, Name: "acquire.duplicate_tag",
			Title:  "two tags have the same path",
			Causes: []string{"a tag name repeated in one machine"},
			Checks: []string{"the machine's tag names"},
			Fix:    "give each tag of a machine its own name"},
		Entry{Code: AcquirePollFloor, Name: "acquire.poll_floor",
			Title:  "poll interval is below the device's floor and runs at the floor",
			Causes: []string{"a poll class faster than budget.poll_floor allows"},
			Checks: []string{"the device's poll classes and budget.poll_floor; health shows the effective interval"},
			Fix:    "raise the poll interval to the floor, or lower the floor if the device can take it"},
		Entry{Code: AcquireConnect, Name: "acquire.connect_failed",
			Title:  "could not connect to the device",
			Causes: []string{"the device is off or unreachable", "a wrong endpoint (host, port, serial line)", "a firewall between otlink and the device"},
			Checks: []string{"reach the endpoint from this host (ping, nc -vz host port)", "the device's health: last error and active endpoint"},
			Fix:    "fix the endpoint or the network; otlink retries with back-off and fails over to the backup endpoint"},
		Entry{Code: AcquireNotConnected, Name: "acquire.not_connected",
			Title:  "device is not connected; its tags are bad until it reconnects",
			Causes: []string{"the connection failed and otlink is backing off before the next attempt"},
			Checks: []string{"the device's health: last error, connected, active endpoint"},
			Fix:    "fix the cause of the connection failure; tags recover by themselves"},
		Entry{Code: AcquireRead, Name: "acquire.read_failed",
			Title:  "a block read failed",
			Causes: []string{"the device answered with an error", "the connection broke during the read"},
			Checks: []string{"the device's last error in health and the driver code it wraps"},
			Fix:    "follow the wrapped driver code's advice"},
		Entry{Code: AcquireTimeout, Name: "acquire.read_timeout",
			Title:  "device did not answer a read in time",
			Causes: []string{"the device is slow, overloaded or down", "the timeout is shorter than the device's reply time"},
			Checks: []string{"the device's RTT p99 in health against its timeout", "whether halved blocks also time out (then the device, not the size, is the cause)"},
			Fix:    "raise the device timeout or lower its load (longer poll interval, larger min_gap)"},
		Entry{Code: AcquireRejected, Name: "acquire.read_rejected",
			Title:  "device rejected the read of a single tag",
			Causes: []string{"the tag's address does not exist on the device", "the device refuses even a one-tag read of that size"},
			Checks: []string{"the device's register map against the tag's address", "the wrapped driver code"},
			Fix:    "correct or remove the tag; other tags of the device are unaffected"},
		Entry{Code: AcquireDecode, Name: "acquire.decode_failed",
			Title:  "a tag's value could not be decoded from the device's reply",
			Causes: []string{"the reply was shorter than the tag", "a type or byte order that does not match the device's data"},
			Checks: []string{"the tag's type, byte_order and word_order"},
			Fix:    "correct the tag's type or orders"},
		Entry{Code: AcquireOverrun, Name: "acquire.overrun",
			Title:  "poll cycle took longer than its interval; cycles were skipped",
			Causes: []string{"too many reads for the interval under the budget's min_gap", "a slow device", "timeouts inside the cycle"},
			Checks: []string{"the device's overruns, RTT and number of reads in health"},
			Fix:    "raise the poll interval, move slow tags to a slower class, or relax min_gap if the device allows"},
		Entry{Code: AcquireSink, Name: "acquire.publish_failed",
			Title:  "a batch of samples could not be published",
			Causes: []string{"the bus is down or full"},
			Checks: []string{"the bus health and its error code"},
			Fix:    "fix the bus; acquisition goes on and later batches carry current values"},
		Entry{Code: AcquireLimits, Name: "acquire.learned_limits",
			Title:  "learned block limits could not be saved or loaded",
			Causes: []string{"the data folder is not writable", "a damaged learned-limit file"},
			Checks: []string{"permissions of <data>/acquire/limits"},
			Fix:    "make the folder writable or delete the damaged file; the engine relearns limits"},
		Entry{Code: AcquireWriteUnknownTag, Name: "acquire.write_unknown_tag",
			Title:  "write to a tag path that does not exist",
			Causes: []string{"a typo in the path", "the tag was removed by a reload"},
			Checks: []string{"the tag list of the running config"},
			Fix:    "write to an existing tag path"},
		Entry{Code: AcquireWriteNotWritable, Name: "acquire.write_not_writable",
			Title:  "write refused: the tag is not marked writable",
			Causes: []string{"writes are off unless a tag is marked writable, to protect the equipment"},
			Checks: []string{"the tag's writable flag and limits"},
			Fix:    "mark the tag writable with limits, after checking that writing it is safe"},
		Entry{Code: AcquireWriteOutOfLimits, Name: "acquire.write_out_of_limits",
			Title:  "write refused: value outside the tag's limits",
			Causes: []string{"a value below limits.min or above limits.max", "a value the tag's raw type cannot hold after scaling"},
			Checks: []string{"the tag's limits and scale"},
			Fix:    "write a value within the limits"},
		Entry{Code: AcquireWriteStep, Name: "acquire.write_step_too_large",
			Title:  "write refused: change from the current value larger than max_step",
			Causes: []string{"a jump larger than the tag's limits.max_step"},
			Checks: []string{"the tag's current value and max_step"},
			Fix:    "approach the target in steps of at most max_step"},
		Entry{Code: AcquireWriteTooFast, Name: "acquire.write_too_fast",
			Title:  "write refused: the previous write to the tag was too recent",
			Causes: []string{"writes more often than the tag's limits.min_interval"},
			Checks: []string{"the tag's min_interval and the audit log"},
			Fix:    "wait for min_interval between writes"},
		Entry{Code: AcquireWriteUnsupported, Name: "acquire.write_unsupported",
			Title:  "write refused: the device's driver cannot write",
			Causes: []string{"a read-only driver or address space (e.g. input registers)"},
			Checks: []string{"the driver's documentation for writable spaces"},
			Fix:    "write through a driver and address that support writing"},
		Entry{Code: AcquireWriteType, Name: "acquire.write_type",
			Title:  "write refused: the value's type does not fit the tag",
			Causes: []string{"a string written to a numeric tag or a number to a string tag"},
			Checks: []string{"the tag's type"},
			Fix:    "write a value of the tag's type"},
		Entry{Code: AcquireWriteFailed, Name: "acquire.write_failed",
			Title:  "write to the device failed",
			Causes: []string{"the device refused the write", "the connection failed during the write"},
			Checks: []string{"the wrapped driver code and the device's health"},
			Fix:    "follow the wrapped driver code's advice; the value is read back on the next cycle"},
		Entry{Code: AcquireWriteNotConnected, Name: "acquire.write_not_connected",
			Title:  "write refused: the device is not connected",
			Causes: []string{"the device is down or otlink is backing off before reconnecting"},
			Checks: []string{"the device's health"},
			Fix:    "retry when the device is connected"},
		Entry{Code: AcquireNotSubscriber, Name: "acquire.not_subscriber",
			Title:  "the device is configured to push values but its connection cannot subscribe",
			Causes: []string{"a driver bug: its Pushes reports true for a connection type without Subscribe"},
			Checks: []string{"the device's driver and mode option"},
			Fix:    "configure the device to poll (e.g. options: {mode: poll}) and report the driver bug"},
		Entry{Code: AcquireSubscription, Name: "acquire.subscription",
			Title:  "a device's subscription ended or failed",
			Causes: []string{"the device or broker closed the stream", "the network failed", "the device restarted"},
			Checks: []string{"the wrapped driver code", "the device's health page and log"},
			Fix:    "otlink reconnects with back-off and subscribes again; follow the wrapped code if it persists"},
	)
}
