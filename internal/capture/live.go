package capture

import (
	"errors"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"golang.org/x/net/bpf"

	"github.com/otlink/otlink/internal/errcode"
)

// LiveSource captures on a network interface through an AF_PACKET ring
// (TPACKET_V3), without cgo. It only reads: otlink never sends a packet.
type LiveSource struct {
	tp    *afpacket.TPacket
	iface string
}

// PollTime is how long Next waits for a packet before ErrTimeout.
const PollTime = 100 * time.Millisecond

// Live opens interface iface for capture with a filter in the syntax of
// ParseFilter ("" for every packet), keeping up to snaplen bytes of each
// frame (0 for 65535). It needs root or CAP_NET_RAW. On a loopback
// interface, frames the kernel reports as outgoing are dropped by the
// filter, since loopback shows each packet twice (as libpcap does).
func Live(iface, filter string, snaplen int) (*LiveSource, error) {
	if snaplen <= 0 {
		snaplen = 65535
	}
	f, err := ParseFilter(filter)
	if err != nil {
		return nil, err
	}
	ifc, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, errcode.Wrap(errcode.CaptureLive, err, "capture on %s", iface)
	}
	var ins []bpf.Instruction
	if ifc.Flags&net.FlagLoopback != 0 {
		const packetOutgoing = 4
		ins = append(ins, bpf.LoadExtension{Num: bpf.ExtType}, bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: packetOutgoing, SkipTrue: 1}, bpf.RetConstant{Val: 0})
	}
	if f != nil {
		prog, err := f.Instructions(LinkEthernet, snaplen)
		if err != nil {
			return nil, err
		}
		ins = append(ins, prog...)
	} else if ins != nil {
		ins = append(ins, bpf.RetConstant{Val: uint32(snaplen)})
	}
	frame := 1 << 16
	for frame < snaplen+128 {
		frame <<= 1
	}
	tp, err := afpacket.NewTPacket(afpacket.OptInterface(iface), afpacket.OptFrameSize(frame),
		afpacket.OptBlockSize(frame*32), afpacket.OptNumBlocks(64), afpacket.OptPollTimeout(PollTime),
		afpacket.OptBlockTimeout(10*time.Millisecond))
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, os.ErrPermission) {
			return nil, errcode.Wrap(errcode.CapturePermission, err, "capture on %s", iface)
		}
		return nil, errcode.Wrap(errcode.CaptureLive, err, "capture on %s", iface)
	}
	if ins != nil {
		raw, err := bpf.Assemble(ins)
		if err == nil {
			err = tp.SetBPF(raw)
		}
		if err != nil {
			tp.Close()
			return nil, errcode.Wrap(errcode.CaptureFilter, err, "set capture filter on %s", iface)
		}
	}
	return &LiveSource{tp: tp, iface: iface}, nil
}

// Next returns the next frame, or ErrTimeout after PollTime without one.
func (l *LiveSource) Next() ([]byte, Info, error) {
	data, ci, err := l.tp.ZeroCopyReadPacketData()
	if err != nil {
		if errors.Is(err, afpacket.ErrTimeout) || errors.Is(err, afpacket.ErrPoll) {
			return nil, Info{}, ErrTimeout
		}
		return nil, Info{}, errcode.Wrap(errcode.CaptureLive, err, "read from %s", l.iface)
	}
	return data, Info{Time: ci.Timestamp.UnixNano(), CapLen: ci.CaptureLength, Len: ci.Length, Link: LinkEthernet, Iface: ci.InterfaceIndex}, nil
}

// Stats returns the packets the kernel delivered and dropped so far.
func (l *LiveSource) Stats() (received, dropped uint64) {
	_, s3, err := l.tp.SocketStats()
	if err != nil {
		return 0, 0
	}
	return uint64(s3.Packets()), uint64(s3.Drops())
}

// Close releases the ring and the socket.
func (l *LiveSource) Close() error { l.tp.Close(); return nil }

var _ Source = (*LiveSource)(nil)
