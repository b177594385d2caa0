package errcode

// Codes of the simulator, the virtual plant behind `otlink sim` (8000–8049).
const (
	SimConfig Code = 8000
	SimListen Code = 8001
	SimState  Code = 8002
)

func init() {
	register(
		Entry{Code: SimConfig, Name: "sim.config", Title: "the simulator's configuration is not valid",
			Causes: []string{"a sim config file that is not YAML or has an unknown key",
				"a count out of range (lines, machines per line, port)", "a fault setting out of range or a device name that is not in the plant"},
			Checks: []string{"the file and line printed with the message", "docs/sim.md lists every key with its range"},
			Fix:    "correct the sim config; start from internal/sim/testdata/sim.yaml"},
		Entry{Code: SimListen, Name: "sim.listen", Title: "a simulated device cannot listen on its address",
			Causes: []string{"the port is used by another program or another simulator", "too many devices for the open-file limit", "the address is not one of this machine's"},
			Checks: []string{"`ss -ltnp | grep PORT` shows who holds the port", "`ulimit -n` must exceed three file descriptors per device"},
			Fix:    "choose another base_port (or 0 for free ports), stop the other program, or raise the open-file limit"},
		Entry{Code: SimState, Name: "sim.state", Title: "a simulated device or plant was used in the wrong state",
			Causes: []string{"Start called twice, or after Close"},
			Checks: []string{"the calling code's start and stop order"},
			Fix:    "create a new device or plant instead of restarting a closed one"},
	)
}
