package uaserver

import (
	"crypto/rsa"
	"crypto/subtle"
	"encoding/binary"

	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uapolicy"

	"github.com/otlink/otlink/internal/errcode"
)

// Encryption algorithms of a UserNameIdentityToken (Part 4, 7.41.2.3).
const (
	algRSAOAEP       = "http://www.w3.org/2001/04/xmlenc#rsa-oaep"
	algRSAOAEPSHA256 = "http://opcfoundation.org/UA/security/rsa-oaep-sha2-256"
)

// password decrypts the password of a user name token with the server's
// key. A token in clear text is accepted only on a channel that is
// encrypted.
func password(tok *ua.UserNameIdentityToken, key *rsa.PrivateKey, nonce []byte, mode ua.MessageSecurityMode) (string, error) {
	var policy string
	switch tok.EncryptionAlgorithm {
	case "":
		if mode != ua.MessageSecurityModeSignAndEncrypt {
			return "", errcode.New(errcode.UAServerAuth, "password sent in clear text on a channel that is not encrypted")
		}
		return string(tok.Password), nil
	case algRSAOAEP:
		policy = ua.SecurityPolicyURIBasic256Sha256
	case algRSAOAEPSHA256:
		policy = ua.SecurityPolicyURIAes256Sha256RsaPss
	default:
		return "", errcode.New(errcode.UAServerAuth, "password encryption %q is not supported", tok.EncryptionAlgorithm)
	}
	alg, err := uapolicy.Asymmetric(policy, key, &key.PublicKey)
	if err != nil {
		return "", errcode.Wrap(errcode.UAServerAuth, err, "password decryption")
	}
	plain, err := alg.Decrypt(tok.Password)
	if err != nil {
		return "", errcode.Wrap(errcode.UAServerAuth, err, "password cannot be decrypted")
	}
	return parsePassword(plain, nonce)
}

// parsePassword reads the decrypted secret: a little-endian length, the
// password, and the server nonce of the session (which makes an old token
// useless for a replay). The bytes come from the client.
func parsePassword(plain, nonce []byte) (string, error) {
	if len(plain) < 4 {
		return "", errcode.New(errcode.UAServerAuth, "password token too short (%d bytes)", len(plain))
	}
	n := binary.LittleEndian.Uint32(plain)
	body := plain[4:]
	if uint64(n) > uint64(len(body)) || int(n) < len(nonce) {
		return "", errcode.New(errcode.UAServerAuth, "password token length %d does not fit its %d bytes", n, len(body))
	}
	body = body[:n]
	pw, got := body[:len(body)-len(nonce)], body[len(body)-len(nonce):]
	if len(nonce) == 0 || subtle.ConstantTimeCompare(got, nonce) != 1 {
		return "", errcode.New(errcode.UAServerAuth, "password token was not made for this session (server nonce differs)")
	}
	return string(pw), nil
}
