package errcode

// Certificate rotation while running and the HTTP benchmark, 6275-6299.
const (
	TLSReload Code = 6275
	BenchHTTP Code = 6276
)

func init() {
	register(
		Entry{Code: TLSReload, Name: "tls.reload",
			Title: "a renewed or rotated HTTPS certificate could not be loaded; the server keeps serving the previous one",
			Causes: []string{"the configured certificate or key file (http.tls.cert, http.tls.key) was replaced by a file that is not PEM, or by a certificate that does not match the key",
				"the files were caught half written (certificate and key replaced one after the other)",
				"the local CA in DATA/tls could not be read or could not sign a new certificate (disk full, permissions)"},
			Checks: []string{"`openssl x509 -in CERT -noout -dates -subject` and `openssl pkey -in KEY -noout` on the configured files",
				"that the certificate's public key matches the key file",
				"free space and permissions of DATA/tls"},
			Fix: "write a matching certificate and key (write each to a temporary file and rename it into place); the server picks them up within seconds, without a restart"},
		Entry{Code: BenchHTTP, Name: "bench.http",
			Title:  "the HTTP benchmark could not run to the end",
			Causes: []string{"a request of the benchmark failed or the server answered with an error status", "the machine ran out of file descriptors for the clients"},
			Checks: []string{"the error after the code", "`ulimit -n` (each client holds one connection)"},
			Fix:    "lower --clients or raise the file descriptor limit, and run again"},
	)
}
