package integrity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/otlink/otlink/internal/errcode"
	"golang.org/x/mod/sumdb/note"
)

// Checkpoint is a signed statement of a tree's size and root: the C2SP
// tlog-checkpoint body ("origin\nsize\nbase64(root)\n") in a signed note.
type Checkpoint struct {
	Origin string `json:"origin"`
	Size   uint64 `json:"size"`
	Root   Hash   `json:"root"`
	// Note is the signed note as exported; KeyName and KeyHash identify the
	// key whose signature was verified.
	Note    []byte `json:"-"`
	KeyName string `json:"key_name,omitempty"`
	KeyHash uint32 `json:"key_hash,omitempty"`
}

// Body returns the checkpoint's note text.
func (c Checkpoint) Body() string {
	return fmt.Sprintf("%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:]))
}

// maxNote bounds a checkpoint file: a few signatures, never megabytes.
const maxNote = 1 << 16

func badCheckpoint(err error, format string, args ...any) error {
	return errcode.Wrap(errcode.IntegrityBadCheckpoint, err, format, args...)
}

// ParseCheckpoint opens a signed checkpoint note and checks that at least
// one signature verifies with one of the verifier keys (note verifier
// strings, "name+hash+base64key").
func ParseCheckpoint(b []byte, verifierKeys ...string) (Checkpoint, error) {
	if len(b) > maxNote {
		return Checkpoint{}, badCheckpoint(nil, "checkpoint of %d bytes is larger than %d", len(b), maxNote)
	}
	if len(verifierKeys) == 0 {
		return Checkpoint{}, badCheckpoint(nil, "no verifier key to check the checkpoint with")
	}
	vs := make([]note.Verifier, 0, len(verifierKeys))
	for _, k := range verifierKeys {
		v, err := note.NewVerifier(strings.TrimSpace(k))
		if err != nil {
			return Checkpoint{}, errcode.Wrap(errcode.IntegrityKey, err, "parse verifier key %q", k)
		}
		vs = append(vs, v)
	}
	n, err := note.Open(b, note.VerifierList(vs...))
	if err != nil {
		var unknown *note.UnknownVerifierError
		if errors.As(err, &unknown) {
			return Checkpoint{}, badCheckpoint(err, "checkpoint is not signed by a trusted key")
		}
		return Checkpoint{}, badCheckpoint(err, "open checkpoint note")
	}
	c, err := parseBody(n.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	c.Note = append([]byte(nil), b...)
	c.KeyName, c.KeyHash = n.Sigs[0].Name, n.Sigs[0].Hash
	return c, nil
}

// parseBody reads the tlog-checkpoint body; extension lines after the root
// are allowed and ignored.
func parseBody(text string) (Checkpoint, error) {
	lines := strings.SplitN(text, "\n", 4)
	if len(lines) < 4 {
		return Checkpoint{}, badCheckpoint(nil, "checkpoint body has %d lines, want at least 3", len(lines)-1)
	}
	var c Checkpoint
	c.Origin = lines[0]
	if c.Origin == "" {
		return Checkpoint{}, badCheckpoint(nil, "checkpoint without an origin")
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || strconv.FormatUint(size, 10) != lines[1] {
		return Checkpoint{}, badCheckpoint(err, "checkpoint size %q is not a decimal number", lines[1])
	}
	c.Size = size
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != len(c.Root) {
		return Checkpoint{}, badCheckpoint(err, "checkpoint root %q is not 32 bytes of base64", lines[2])
	}
	copy(c.Root[:], root)
	return c, nil
}

// openKeys loads the signing key, or generates one on first open.
func (l *Log) openKeys() error {
	kp, pp := filepath.Join(l.dir, keyFile), filepath.Join(l.dir, pubFile)
	pub, perr := os.ReadFile(pp)
	if l.opts.ReadOnly {
		if perr != nil {
			return errcode.Wrap(errcode.IntegrityKey, perr, "read public key %s", pp)
		}
		return l.setVerifier(string(pub))
	}
	skey, err := os.ReadFile(kp)
	if errors.Is(err, fs.ErrNotExist) && errors.Is(perr, fs.ErrNotExist) {
		return l.generateKey(kp, pp)
	}
	if err != nil || perr != nil {
		return errcode.Wrap(errcode.IntegrityKey, errors.Join(err, perr), "read key files in %s", l.dir)
	}
	if st, err := os.Stat(kp); err == nil && st.Mode().Perm()&0o077 != 0 {
		l.log.Warn("integrity key readable by others; restricting to 0600", "err", kp)
		if err := os.Chmod(kp, 0o600); err != nil {
			return errcode.Wrap(errcode.IntegrityKey, err, "restrict %s", kp)
		}
	}
	if l.signer, err = note.NewSigner(strings.TrimSpace(string(skey))); err != nil {
		return errcode.Wrap(errcode.IntegrityKey, err, "parse signing key %s", kp)
	}
	if err := l.setVerifier(string(pub)); err != nil {
		return err
	}
	if l.signer.Name() != l.verifier.Name() || l.signer.KeyHash() != l.verifier.KeyHash() {
		return errcode.New(errcode.IntegrityKey, "%s and %s are not one key pair", kp, pp)
	}
	return nil
}

func (l *Log) generateKey(kp, pp string) error {
	origin := l.opts.Origin
	if origin == "" {
		origin = uniqueOrigin()
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return errcode.Wrap(errcode.IntegrityKey, err, "generate signing key for origin %q", origin)
	}
	f, err := os.OpenFile(kp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return errcode.Wrap(errcode.IntegrityKey, err, "create %s", kp)
	}
	_, err = f.WriteString(skey + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.WriteFile(pp, []byte(vkey+"\n"), 0o644)
	}
	if err != nil {
		return errcode.Wrap(errcode.IntegrityKey, err, "write key files in %s", l.dir)
	}
	if l.signer, err = note.NewSigner(skey); err != nil {
		return errcode.Wrap(errcode.IntegrityKey, err, "parse generated key")
	}
	return l.setVerifier(vkey)
}

func (l *Log) setVerifier(vkey string) error {
	vkey = strings.TrimSpace(vkey)
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return errcode.Wrap(errcode.IntegrityKey, err, "parse public key %s", filepath.Join(l.dir, pubFile))
	}
	if l.opts.Origin != "" && v.Name() != l.opts.Origin {
		return errcode.New(errcode.IntegrityKey, "key of %s is named %q, configured origin is %q", l.dir, v.Name(), l.opts.Origin)
	}
	l.vkey, l.verifier, l.origin = vkey, v, v.Name()
	return nil
}

// Origin returns the log's origin (its key's name).
func (l *Log) Origin() string { return l.origin }

// VerifierKey returns the note verifier string of the log's public key, to
// give to witnesses and analysts.
func (l *Log) VerifierKey() string { return l.vkey }

// Checkpoint history: fixed 112-byte records so the latest is one read and
// a power cut tears at most the last one.
const ckptRecordSize = 112 // size 8, root 32, signature 64, reserved 4, crc 4

func (l *Log) openCheckpoints() error {
	f, err := l.openFile(checkpointsFile, magicCheckpoints, false)
	if err != nil || f == nil {
		return err
	}
	l.ckf = f
	sz, err := fileSize(f)
	if err != nil {
		return err
	}
	l.nck = (sz - headerSize) / ckptRecordSize
	if !l.opts.ReadOnly {
		if err := truncate(f, headerSize+l.nck*ckptRecordSize, sz); err != nil {
			return err
		}
	}
	for dropped := 0; l.nck > 0; dropped++ {
		c, err := l.readCheckpoint(l.nck - 1)
		if err == nil {
			l.latest = &c
			return nil
		}
		if dropped > 0 {
			// Only the last record can be torn; an older damaged one is
			// evidence, left for Verify to report.
			return corrupt("%s: checkpoint records %d and %d are damaged: %v", checkpointsFile, l.nck, l.nck-1, err)
		}
		l.nck--
		l.repair.Checkpoints++
		if !l.opts.ReadOnly {
			if err := truncate(f, headerSize+l.nck*ckptRecordSize, sz); err != nil {
				return err
			}
		}
	}
	return nil
}

// readCheckpoint rebuilds history record i as a signed note and verifies it
// with the log's key.
func (l *Log) readCheckpoint(i int64) (Checkpoint, error) {
	var b [ckptRecordSize]byte
	if _, err := l.ckf.ReadAt(b[:], headerSize+i*ckptRecordSize); err != nil {
		return Checkpoint{}, corrupt("read checkpoint %d: %v", i, err)
	}
	var ib [8]byte
	binary.BigEndian.PutUint64(ib[:], uint64(i))
	crc := crc32.Update(crc32.Update(0, castagnoli, ib[:]), castagnoli, b[:108])
	if crc != binary.BigEndian.Uint32(b[108:]) {
		return Checkpoint{}, corrupt("checkpoint record %d fails its checksum", i)
	}
	c := Checkpoint{Origin: l.origin, Size: binary.BigEndian.Uint64(b[:8])}
	copy(c.Root[:], b[8:40])
	c.Note = l.assembleNote(c, b[40:104])
	return ParseCheckpoint(c.Note, l.vkey)
}

func (l *Log) assembleNote(c Checkpoint, sig []byte) []byte {
	var kh [4]byte
	binary.BigEndian.PutUint32(kh[:], l.verifier.KeyHash())
	return fmt.Appendf(nil, "%s\n\u2014 %s %s\n", c.Body(), l.verifier.Name(),
		base64.StdEncoding.EncodeToString(append(kh[:], sig...)))
}

// LatestCheckpoint returns the newest signed checkpoint, if any.
func (l *Log) LatestCheckpoint() (Checkpoint, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.latest == nil {
		return Checkpoint{}, false
	}
	return *l.latest, true
}

// Checkpoints iterates over the signed checkpoint history, oldest first.
// A damaged record yields an error and ends the iteration.
func (l *Log) Checkpoints() iter.Seq2[Checkpoint, error] {
	return func(yield func(Checkpoint, error) bool) {
		l.mu.RLock()
		n := l.nck
		l.mu.RUnlock()
		for i := int64(0); i < n; i++ {
			c, err := l.readCheckpoint(i)
			if !yield(c, err) || err != nil {
				return
			}
		}
	}
}

// SignCheckpoint syncs the log and signs a checkpoint of its current size
// when the tree grew since the last one; otherwise it returns the latest.
func (l *Log) SignCheckpoint(ctx context.Context) (Checkpoint, error) {
	if err := ctx.Err(); err != nil {
		return Checkpoint{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return Checkpoint{}, err
	}
	if l.latest != nil && l.latest.Size == l.size {
		return *l.latest, nil
	}
	if l.size == 0 {
		return Checkpoint{}, errcode.New(errcode.IntegrityOutOfRange, "nothing to sign: the log is empty")
	}
	if err := l.syncLocked(); err != nil {
		return Checkpoint{}, err
	}
	c := Checkpoint{Origin: l.origin, Size: l.size, Root: l.rootLocked()}
	signed, err := note.Sign(&note.Note{Text: c.Body()}, l.signer)
	if err != nil {
		return Checkpoint{}, errcode.Wrap(errcode.IntegrityKey, err, "sign checkpoint %d", c.Size)
	}
	n, err := note.Open(signed, note.VerifierList(l.verifier))
	if err != nil {
		return Checkpoint{}, errcode.Wrap(errcode.IntegrityKey, err, "check own signature")
	}
	raw, err := base64.StdEncoding.DecodeString(n.Sigs[0].Base64)
	if err != nil || len(raw) != 68 {
		return Checkpoint{}, errcode.New(errcode.IntegrityKey, "signature is not ed25519")
	}
	if l.ckf == nil {
		if l.ckf, err = l.openFile(checkpointsFile, magicCheckpoints, true); err != nil {
			return Checkpoint{}, err
		}
	}
	var b [ckptRecordSize]byte
	binary.BigEndian.PutUint64(b[:8], c.Size)
	copy(b[8:40], c.Root[:])
	copy(b[40:104], raw[4:])
	var ib [8]byte
	binary.BigEndian.PutUint64(ib[:], uint64(l.nck))
	binary.BigEndian.PutUint32(b[108:], crc32.Update(crc32.Update(0, castagnoli, ib[:]), castagnoli, b[:108]))
	if _, err := l.ckf.WriteAt(b[:], headerSize+l.nck*ckptRecordSize); err != nil {
		return Checkpoint{}, errcode.Wrap(errcode.IntegrityWrite, err, "append checkpoint")
	}
	if err := l.ckf.Sync(); err != nil {
		return Checkpoint{}, errcode.Wrap(errcode.IntegrityWrite, err, "sync checkpoints")
	}
	l.nck++
	c.Note = signed
	c.KeyName, c.KeyHash = l.verifier.Name(), l.verifier.KeyHash()
	l.latest = &c
	return c, nil
}

// ExportCheckpoint signs a checkpoint if the tree grew and writes the latest
// signed note to w, for a witness or a file kept off the machine.
func (l *Log) ExportCheckpoint(ctx context.Context, w io.Writer) error {
	c, err := l.SignCheckpoint(ctx)
	if err != nil {
		return err
	}
	_, err = w.Write(c.Note)
	return err
}

// AcceptCheckpoint verifies a checkpoint received from a witness or another
// node against the given verifier keys. A checkpoint of this log must match
// its tree. The checkpoint is then anchored as a witness entry.
func (l *Log) AcceptCheckpoint(ctx context.Context, signed []byte, verifierKeys ...string) (Checkpoint, error) {
	c, err := ParseCheckpoint(signed, verifierKeys...)
	if err != nil {
		return Checkpoint{}, err
	}
	if c.Origin == l.Origin() {
		l.mu.RLock()
		var root Hash
		if c.Size <= l.size {
			root, err = l.rootAtLocked(c.Size)
		}
		size := l.size
		l.mu.RUnlock()
		switch {
		case c.Size > size:
			return c, errcode.New(errcode.IntegrityInconsistent, "checkpoint of %d leaves is ahead of the log's %d: entries are missing", c.Size, size)
		case err != nil:
			return c, err
		case root != c.Root:
			return c, errcode.New(errcode.IntegrityInconsistent, "checkpoint of %d leaves has root %x, the log has %x", c.Size, c.Root[:], root[:])
		}
	}
	_, err = l.Append(ctx, Entry{Kind: KindWitness, Origin: c.Origin, Size: c.Size, Root: c.Root, NoteHash: sha256.Sum256(signed)})
	return c, err
}

// Signer signs a checkpoint every interval while the log grows.
type Signer struct {
	log      *Log
	interval time.Duration
	// OnSign, if set, is called with each newly signed checkpoint, e.g. to
	// publish it to witnesses.
	OnSign func(Checkpoint)
}

// NewSigner returns a Signer; it does nothing until Run.
func NewSigner(l *Log, interval time.Duration) *Signer {
	if interval <= 0 {
		interval = 5 * time.Second
	}
	return &Signer{log: l, interval: interval}
}

// Run signs until ctx ends, then signs a last time so a clean shutdown
// leaves everything checkpointed. Errors are logged, not fatal: the next
// tick retries.
func (s *Signer) Run(ctx context.Context) error {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	last := uint64(0)
	if c, ok := s.log.LatestCheckpoint(); ok {
		last = c.Size
	}
	sign := func(ctx context.Context) {
		if s.log.Size() == last {
			return
		}
		c, err := s.log.SignCheckpoint(ctx)
		if err != nil {
			s.log.log.Warn("sign integrity checkpoint", "code", errcode.Of(err).String(), "err", err)
			return
		}
		last = c.Size
		if s.OnSign != nil {
			s.OnSign(c)
		}
	}
	for {
		select {
		case <-ctx.Done():
			sign(context.WithoutCancel(ctx))
			return ctx.Err()
		case <-t.C:
			sign(ctx)
		}
	}
}

// uniqueOrigin names a new log DefaultOrigin/<host>-<random>: every node's
// log needs its own name, or a node witnessing another's checkpoint would
// take it for one of its own.
func uniqueOrigin() string {
	host, _ := os.Hostname()
	clean := make([]byte, 0, len(host))
	for _, c := range []byte(host) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' {
			clean = append(clean, c)
		}
	}
	if len(clean) == 0 {
		clean = append(clean, "node"...)
	}
	var r [4]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%s/%s-%x", DefaultOrigin, clean, r)
}
