package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"

	"github.com/otlink/otlink/internal/errcode"
)

// softKey is a software authenticator: an ES256 key answering the
// registration ("none" attestation) and assertion ceremonies as a browser
// with a security key would.
type softKey struct {
	t      *testing.T
	key    *ecdsa.PrivateKey
	id     []byte
	rpID   string
	origin string
	count  uint32
}

func newSoftKey(t *testing.T, rpID, origin string) *softKey {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	id := make([]byte, 16)
	rand.Read(id)
	return &softKey{t: t, key: k, id: id, rpID: rpID, origin: origin}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (k *softKey) challenge(options []byte) string {
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &o); err != nil || o.PublicKey.Challenge == "" {
		k.t.Fatalf("options %s: %v", options, err)
	}
	return o.PublicKey.Challenge
}

func (k *softKey) clientData(typ, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": k.origin, "crossOrigin": false})
	return b
}

func (k *softKey) authData(flags byte, attested []byte) []byte {
	h := sha256.Sum256([]byte(k.rpID))
	d := append(h[:], flags)
	d = binary.BigEndian.AppendUint32(d, k.count)
	return append(d, attested...)
}

func (k *softKey) register(options []byte) []byte {
	cose, _ := webauthncbor.Marshal(map[int64]any{1: int64(2), 3: int64(-7), -1: int64(1),
		-2: k.key.PublicKey.X.FillBytes(make([]byte, 32)), -3: k.key.PublicKey.Y.FillBytes(make([]byte, 32))})
	att := make([]byte, 16) // AAGUID zero
	att = binary.BigEndian.AppendUint16(att, uint16(len(k.id)))
	att = append(append(att, k.id...), cose...)
	ad := k.authData(0x01|0x04|0x40, att) // user present, verified, attested data
	obj, _ := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad})
	body, _ := json.Marshal(map[string]any{"id": b64(k.id), "rawId": b64(k.id), "type": "public-key",
		"response": map[string]any{"attestationObject": b64(obj), "clientDataJSON": b64(k.clientData("webauthn.create", k.challenge(options)))}})
	return body
}

func (k *softKey) assert(options []byte, signer *ecdsa.PrivateKey) []byte {
	k.count++
	ad := k.authData(0x01|0x04, nil)
	cd := k.clientData("webauthn.get", k.challenge(options))
	ch := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, ad...), ch[:]...))
	sig, _ := ecdsa.SignASN1(rand.Reader, signer, digest[:])
	body, _ := json.Marshal(map[string]any{"id": b64(k.id), "rawId": b64(k.id), "type": "public-key",
		"response": map[string]any{"authenticatorData": b64(ad), "clientDataJSON": b64(cd), "signature": b64(sig)}})
	return body
}

func TestWebAuthnCeremonies(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.RPID = "localhost"; o.RPOrigins = []string{"https://localhost:8443"} })
	f.user("alice", RoleAdmin)
	key := newSoftKey(t, "localhost", "https://localhost:8443")

	// First login: the policy asks for enrolment; register the key there.
	r := f.login("alice")
	if r.Session.Stage != StageEnrol {
		t.Fatalf("stage %s", r.Session.Stage)
	}
	err := f.s.FinishWebAuthnRegistration(f.ctx, r.Secret, "k", key.register([]byte(`{"publicKey":{"challenge":"AAAA"}}`)))
	wantCode(t, err, errcode.AuthWebAuthn) // no ceremony started
	opts, err := f.s.BeginWebAuthnRegistration(f.ctx, r.Secret)
	if err != nil {
		t.Fatal(err)
	}
	// A wrong origin is refused (and ends the ceremony).
	evil := *key
	evil.origin = "https://evil.example"
	wantCode(t, f.s.FinishWebAuthnRegistration(f.ctx, r.Secret, "k", evil.register(opts)), errcode.AuthWebAuthn)
	opts, _ = f.s.BeginWebAuthnRegistration(f.ctx, r.Secret)
	if err := f.s.FinishWebAuthnRegistration(f.ctx, r.Secret, "yubikey", key.register(opts)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.CompleteEnrolment(f.ctx, r.Secret); err != nil {
		t.Fatal(err)
	}
	keys, _ := f.s.SecurityKeys(f.ctx, 1)
	if len(keys) != 1 || keys[0].Name != "yubikey" {
		t.Fatalf("%+v", keys)
	}

	// Second login: password, then the key.
	r = f.login("alice")
	if r.Session.Stage != StageMFA || r.Methods[0] != "webauthn" {
		t.Fatalf("%s %v", r.Session.Stage, r.Methods)
	}
	opts, err = f.s.BeginWebAuthnLogin(f.ctx, r.Secret)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, err = f.s.LoginWebAuthn(f.ctx, r.Secret, key.assert(opts, other))
	wantCode(t, err, errcode.AuthMFAInvalid) // signed by another key
	opts, _ = f.s.BeginWebAuthnLogin(f.ctx, r.Secret)
	answer := key.assert(opts, key.key)
	res, err := f.s.LoginWebAuthn(f.ctx, r.Secret, answer)
	if err != nil {
		t.Fatal(err)
	}
	if res.Session.Stage != StageFull || res.Session.AuthMethod != "webauthn" {
		t.Fatalf("%+v", res.Session)
	}
	// The same answer cannot be replayed: the challenge was spent.
	r = f.login("alice")
	_, err = f.s.LoginWebAuthn(f.ctx, r.Secret, answer)
	wantCode(t, err, errcode.AuthWebAuthn)

	// Step-up with the key on the logged-in session.
	opts, _ = f.s.BeginWebAuthnLogin(f.ctx, res.Secret)
	if _, err := f.s.StepUp(f.ctx, res.Secret, StepUpProof{Method: "webauthn", WebAuthn: key.assert(opts, key.key)}); err != nil {
		t.Fatal(err)
	}
}
