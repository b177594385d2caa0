package store

import (
	"encoding/binary"
	"math"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/model"
)

// Key prefixes (docs/formats/store.md).
const (
	prefixAmend   = 'a' // a | sid u32 | minT u64 | seq u32 → amending segment (chunk bytes)
	prefixChunk   = 'c' // c | sid u32 | minT u64 | seq u32 → sealed chunk (chunk bytes)
	prefixMeta    = 'm' // m | name → store setting
	prefixPending = 'p' // p | sid u32 | seq u32 → ledger entry not yet recorded
	prefixSeries  = 's' // s | tag → series metadata

	// Retention and rollups (retention.go, rollup.go).
	prefixDirty   = 'd' // d | level u8 | sid u32 | start u64 → empty: rollup interval to (re)compute
	prefixHorizon = 'h' // h | sid u32 → i64: raw data before this time was purged
	prefixLeaf    = 'l' // l | chunk key (17 bytes) | leaf u64 → empty: where the ledger recorded a chunk
	prefixRollup  = 'r' // r | level u8 | sid u32 | start u64 → rollup row
)

var keyMaxSpan = []byte("mmaxspan")

// timeKey maps a signed time to an unsigned one of the same order.
func timeKey(t int64) uint64 { return uint64(t) ^ 1<<63 }

func chunkKey(prefix byte, id uint32, minT int64, seq uint32) []byte {
	k := make([]byte, 17)
	k[0] = prefix
	binary.BigEndian.PutUint32(k[1:], id)
	binary.BigEndian.PutUint64(k[5:], timeKey(minT))
	binary.BigEndian.PutUint32(k[13:], seq)
	return k
}

// chunkBound is the smallest key of series id with minT >= t.
func chunkBound(prefix byte, id uint32, t int64) []byte {
	k := make([]byte, 13)
	k[0] = prefix
	binary.BigEndian.PutUint32(k[1:], id)
	binary.BigEndian.PutUint64(k[5:], timeKey(t))
	return k
}

func keyMinT(k []byte) int64 { return int64(binary.BigEndian.Uint64(k[5:]) ^ 1<<63) }

func pendingKey(id, seq uint32) []byte {
	k := make([]byte, 9)
	k[0] = prefixPending
	binary.BigEndian.PutUint32(k[1:], id)
	binary.BigEndian.PutUint32(k[5:], seq)
	return k
}

const seriesVersion = 1

// encodeSeries writes the metadata of what is stored (sealed and amending
// chunks) of sr; the open chunk is in the WAL and not counted here.
func encodeSeries(sr *series) (key, val []byte) {
	key = append([]byte{prefixSeries}, sr.tag...)
	v := make([]byte, 0, 64)
	v = append(v, seriesVersion)
	v = binary.BigEndian.AppendUint32(v, sr.id)
	v = append(v, byte(sr.typ))
	v = binary.BigEndian.AppendUint32(v, sr.seq)
	var flags byte
	if sr.stored.count > 0 {
		flags |= 1
	}
	v = append(v, flags)
	v = binary.BigEndian.AppendUint64(v, sr.stored.count)
	v = binary.BigEndian.AppendUint64(v, uint64(sr.stored.first))
	v = binary.BigEndian.AppendUint64(v, uint64(sr.stored.max))
	v = binary.BigEndian.AppendUint64(v, sr.sealedPos.seg)
	v = binary.BigEndian.AppendUint64(v, uint64(sr.sealedPos.off))
	if flags&1 != 0 {
		v = appendWALSample(v, &sr.stored.latest)
	}
	return key, v
}

func decodeSeries(key, v []byte) (*series, error) {
	bad := func(what string) (*series, error) {
		return nil, errcode.New(errcode.StoreCorrupt, "series %q metadata: %s", key[1:], what)
	}
	if len(v) < 1+4+1+4+1+8*5 || v[0] != seriesVersion {
		return bad("short or unknown version")
	}
	sr := &series{tag: string(key[1:])}
	sr.id = binary.BigEndian.Uint32(v[1:])
	sr.typ = model.Type(v[5])
	sr.seq = binary.BigEndian.Uint32(v[6:])
	flags := v[10]
	p := v[11:]
	sr.stored.count = binary.BigEndian.Uint64(p)
	sr.stored.first = int64(binary.BigEndian.Uint64(p[8:]))
	sr.stored.max = int64(binary.BigEndian.Uint64(p[16:]))
	sr.sealedPos.seg = binary.BigEndian.Uint64(p[24:])
	sr.sealedPos.off = int64(binary.BigEndian.Uint64(p[32:]))
	p = p[40:]
	if sr.id == 0 || sr.typ > model.String {
		return bad("series id or type")
	}
	if flags&1 != 0 {
		var d walDecoder
		d.b = p
		d.s.Tag = sr.tag
		if !d.sample() || len(d.b) != 0 {
			return bad("latest sample")
		}
		sr.stored.latest = d.s
		sr.stored.latest.Tag = sr.tag
	}
	return sr, nil
}

// encodePending / decodePending keep a ledger entry until it is recorded.
func encodePending(e *LedgerEntry) []byte {
	v := make([]byte, 0, 96+len(e.Tag)+len(e.Key))
	if e.Amend {
		v = append(v, 1)
	} else {
		v = append(v, 0)
	}
	v = binary.BigEndian.AppendUint64(v, e.Seq)
	v = binary.BigEndian.AppendUint64(v, uint64(e.From))
	v = binary.BigEndian.AppendUint64(v, uint64(e.To))
	v = binary.BigEndian.AppendUint64(v, e.Count)
	v = append(v, e.DataHash[:]...)
	v = binary.BigEndian.AppendUint16(v, uint16(len(e.Key)))
	v = append(v, e.Key...)
	v = append(v, e.Tag...)
	return v
}

func decodePending(v []byte) (LedgerEntry, error) {
	var e LedgerEntry
	if len(v) < 1+32+32+2 {
		return e, errcode.New(errcode.StoreCorrupt, "pending ledger entry of %d bytes", len(v))
	}
	e.Amend = v[0] == 1
	e.Seq = binary.BigEndian.Uint64(v[1:])
	e.From = int64(binary.BigEndian.Uint64(v[9:]))
	e.To = int64(binary.BigEndian.Uint64(v[17:]))
	e.Count = binary.BigEndian.Uint64(v[25:])
	copy(e.DataHash[:], v[33:65])
	kl := int(binary.BigEndian.Uint16(v[65:]))
	if 67+kl > len(v) {
		return e, errcode.New(errcode.StoreCorrupt, "pending ledger entry key length %d", kl)
	}
	e.Key = string(v[67 : 67+kl])
	e.Tag = string(v[67+kl:])
	return e, nil
}

// floorTo truncates t to a multiple of p towards minus infinity.
func floorTo(t, p int64) int64 {
	if p <= 1 {
		return t
	}
	r := t % p
	if r < 0 {
		r += p
	}
	if t-r > t { // overflow at the bottom of the range
		return math.MinInt64
	}
	return t - r
}
