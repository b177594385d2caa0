package errcode

// Codes of the simulated OPC UA machine of the virtual plant (8010–8029).
const (
	SimUACert Code = 8010
)

func init() {
	register(
		Entry{Code: SimUACert, Name: "sim.opcua_cert", Title: "the simulated OPC UA machine has no usable certificate",
			Causes: []string{"its certificate or key file (DATA/sim/opcua-*.der, .pem) is damaged or unreadable",
				"the folder for them cannot be written"},
			Checks: []string{"the file named in the message", "the permissions of the data folder"},
			Fix:    "delete the two files named in the message: the simulator makes a new certificate, which otlink must then trust again (the demo does this by itself)"},
	)
}
