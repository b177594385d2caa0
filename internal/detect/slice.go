package detect

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/otlink/otlink/internal/capture"
	"github.com/otlink/otlink/internal/errcode"
)

type frameData struct {
	data []byte
	ci   capture.Info
}

// WriteSlices reads the capture file a second time and writes, for each
// alert with evidence frames, a pcap holding just those frames into dir,
// named FILE-ID.pcapng; it sets each alert's Pcap. Each packet carries a
// comment "otlink: frame N of FILE" with its number in the original
// capture, which a slice renumbers from 1. Frames of a link type other
// than the first evidence frame's (mixed pcapng) are left out.
func WriteSlices(ctx context.Context, file string, alerts []*Alert, dir string) error {
	want := map[uint64]bool{}
	for _, a := range alerts {
		for _, f := range a.Frames {
			want[f] = true
		}
	}
	if len(want) == 0 {
		return nil
	}
	src, err := capture.OpenFile(file)
	if err != nil {
		return errcode.Wrap(errcode.DetectSlice, err, "reread %s for pcap slices", file)
	}
	defer src.Close()
	got := map[uint64]frameData{}
	var frame uint64
	for len(got) < len(want) {
		data, ci, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return errcode.Wrap(errcode.DetectSlice, err, "reread %s for pcap slices", file)
		}
		frame++
		if frame&0xffff == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if want[frame] {
			got[frame] = frameData{append([]byte(nil), data...), ci}
		}
	}
	base := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	for _, a := range alerts {
		if len(a.Frames) == 0 {
			continue
		}
		path := filepath.Join(dir, base+"-"+a.ID+".pcapng")
		if err := writeSlice(path, file, a.Frames, got); err != nil {
			return err
		}
		a.Pcap = path
	}
	return nil
}

func writeSlice(path, file string, frames []uint64, got map[uint64]frameData) error {
	f, err := os.Create(path)
	if err != nil {
		return errcode.Wrap(errcode.DetectSlice, err, "create pcap slice")
	}
	fail := func(err error) error {
		f.Close()
		return errcode.Wrap(errcode.DetectSlice, err, "write pcap slice %s", path)
	}
	var w *pcapgo.NgWriter
	var link capture.LinkType
	for _, n := range sortedFrames(frames) {
		fd, ok := got[n]
		if !ok {
			continue
		}
		if w == nil {
			link = fd.ci.Link
			if w, err = pcapgo.NewNgWriter(f, layers.LinkType(link)); err != nil {
				return fail(err)
			}
		}
		if fd.ci.Link != link {
			continue
		}
		ci := gopacket.CaptureInfo{Timestamp: unixNano(fd.ci.Time), CaptureLength: len(fd.data), Length: max(fd.ci.Len, len(fd.data))}
		opts := pcapgo.NgPacketOptions{Comments: []string{fmt.Sprintf("otlink: frame %d of %s", n, filepath.Base(file))}}
		if err := w.WritePacketWithOptions(ci, fd.data, opts); err != nil {
			return fail(err)
		}
	}
	if w == nil {
		if w, err = pcapgo.NewNgWriter(f, layers.LinkTypeEthernet); err != nil {
			return fail(err)
		}
	}
	if err := w.Flush(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return errcode.Wrap(errcode.DetectSlice, err, "write pcap slice %s", path)
	}
	return nil
}
