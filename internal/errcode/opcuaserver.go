package errcode

// OPC UA server codes, 2250–2299. Owned by internal/uaserver.
const (
	UAServerConfig  Code = 2250
	UAServerStart   Code = 2251
	UAServerAuth    Code = 2252
	UAServerWrite   Code = 2253
	UAServerRequest Code = 2254
	UAServerHistory Code = 2255
	UAServerClient  Code = 2256
	UAServerLimit   Code = 2257
)

func init() {
	register(
		Entry{Code: UAServerConfig, Name: "opcua.server.config",
			Title:  "opcua section of the configuration is invalid",
			Causes: []string{"an unknown security policy or mode", "a listen address that is not host:port", "listening beyond loopback with security policy None only", "the endpoint URL is not opc.tcp://host:port"},
			Checks: []string{"the opcua: section against docs/opcua-server.md", "`otlink check CONFIG`"},
			Fix:    "use the policies Basic256Sha256, Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss (None only on loopback or together with a secure one) and modes Sign, SignAndEncrypt"},
		Entry{Code: UAServerStart, Name: "opcua.server.start",
			Title:  "the OPC UA server cannot start",
			Causes: []string{"the listen port is in use by another program", "the application instance certificate in DATA/pki/own cannot be read or created"},
			Checks: []string{"`ss -ltnp` for the port", "permissions of DATA/pki/own"},
			Fix:    "choose a free port in opcua.listen, or fix the certificate files (delete them to have otlink create new ones)"},
		Entry{Code: UAServerAuth, Name: "opcua.server.auth",
			Title:  "an OPC UA client was refused a session",
			Causes: []string{"wrong user name or password", "anonymous login while opcua.anonymous is off", "the client's certificate is not trusted", "the client used a security policy or mode the configuration does not list"},
			Checks: []string{"the audit log (action opcua.login)", "`otlink certs list` for a rejected client certificate", "the client's endpoint selection"},
			Fix:    "log in as an otlink user, trust the client certificate with `otlink certs trust THUMBPRINT`, or pick one of the endpoints the server offers"},
		Entry{Code: UAServerWrite, Name: "opcua.server.write",
			Title:  "an OPC UA write was refused",
			Causes: []string{"the node is not a writable tag", "the user lacks tags.write for the tag's place in the plant", "the value is outside the tag's limits, too fast after the previous write or of the wrong type", "the device is not connected"},
			Checks: []string{"the audit log (action tags.write) for the reason", "the tag's writable and limits settings"},
			Fix:    "write only writable tags, within their limits, as a user with tags.write"},
		Entry{Code: UAServerRequest, Name: "opcua.server.request",
			Title:  "an OPC UA request could not be handled",
			Causes: []string{"a malformed or unsupported request from a client", "a request outside an activated session"},
			Checks: []string{"the server log at debug level, key proto=opcua"},
			Fix:    "update or reconfigure the client; the server answers such requests with a Bad status and keeps running"},
		Entry{Code: UAServerHistory, Name: "opcua.server.history",
			Title:  "an OPC UA history read failed",
			Causes: []string{"the historian is off", "the time range or continuation point is invalid", "the historian could not be read"},
			Checks: []string{"historian.backend in the configuration", "the historian log"},
			Fix:    "turn the historian on, or ask for a valid range"},
		Entry{Code: UAServerClient, Name: "opcua.server.client",
			Title:  "the OPC UA interoperability client failed",
			Causes: []string{"node or npm is missing or the npm registry is unreachable", "the node-opcua client could not connect"},
			Checks: []string{"`node --version`, `npm ping`", "the script's output"},
			Fix:    "install Node.js 18 or later, or skip the interoperability test"},
		Entry{Code: UAServerLimit, Name: "opcua.server.limit",
			Title:  "an OPC UA connection was refused or closed by a server limit",
			Causes: []string{"more open connections than max_sessions + 10", "a client that did not complete the Hello and OpenSecureChannel handshake within 10 s", "a first message that is not a Hello (a ReverseHello is refused)"},
			Checks: []string{"the server log (proto=opcua) for the client's address", "how many connections the client opens and whether it closes them"},
			Fix:    "close idle client connections, raise opcua.max_sessions, or fix the client's handshake"},
	)
}
