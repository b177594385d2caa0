package auth

import (
	"bufio"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/otlink/otlink/internal/errcode"
)

// Argon2Params are the argon2id cost parameters. They are stored in every
// hash, so raising them later still verifies old hashes.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8  // lanes
}

// DefaultArgon2 follows RFC 9106's second recommended option, with 2 lanes
// for small edge machines.
var DefaultArgon2 = Argon2Params{Memory: 64 * 1024, Time: 3, Threads: 2}

const (
	saltLen = 16
	hashLen = 32
	// MinPasswordLen is the policy's minimum length in characters.
	MinPasswordLen = 12
	maxPasswordLen = 1024 // argon2 takes any length; bound the work
)

//go:embed common_passwords.txt
var commonList string

var common = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(commonList))
	for sc.Scan() {
		if w := strings.TrimSpace(sc.Text()); w != "" && !strings.HasPrefix(w, "#") {
			m[strings.ToLower(w)] = true
		}
	}
	return m
})

// CheckPassword applies the policy: at least 12 characters, not the user
// name (nor containing it), not a common password. It says which rule
// failed, never echoing the password.
func CheckPassword(user, password string) error {
	n := utf8.RuneCountInString(password)
	if n < MinPasswordLen {
		return errcode.New(errcode.AuthWeakPassword, "password has %d characters, at least %d are needed", n, MinPasswordLen)
	}
	if len(password) > maxPasswordLen {
		return errcode.New(errcode.AuthWeakPassword, "password longer than %d bytes", maxPasswordLen)
	}
	lp, lu := strings.ToLower(password), strings.ToLower(user)
	if lu != "" && strings.Contains(lp, lu) {
		return errcode.New(errcode.AuthWeakPassword, "password contains the user name")
	}
	if common()[lp] || common()[strings.TrimRight(lp, "0123456789!.")] {
		return errcode.New(errcode.AuthWeakPassword, "password is on the list of common passwords")
	}
	return nil
}

// HashPassword returns a PHC-style argon2id string:
// $argon2id$v=19$m=65536,t=3,p=2$<salt>$<hash>.
func HashPassword(password string, p Argon2Params) string {
	salt := make([]byte, saltLen)
	rand.Read(salt)
	h := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, hashLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(h))
}

// VerifyPassword checks password against an encoded hash in constant time
// and reports whether the hash's parameters differ from want (so the caller
// rehashes).
func VerifyPassword(encoded, password string, want Argon2Params) (ok, stale bool) {
	p, salt, h, err := parseHash(encoded)
	if err != nil || len(password) > maxPasswordLen {
		return false, false
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(h)))
	ok = subtle.ConstantTimeCompare(got, h) == 1
	return ok, p != want
}

func parseHash(encoded string) (p Argon2Params, salt, h []byte, err error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return p, nil, nil, fmt.Errorf("not an argon2id hash")
	}
	var v int
	if _, err = fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, fmt.Errorf("argon2 version %q", parts[2])
	}
	if _, err = fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, err
	}
	// Bound the work a damaged or hostile row can ask for.
	if p.Memory == 0 || p.Memory > 4<<20 || p.Time == 0 || p.Time > 64 || p.Threads == 0 {
		return p, nil, nil, fmt.Errorf("argon2 parameters out of range")
	}
	if salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil {
		return p, nil, nil, err
	}
	if h, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(h) < 16 {
		return p, nil, nil, fmt.Errorf("bad hash")
	}
	return p, salt, h, nil
}
