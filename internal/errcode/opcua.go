package errcode

// OPC UA client and certificate trust codes, 2200-2249.
const (
	UACertUntrusted    Code = 2200
	UACertInvalid      Code = 2201
	UACertNotFound     Code = 2202
	UAPKI              Code = 2203
	UABadEndpoint      Code = 2210
	UABadOption        Code = 2211
	UABadNodeID        Code = 2212
	UAConnection       Code = 2213
	UATimeout          Code = 2214
	UASecurityRejected Code = 2215
	UAAuth             Code = 2216
	UABadStatus        Code = 2217
	UANotWritable      Code = 2218
	UAMalformed        Code = 2219
	UASubscription     Code = 2220
	UATypeMismatch     Code = 2221
	UABrowse           Code = 2222
	UANoEndpoint       Code = 2223
	UAPassword         Code = 2224
	UANotConnected     Code = 2225
)

func init() {
	register(
		Entry{Code: UACertUntrusted, Name: "opcua.cert_untrusted",
			Title:  "opc ua peer certificate is not trusted",
			Causes: []string{"first connection to this server or client: its certificate was never trusted", "the peer created a new certificate (reinstall, renewal)", "someone rejected the certificate with otlink certs reject", "a machine in the middle presents its own certificate"},
			Checks: []string{"otlink certs list --data DIR shows the certificate under rejected, with subject, application URI and thumbprint", "compare the thumbprint with the one the peer shows in its own configuration"},
			Fix:    "if the thumbprint is the peer's, run otlink certs trust <thumbprint>; otlink connects on the next retry"},
		Entry{Code: UACertInvalid, Name: "opcua.cert_invalid",
			Title:  "opc ua peer certificate is unreadable, expired or not yet valid",
			Causes: []string{"the peer's certificate has expired or its clock is wrong", "the peer sent bytes that are not a DER certificate"},
			Checks: []string{"the certificate's validity dates (otlink certs list) and the clocks of both machines"},
			Fix:    "renew the peer's application instance certificate, or fix the clock; then trust the new one"},
		Entry{Code: UACertNotFound, Name: "opcua.cert_not_found",
			Title:  "no certificate in the trust store matches the thumbprint",
			Causes: []string{"a typo in the thumbprint", "a prefix that matches several certificates or none", "the certificate was never presented, so it is not under rejected"},
			Checks: []string{"otlink certs list --data DIR"},
			Fix:    "give the full thumbprint (40 hex digits) as listed, or trust a certificate file with otlink certs trust FILE"},
		Entry{Code: UAPKI, Name: "opcua.pki",
			Title:  "opc ua certificate folder cannot be read or written",
			Causes: []string{"DATA/pki or its files are not readable or writable by otlink", "a damaged own certificate or key file"},
			Checks: []string{"permissions and contents of DATA/pki/own"},
			Fix:    "fix the permissions; to start over, move DATA/pki/own away and otlink creates a new application certificate (peers must trust it again)"},
		Entry{Code: UABadEndpoint, Name: "opcua.bad_endpoint",
			Title:  "opc ua endpoint url cannot be parsed",
			Causes: []string{"a scheme other than opc.tcp://", "a missing host or port"},
			Checks: []string{"the device endpoint: opc.tcp://host:port/path"},
			Fix:    "write the endpoint as opc.tcp://host:4840/path, as the server announces it"},
		Entry{Code: UABadOption, Name: "opcua.bad_option",
			Title:  "opc ua device option is not valid",
			Causes: []string{"an unknown security_policy, security_mode, auth or mode", "security_policy None with a mode other than None, or the reverse", "auth username without username or a password source"},
			Checks: []string{"the device options against docs/opcua.md"},
			Fix:    "use the values docs/opcua.md lists"},
		Entry{Code: UABadNodeID, Name: "opcua.bad_node_id",
			Title:  "opc ua tag address is not a node id",
			Causes: []string{"a typo in the node id", "a browse path given where a node id is needed"},
			Checks: []string{"the tag address: ns=2;s=Machine.Speed, i=2258, ns=3;i=1001, ns=1;g=GUID, ns=1;b=BASE64"},
			Fix:    "copy the node id from otlink opcua browse or the server's address space"},
		Entry{Code: UAConnection, Name: "opcua.connection",
			Title:  "opc ua connection failed or was lost",
			Causes: []string{"the server is down or unreachable", "a firewall between otlink and the server", "the server closed the secure channel"},
			Checks: []string{"the endpoint's host and port; that the server runs"},
			Fix:    "start the server or fix the network; otlink reconnects with back-off and transfers or re-creates its subscriptions"},
		Entry{Code: UATimeout, Name: "opcua.timeout",
			Title:  "opc ua server did not answer in time",
			Causes: []string{"the server is overloaded", "the request asked for too many nodes", "the timeout is too short"},
			Checks: []string{"the server's load and its MaxNodesPerRead"},
			Fix:    "raise the device timeout or lower coalesce.max_count"},
		Entry{Code: UASecurityRejected, Name: "opcua.security_rejected",
			Title:  "opc ua server refused the secure channel",
			Causes: []string{"the server does not trust otlink's application certificate", "the application URI in otlink's certificate is not what the server expects"},
			Checks: []string{"the server's rejected certificates folder for otlink's certificate (DATA/pki/own/cert.der)"},
			Fix:    "trust otlink's certificate on the server (copy DATA/pki/own/cert.der into its trusted folder)"},
		Entry{Code: UAAuth, Name: "opcua.auth",
			Title:  "opc ua server refused the user identity",
			Causes: []string{"a wrong user name or password", "anonymous access is disabled on the server", "the user certificate is not trusted by the server"},
			Checks: []string{"the device's auth option, user name and password source"},
			Fix:    "set the right credentials, or choose an identity the server accepts"},
		Entry{Code: UABadStatus, Name: "opcua.bad_status",
			Title:  "opc ua server answered with a bad status code",
			Causes: []string{"the node does not exist or is not readable", "the server refused the service for this session"},
			Checks: []string{"the status name in the message; the node id in the server's address space"},
			Fix:    "fix the node id or the server's access rights"},
		Entry{Code: UANotWritable, Name: "opcua.not_writable",
			Title:  "opc ua node was not written",
			Causes: []string{"the tag is not writable in otlink", "the server refused the write (access level, type, range)"},
			Checks: []string{"the tag's writable flag, the node's AccessLevel and DataType"},
			Fix:    "mark the tag writable and give the node write access for otlink's user"},
		Entry{Code: UAMalformed, Name: "opcua.malformed",
			Title:  "opc ua value block cannot be decoded",
			Causes: []string{"a block shorter than its header says", "an unknown value kind in a block"},
			Checks: []string{"this is an internal encoding between the driver and the engine: report it with the message"},
			Fix:    "report the message; the engine reconnects"},
		Entry{Code: UASubscription, Name: "opcua.subscription",
			Title:  "opc ua subscription failed",
			Causes: []string{"the server has no room for more subscriptions or monitored items", "the session was closed and the subscription could not be transferred"},
			Checks: []string{"the server's MaxSubscriptions and MaxMonitoredItems limits"},
			Fix:    "raise the server's limits or use mode: poll; otlink re-creates the subscription on reconnect"},
		Entry{Code: UATypeMismatch, Name: "opcua.type_mismatch",
			Title:  "opc ua value does not fit the tag type",
			Causes: []string{"the tag's type differs from the node's DataType", "an array or structure where a scalar is expected"},
			Checks: []string{"the node's DataType (otlink opcua browse prints it)"},
			Fix:    "set the tag type to match the node's DataType"},
		Entry{Code: UABrowse, Name: "opcua.browse",
			Title:  "opc ua browse failed",
			Causes: []string{"the server refused the browse", "the start node does not exist"},
			Checks: []string{"the endpoint and the start node"},
			Fix:    "check the endpoint and options; browse a smaller part with --root and --depth"},
		Entry{Code: UANoEndpoint, Name: "opcua.no_endpoint",
			Title:  "opc ua server offers no endpoint with the asked security",
			Causes: []string{"the server does not offer the configured security_policy and security_mode", "the server does not accept the configured user token type on that endpoint"},
			Checks: []string{"the endpoints the message lists"},
			Fix:    "choose a security_policy and security_mode the server offers"},
		Entry{Code: UAPassword, Name: "opcua.password",
			Title:  "opc ua password cannot be read",
			Causes: []string{"password_file does not exist or is not readable", "password_env names an unset variable"},
			Checks: []string{"the device's password_file or password_env"},
			Fix:    "create the file (mode 0600) or set the variable in otlink's environment"},
		Entry{Code: UANotConnected, Name: "opcua.not_connected",
			Title:  "opc ua connection is not open",
			Causes: []string{"a read, write or subscribe before Connect or after Close"},
			Checks: []string{"the device state in otlink"},
			Fix:    "wait for the reconnect; report it if it persists"},
	)
}
