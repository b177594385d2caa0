package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"

	"github.com/otlink/otlink/internal/errcode"
)

const keySize = 32

// loadKey reads the key file, creating it with a fresh random key when it
// does not exist. A key file others can read is refused: it decrypts every
// TOTP secret.
func loadKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		k := make([]byte, keySize)
		rand.Read(k)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, errcode.Wrap(errcode.AuthKeyFile, err, "create key file")
		}
		if _, err := f.Write(k); err != nil {
			f.Close()
			return nil, errcode.Wrap(errcode.AuthKeyFile, err, "write key file")
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, errcode.Wrap(errcode.AuthKeyFile, err, "sync key file")
		}
		if err := f.Close(); err != nil {
			return nil, errcode.Wrap(errcode.AuthKeyFile, err, "close key file")
		}
		return k, nil
	}
	if err != nil {
		return nil, errcode.Wrap(errcode.AuthKeyFile, err, "read key file")
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, errcode.Wrap(errcode.AuthKeyFile, err, "stat key file")
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, errcode.New(errcode.AuthKeyFile, "key file %s has mode %04o, want 0600", path, fi.Mode().Perm())
	}
	if len(b) != keySize {
		return nil, errcode.New(errcode.AuthKeyFile, "key file %s has %d bytes, want %d", path, len(b), keySize)
	}
	return b, nil
}

// subKey derives an independent key for one purpose, so the encryption key
// and the recovery-code pepper are never the same bytes.
func (s *Service) subKey(purpose string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// seal encrypts with AES-256-GCM; aad binds the ciphertext to its row so a
// secret copied to another user's row does not decrypt.
func (s *Service) seal(plain, aad []byte) []byte {
	block, _ := aes.NewCipher(s.subKey("totp-secret-v1"))
	gcm, _ := cipher.NewGCM(block)
	nonce := make([]byte, gcm.NonceSize())
	rand.Read(nonce)
	return gcm.Seal(nonce, nonce, plain, aad)
}

func (s *Service) open(sealed, aad []byte) ([]byte, error) {
	block, _ := aes.NewCipher(s.subKey("totp-secret-v1"))
	gcm, _ := cipher.NewGCM(block)
	if len(sealed) < gcm.NonceSize() {
		return nil, errcode.New(errcode.AuthKeyFile, "encrypted secret truncated")
	}
	p, err := gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], aad)
	if err != nil {
		return nil, errcode.Wrap(errcode.AuthKeyFile, err, "decrypt mfa secret (wrong auth.key?)")
	}
	return p, nil
}

// randomToken returns n random bytes as unpadded base64url.
func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func sha(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

var sha256New = sha256.New

func mustHex(s string) []byte {
	b, _ := hex.DecodeString(s)
	return b
}
