package opcua

import (
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/uatrust"
)

// Security policy names as configured, and their URIs.
var policies = map[string]string{
	"None":                  ua.SecurityPolicyURINone,
	"Basic256Sha256":        ua.SecurityPolicyURIBasic256Sha256,
	"Aes128_Sha256_RsaOaep": ua.SecurityPolicyURIAes128Sha256RsaOaep,
	"Aes256_Sha256_RsaPss":  ua.SecurityPolicyURIAes256Sha256RsaPss,
}

var modes = map[string]ua.MessageSecurityMode{
	"None":           ua.MessageSecurityModeNone,
	"Sign":           ua.MessageSecurityModeSign,
	"SignAndEncrypt": ua.MessageSecurityModeSignAndEncrypt,
}

// Defaults. A secure channel is the default: a plant network is no place
// for cleartext writes, and None must be asked for by name.
const (
	defaultPolicy     = "Basic256Sha256"
	defaultTimeout    = 5 * time.Second
	defaultMaxRead    = 500
	defaultQueueSize  = 10
	defaultReconnect  = 30 * time.Second
	maxMonitorPerCall = 1000
)

// settings are a device's options, checked before any I/O.
type settings struct {
	endpoint  string
	policy    string // configured name
	policyURI string
	mode      ua.MessageSecurityMode
	auth      string // anonymous, username, certificate
	user      string
	passFile  string
	passEnv   string
	userCert  string // optional files for auth certificate; default: own certificate
	userKey   string
	poll      bool
	maxRead   uint32
	queueSize uint32
	reconnect time.Duration // how long a lost session may take to come back before Subscribe gives up
	timeout   time.Duration
	dataDir   string
}

func parseEndpoint(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "opc.tcp" || u.Hostname() == "" {
		return "", errcode.New(errcode.UABadEndpoint, "endpoint %q: want opc.tcp://host:port/path", s)
	}
	if u.Port() == "" {
		u.Host += ":4840"
	}
	return u.String(), nil
}

// parseSettings reads the device options.
func parseSettings(endpoint string, opts map[string]string, timeout time.Duration) (settings, error) {
	s := settings{timeout: timeout, maxRead: defaultMaxRead, queueSize: defaultQueueSize, reconnect: defaultReconnect, auth: "anonymous"}
	if s.timeout <= 0 {
		s.timeout = defaultTimeout
	}
	ep, err := parseEndpoint(endpoint)
	if err != nil {
		return s, err
	}
	s.endpoint = ep
	bad := func(format string, a ...any) (settings, error) {
		return s, errcode.New(errcode.UABadOption, format, a...)
	}
	known := map[string]bool{"security_policy": true, "security_mode": true, "auth": true, "username": true,
		"password_file": true, "password_env": true, "user_cert_file": true, "user_key_file": true, "mode": true,
		"max_nodes_per_read": true, "queue_size": true, "reconnect_timeout": true, "data_dir": true}
	for k := range opts {
		if !known[k] {
			return bad("unknown option %q", k)
		}
	}
	s.policy = opts["security_policy"]
	if s.policy == "" {
		s.policy = defaultPolicy
	}
	uri, ok := policies[s.policy]
	if !ok {
		return bad("security_policy %q: want None, Basic256Sha256, Aes128_Sha256_RsaOaep or Aes256_Sha256_RsaPss", s.policy)
	}
	s.policyURI = uri
	m := opts["security_mode"]
	if m == "" {
		m = "SignAndEncrypt"
		if s.policy == "None" {
			m = "None"
		}
	}
	if s.mode, ok = modes[m]; !ok {
		return bad("security_mode %q: want None, Sign or SignAndEncrypt", m)
	}
	if (s.policy == "None") != (s.mode == ua.MessageSecurityModeNone) {
		return bad("security_policy %s with security_mode %s: None goes with None only", s.policy, m)
	}
	if a := opts["auth"]; a != "" {
		s.auth = a
	}
	s.user, s.passFile, s.passEnv = opts["username"], opts["password_file"], opts["password_env"]
	s.userCert, s.userKey = opts["user_cert_file"], opts["user_key_file"]
	switch s.auth {
	case "anonymous", "certificate":
	case "username":
		if s.user == "" || (s.passFile == "") == (s.passEnv == "") {
			return bad("auth username needs username and one of password_file or password_env")
		}
	default:
		return bad("auth %q: want anonymous, username or certificate", s.auth)
	}
	if (s.userCert == "") != (s.userKey == "") {
		return bad("user_cert_file and user_key_file go together")
	}
	switch opts["mode"] {
	case "", "subscribe":
	case "poll":
		s.poll = true
	default:
		return bad("mode %q: want subscribe or poll", opts["mode"])
	}
	num := func(k string, lo, hi uint64, dst *uint32) error {
		v, ok := opts[k]
		if !ok {
			return nil
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n < lo || n > hi {
			return errcode.New(errcode.UABadOption, "%s %q: want a number in %d..%d", k, v, lo, hi)
		}
		*dst = uint32(n)
		return nil
	}
	if err := num("max_nodes_per_read", 1, 100000, &s.maxRead); err != nil {
		return s, err
	}
	if err := num("queue_size", 1, 10000, &s.queueSize); err != nil {
		return s, err
	}
	if v, ok := opts["reconnect_timeout"]; ok {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			return bad("reconnect_timeout %q: want a duration of 1s or more", v)
		}
		s.reconnect = d
	}
	s.dataDir = opts["data_dir"]
	return s, nil
}

// password reads the password from its file or variable at connect time,
// so that a rotated password is used on the next reconnect.
func (s *settings) password() (string, error) {
	if s.passEnv != "" {
		p, ok := os.LookupEnv(s.passEnv)
		if !ok {
			return "", errcode.New(errcode.UAPassword, "password_env %s is not set", s.passEnv)
		}
		return p, nil
	}
	b, err := os.ReadFile(s.passFile)
	if err != nil {
		return "", errcode.Wrap(errcode.UAPassword, err, "read password_file")
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

var (
	storeMu  sync.Mutex
	dataDir  string
	storesBy = map[string]*uatrust.Store{}
)

// SetDataDir sets the data folder whose pki/ holds the certificates the
// driver presents and trusts, for devices without a data_dir option. The
// app calls it with the config's data folder before the engine starts.
func SetDataDir(dir string) {
	storeMu.Lock()
	dataDir = dir
	storeMu.Unlock()
}

// store returns the trust store for s, opening it once per folder.
func (s *settings) store() (*uatrust.Store, error) {
	storeMu.Lock()
	defer storeMu.Unlock()
	dir := s.dataDir
	if dir == "" {
		dir = dataDir
	}
	if dir == "" {
		return nil, errcode.New(errcode.UAPKI, "no data folder for OPC UA certificates: set the device option data_dir or run under otlink run")
	}
	if st, ok := storesBy[dir]; ok {
		return st, nil
	}
	st, err := uatrust.Open(dir)
	if err != nil {
		return nil, err
	}
	storesBy[dir] = st
	return st, nil
}
