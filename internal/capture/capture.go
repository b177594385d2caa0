package capture

import (
	"errors"
	"fmt"
)

// LinkType is the link-layer header type of a frame, as numbered by
// tcpdump.org (LINKTYPE_*), the values pcap and pcapng files store.
type LinkType uint16

// The link types the pipeline decodes.
const (
	LinkNull     LinkType = 0   // BSD loopback: 4-byte address family in the writer's byte order
	LinkEthernet LinkType = 1   // Ethernet II (with 802.1Q/QinQ tags)
	LinkRaw      LinkType = 101 // raw IPv4 or IPv6, version in the first nibble
	LinkLoop     LinkType = 108 // OpenBSD loopback: 4-byte address family, network order
	LinkLinuxSLL LinkType = 113 // Linux cooked capture v1 (16-byte header)
	LinkIPv4     LinkType = 228
	LinkIPv6     LinkType = 229
	LinkSLL2     LinkType = 276 // Linux cooked capture v2 (20-byte header)
)

func (l LinkType) String() string {
	switch l {
	case LinkNull:
		return "null"
	case LinkEthernet:
		return "ethernet"
	case LinkRaw:
		return "raw"
	case LinkLoop:
		return "loop"
	case LinkLinuxSLL:
		return "linux-sll"
	case LinkIPv4:
		return "ipv4"
	case LinkIPv6:
		return "ipv6"
	case LinkSLL2:
		return "linux-sll2"
	}
	return fmt.Sprintf("linktype(%d)", uint16(l))
}

// Info describes one captured frame.
type Info struct {
	Time   int64    // capture time, Unix ns
	CapLen int      // bytes captured (len of the data)
	Len    int      // bytes on the wire
	Link   LinkType // link-layer header type of this frame
	Iface  int      // interface index within the capture (pcapng) or the OS
}

// Source yields frames. The data returned by Next is valid only until the
// next call to Next or Close (the source reuses its buffer: zero copy
// where the format allows). Next returns io.EOF after the last frame of a
// file and ErrTimeout when a live source saw nothing for its poll time.
type Source interface {
	Next() (data []byte, ci Info, err error)
	Close() error
}

// ErrTimeout is returned by a live source's Next when no packet arrived
// within its poll time, so the caller can look at its context and retry.
var ErrTimeout = errors.New("capture: no packet within the poll time")
