package capture

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/net/bpf"

	"github.com/otlink/otlink/internal/errcode"
)

// Filter is a capture filter in a subset of tcpdump's syntax:
//
//	[src|dst] host ADDR     [src|dst] net CIDR     [src|dst] port N
//	[src|dst] portrange N-M  tcp  udp  icmp  ip  ip6  vlan [ID]
//	and (&&)  or (||)  not (!)  ( )
//
// A protocol may qualify a port ("tcp port 502") and a bare value repeats
// the previous primitive ("port 502 or 503"). otlink compiles it to
// classic BPF itself, since libpcap's compiler needs cgo: the kernel runs
// the program on a live socket, and a BPF VM runs it on file frames.
// IPv6 extension headers are not walked (ports behind them do not match);
// VLAN tags are read from the frame, so a NIC that strips them on a live
// socket hides them from "vlan".
type Filter struct {
	expr string
	root node
	vms  map[LinkType]*bpf.VM
}

type node interface{}

type andNode struct{ l, r node }
type orNode struct{ l, r node }
type notNode struct{ x node }

// prim is one primitive.
type prim struct {
	kind   string // host net port portrange tcp udp icmp ip ip6 vlan
	dir    string // "", src, dst
	proto  string // tcp/udp qualifier of port primitives
	pfx    netip.Prefix
	lo, hi uint32
	hasArg bool
}

// ParseFilter parses expr; an empty expr gives a nil Filter, which
// matches everything.
func ParseFilter(expr string) (*Filter, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, nil
	}
	p := &parser{toks: tokenize(expr)}
	n, err := p.or()
	if err == nil && p.i < len(p.toks) {
		err = fmt.Errorf("unexpected %q", p.toks[p.i])
	}
	if err != nil {
		return nil, errcode.Wrap(errcode.CaptureFilter, err, "parse capture filter %q", expr)
	}
	f := &Filter{expr: expr, root: n, vms: map[LinkType]*bpf.VM{}}
	// Compile once now so that errors surface before any capture starts.
	if _, err := f.Instructions(LinkEthernet, 65535); err != nil {
		return nil, err
	}
	return f, nil
}

// String returns the expression.
func (f *Filter) String() string { return f.expr }

func tokenize(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '(' || c == ')' || c == '!':
			out = append(out, string(c))
			i++
		case strings.HasPrefix(s[i:], "&&") || strings.HasPrefix(s[i:], "||"):
			out = append(out, s[i:i+2])
			i += 2
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n()!&|", rune(s[j])) {
				j++
			}
			out = append(out, s[i:j])
			i = j
		}
	}
	return out
}

type parser struct {
	toks []string
	i    int
	last *prim
}

func (p *parser) peek() string {
	if p.i < len(p.toks) {
		return strings.ToLower(p.toks[p.i])
	}
	return ""
}

func (p *parser) or() (node, error) {
	l, err := p.and()
	for err == nil && (p.peek() == "or" || p.peek() == "||") {
		p.i++
		var r node
		if r, err = p.and(); err == nil {
			l = orNode{l, r}
		}
	}
	return l, err
}

func (p *parser) and() (node, error) {
	l, err := p.unary()
	for err == nil && (p.peek() == "and" || p.peek() == "&&") {
		p.i++
		var r node
		if r, err = p.unary(); err == nil {
			l = andNode{l, r}
		}
	}
	return l, err
}

func (p *parser) unary() (node, error) {
	switch p.peek() {
	case "not", "!":
		p.i++
		x, err := p.unary()
		return notNode{x}, err
	case "(":
		p.i++
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("missing )")
		}
		p.i++
		return x, nil
	case "":
		return nil, fmt.Errorf("expression ends early")
	}
	return p.primitive()
}

func (p *parser) primitive() (node, error) {
	var pr prim
	t := p.peek()
	if t == "tcp" || t == "udp" {
		if p.i+1 < len(p.toks) {
			nx := strings.ToLower(p.toks[p.i+1])
			if nx == "port" || nx == "portrange" || nx == "src" || nx == "dst" {
				pr.proto = t
				p.i++
				t = p.peek()
			}
		}
	}
	if t == "src" || t == "dst" {
		pr.dir = t
		p.i++
		t = p.peek()
		if t == "or" || t == "and" { // "src or dst host": the default anyway
			p.i++
			p.i++
			pr.dir = ""
			t = p.peek()
		}
	}
	switch t {
	case "tcp", "udp", "icmp", "icmp6", "ip", "ip6":
		if pr.dir != "" || pr.proto != "" {
			return nil, fmt.Errorf("%q takes no qualifier", t)
		}
		p.i++
		return prim{kind: t}, nil
	case "vlan":
		p.i++
		pr.kind = "vlan"
		if n, err := strconv.ParseUint(p.peek(), 10, 16); err == nil && p.i < len(p.toks) {
			if n > 4095 {
				return nil, fmt.Errorf("vlan id %d above 4095", n)
			}
			pr.lo, pr.hasArg = uint32(n), true
			p.i++
		}
		return pr, nil
	case "host", "net", "port", "portrange":
		p.i++
		pr.kind = t
		if p.i >= len(p.toks) {
			return nil, fmt.Errorf("%s needs a value", t)
		}
		if err := pr.arg(p.toks[p.i]); err != nil {
			return nil, err
		}
		p.i++
		p.last = &pr
		return pr, nil
	}
	// A bare value repeats the previous primitive: "port 502 or 503".
	if p.last != nil && pr.dir == "" && pr.proto == "" {
		np := *p.last
		if err := np.arg(p.toks[p.i]); err == nil {
			p.i++
			return np, nil
		}
	}
	return nil, fmt.Errorf("unknown primitive %q", p.toks[p.i])
}

func (pr *prim) arg(s string) error {
	switch pr.kind {
	case "host":
		a, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("host %q is not an IP address (names are not resolved)", s)
		}
		pr.pfx = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
	case "net":
		pf, err := netip.ParsePrefix(s)
		if err != nil {
			a, err2 := netip.ParseAddr(s)
			if err2 != nil {
				return fmt.Errorf("net %q is not a CIDR prefix", s)
			}
			pf = netip.PrefixFrom(a, a.BitLen())
		}
		pr.pfx = pf.Masked()
	case "port":
		n, err := strconv.ParseUint(s, 10, 16)
		if err != nil {
			return fmt.Errorf("port %q is not a number 0..65535", s)
		}
		pr.lo, pr.hi = uint32(n), uint32(n)
	case "portrange":
		a, b, ok := strings.Cut(s, "-")
		x, err1 := strconv.ParseUint(a, 10, 16)
		y, err2 := strconv.ParseUint(b, 10, 16)
		if !ok || err1 != nil || err2 != nil || x > y {
			return fmt.Errorf("portrange %q is not N-M", s)
		}
		pr.lo, pr.hi = uint32(x), uint32(y)
	default:
		return fmt.Errorf("%s takes no value", pr.kind)
	}
	return nil
}

// Scratch memory slots the prologue fills.
const (
	mEtype = 0 // 0x0800, 0x86dd or another ethertype
	mL3    = 1 // offset of the IP header
	mProto = 2 // IP protocol / next header, 0 when not IP
	mL4    = 3 // offset of the transport header, noL4 for a later fragment or non-IP
	mVLAN  = 4 // outer VLAN id, noVLAN when untagged
	noL4   = 0xffffffff
	noVLAN = 0x10000
)

// asm is a tiny assembler with symbolic labels.
type asm struct {
	ins    []bpf.Instruction
	fix    []fixup
	labels []int // label -> instruction index, -1 while unplaced
}

type fixup struct {
	at     int
	jt, jf int // labels; jf -1 for an unconditional jump
	ja     bool
}

func (a *asm) label() int { a.labels = append(a.labels, -1); return len(a.labels) - 1 }

func (a *asm) place(l int) { a.labels[l] = len(a.ins) }

func (a *asm) emit(i ...bpf.Instruction) { a.ins = append(a.ins, i...) }

// jmp emits "if A <cond> v goto t else goto f".
func (a *asm) jmp(cond bpf.JumpTest, v uint32, t, f int) {
	a.fix = append(a.fix, fixup{at: len(a.ins), jt: t, jf: f})
	a.ins = append(a.ins, bpf.JumpIf{Cond: cond, Val: v})
}

func (a *asm) ja(t int) {
	a.fix = append(a.fix, fixup{at: len(a.ins), jt: t, ja: true})
	a.ins = append(a.ins, bpf.Jump{})
}

func (a *asm) resolve() error {
	for _, fx := range a.fix {
		rel := func(l int) (int, error) {
			to := a.labels[l]
			d := to - fx.at - 1
			if to < 0 || d < 0 {
				return 0, fmt.Errorf("capture filter: bad jump")
			}
			return d, nil
		}
		t, err := rel(fx.jt)
		if err != nil {
			return err
		}
		if fx.ja {
			a.ins[fx.at] = bpf.Jump{Skip: uint32(t)}
			continue
		}
		f, err := rel(fx.jf)
		if err != nil {
			return err
		}
		if t > 255 || f > 255 {
			return fmt.Errorf("capture filter too long for classic BPF jumps")
		}
		j := a.ins[fx.at].(bpf.JumpIf)
		j.SkipTrue, j.SkipFalse = uint8(t), uint8(f)
		a.ins[fx.at] = j
	}
	return nil
}

// Instructions compiles the filter for frames of link type lt; a matching
// frame is kept with up to snaplen bytes.
func (f *Filter) Instructions(lt LinkType, snaplen int) ([]bpf.Instruction, error) {
	a := &asm{}
	ok, drop := a.label(), a.label()
	if err := prologue(a, lt); err != nil {
		return nil, err
	}
	compile(a, f.root, ok, drop)
	a.place(ok)
	a.emit(bpf.RetConstant{Val: uint32(snaplen)})
	a.place(drop)
	a.emit(bpf.RetConstant{Val: 0})
	if err := a.resolve(); err != nil {
		return nil, errcode.Wrap(errcode.CaptureFilter, err, "compile capture filter %q", f.expr)
	}
	return a.ins, nil
}

// Match runs the filter on one frame in a BPF VM (for files).
func (f *Filter) Match(data []byte, lt LinkType) bool {
	vm := f.vms[lt]
	if vm == nil {
		ins, err := f.Instructions(lt, 65535)
		if err != nil {
			return false
		}
		if vm, err = bpf.NewVM(ins); err != nil {
			return false
		}
		f.vms[lt] = vm
	}
	n, err := vm.Run(data)
	return err == nil && n > 0
}

func st(k int) bpf.Instruction  { return bpf.StoreScratch{Src: bpf.RegA, N: k} }
func ldm(k int) bpf.Instruction { return bpf.LoadScratch{Dst: bpf.RegA, N: k} }
func ldc(v uint32) bpf.Instruction {
	return bpf.LoadConstant{Dst: bpf.RegA, Val: v}
}

// prologue fills the scratch slots for link type lt.
func prologue(a *asm, lt LinkType) error {
	a.emit(ldc(noVLAN), st(mVLAN))
	ipl := a.label()
	setL3 := func(etype, off uint32) { a.emit(ldc(etype), st(mEtype), ldc(off), st(mL3)) }
	switch lt {
	case LinkEthernet:
		vl, vl2 := a.label(), a.label()
		a.emit(bpf.LoadAbsolute{Off: 12, Size: 2}, st(mEtype), ldc(14), st(mL3), ldm(mEtype))
		next := a.label()
		a.jmp(bpf.JumpEqual, 0x8100, vl, next)
		a.place(next)
		next = a.label()
		a.jmp(bpf.JumpEqual, 0x88a8, vl, next)
		a.place(next)
		a.jmp(bpf.JumpEqual, 0x9100, vl, ipl)
		a.place(vl)
		a.emit(bpf.LoadAbsolute{Off: 14, Size: 2}, bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xfff}, st(mVLAN),
			bpf.LoadAbsolute{Off: 16, Size: 2}, st(mEtype), ldc(18), st(mL3))
		a.jmp(bpf.JumpEqual, 0x8100, vl2, ipl)
		a.place(vl2)
		a.emit(bpf.LoadAbsolute{Off: 20, Size: 2}, st(mEtype), ldc(22), st(mL3))
	case LinkLinuxSLL:
		a.emit(bpf.LoadAbsolute{Off: 14, Size: 2}, st(mEtype), ldc(16), st(mL3))
	case LinkSLL2:
		a.emit(bpf.LoadAbsolute{Off: 0, Size: 2}, st(mEtype), ldc(20), st(mL3))
	case LinkIPv4:
		setL3(0x0800, 0)
	case LinkIPv6:
		setL3(0x86dd, 0)
	case LinkRaw:
		v6, other := a.label(), a.label()
		a.emit(bpf.LoadAbsolute{Off: 0, Size: 1}, bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 4})
		n4 := a.label()
		a.jmp(bpf.JumpEqual, 4, n4, v6)
		a.place(n4)
		setL3(0x0800, 0)
		a.ja(ipl)
		a.place(v6)
		a.jmp(bpf.JumpEqual, 6, a.labelNext(), other)
		setL3(0x86dd, 0)
		a.ja(ipl)
		a.place(other)
		setL3(0, 0)
	case LinkNull, LinkLoop:
		// The family is in the writer's byte order for Null: test both.
		v4, v6, other := a.label(), a.label(), a.label()
		a.emit(bpf.LoadAbsolute{Off: 0, Size: 4})
		for _, v := range []uint32{2, 0x02000000} {
			n := a.label()
			a.jmp(bpf.JumpEqual, v, v4, n)
			a.place(n)
		}
		for _, v := range []uint32{24, 28, 30, 0x18000000, 0x1c000000, 0x1e000000} {
			n := a.label()
			a.jmp(bpf.JumpEqual, v, v6, n)
			a.place(n)
		}
		a.ja(other)
		a.place(v4)
		setL3(0x0800, 4)
		a.ja(ipl)
		a.place(v6)
		setL3(0x86dd, 4)
		a.ja(ipl)
		a.place(other)
		setL3(0, 4)
	default:
		return errcode.New(errcode.CaptureLinkType, "capture filter: link type %s is not supported", lt)
	}
	a.place(ipl)
	v4, v6, v4ok, end := a.label(), a.label(), a.label(), a.label()
	a.emit(ldc(0), st(mProto), ldc(noL4), st(mL4), ldm(mEtype))
	n := a.label()
	a.jmp(bpf.JumpEqual, 0x0800, v4, n)
	a.place(n)
	a.jmp(bpf.JumpEqual, 0x86dd, v6, end)
	a.place(v4)
	a.emit(bpf.LoadScratch{Dst: bpf.RegX, N: mL3}, bpf.LoadIndirect{Off: 9, Size: 1}, st(mProto),
		bpf.LoadIndirect{Off: 6, Size: 2}, bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0x1fff})
	a.jmp(bpf.JumpEqual, 0, v4ok, end)
	a.place(v4ok)
	a.emit(bpf.LoadIndirect{Off: 0, Size: 1}, bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf},
		bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: 2}, bpf.ALUOpX{Op: bpf.ALUOpAdd}, st(mL4))
	a.ja(end)
	a.place(v6)
	a.emit(bpf.LoadScratch{Dst: bpf.RegX, N: mL3}, bpf.LoadIndirect{Off: 6, Size: 1}, st(mProto),
		bpf.TXA{}, bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: 40}, st(mL4))
	a.place(end)
	return nil
}

// compile emits code that jumps to t when n holds and to f otherwise.
func compile(a *asm, n node, t, f int) {
	switch n := n.(type) {
	case andNode:
		mid := a.label()
		compile(a, n.l, mid, f)
		a.place(mid)
		compile(a, n.r, t, f)
	case orNode:
		mid := a.label()
		compile(a, n.l, t, mid)
		a.place(mid)
		compile(a, n.r, t, f)
	case notNode:
		compile(a, n.x, f, t)
	case prim:
		compilePrim(a, n, t, f)
	}
}

// check emits "if A == v continue else goto f".
func (a *asm) check(v uint32, f int) { a.jmp(bpf.JumpEqual, v, a.labelNext(), f) }

// labelNext returns a label for the instruction after the one about to be
// emitted.
func (a *asm) labelNext() int {
	l := a.label()
	a.labels[l] = len(a.ins) + 1
	return l
}

func compilePrim(a *asm, p prim, t, f int) {
	switch p.kind {
	case "ip":
		a.emit(ldm(mEtype))
		a.jmp(bpf.JumpEqual, 0x0800, t, f)
	case "ip6":
		a.emit(ldm(mEtype))
		a.jmp(bpf.JumpEqual, 0x86dd, t, f)
	case "tcp", "udp", "icmp", "icmp6":
		v := map[string]uint32{"tcp": 6, "udp": 17, "icmp": 1, "icmp6": 58}[p.kind]
		a.emit(ldm(mProto))
		a.jmp(bpf.JumpEqual, v, t, f)
	case "vlan":
		a.emit(ldm(mVLAN))
		if p.hasArg {
			a.jmp(bpf.JumpEqual, p.lo, t, f)
		} else {
			a.jmp(bpf.JumpEqual, noVLAN, f, t)
		}
	case "host", "net":
		addr := p.pfx.Addr()
		srcOff, dstOff, etype := uint32(12), uint32(16), uint32(0x0800)
		if addr.Is6() {
			srcOff, dstOff, etype = 8, 24, 0x86dd
		}
		a.emit(ldm(mEtype))
		a.check(etype, f)
		a.emit(bpf.LoadScratch{Dst: bpf.RegX, N: mL3})
		one := func(off uint32, t, f int) {
			b := addr.AsSlice()
			bits := p.pfx.Bits()
			for w := 0; w*32 < bits; w++ {
				word := uint32(b[4*w])<<24 | uint32(b[4*w+1])<<16 | uint32(b[4*w+2])<<8 | uint32(b[4*w+3])
				mask := uint32(0xffffffff)
				if r := bits - 32*w; r < 32 {
					mask = ^uint32(0) << (32 - r)
				}
				a.emit(bpf.LoadIndirect{Off: off + uint32(4*w), Size: 4})
				if mask != 0xffffffff {
					a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mask})
				}
				if (w+1)*32 >= bits {
					a.jmp(bpf.JumpEqual, word&mask, t, f)
				} else {
					a.check(word&mask, f)
				}
			}
			if bits == 0 {
				a.ja(t)
			}
		}
		switch p.dir {
		case "src":
			one(srcOff, t, f)
		case "dst":
			one(dstOff, t, f)
		default:
			mid := a.label()
			one(srcOff, t, mid)
			a.place(mid)
			one(dstOff, t, f)
		}
	case "port", "portrange":
		a.emit(ldm(mProto))
		switch p.proto {
		case "tcp":
			a.check(6, f)
		case "udp":
			a.check(17, f)
		default:
			tu := a.label()
			n := a.label()
			a.jmp(bpf.JumpEqual, 6, tu, n)
			a.place(n)
			a.jmp(bpf.JumpEqual, 17, tu, f)
			a.place(tu)
		}
		a.emit(ldm(mL4))
		a.jmp(bpf.JumpEqual, noL4, f, a.labelNext())
		a.emit(bpf.TAX{})
		one := func(off uint32, t, f int) {
			a.emit(bpf.LoadIndirect{Off: off, Size: 2})
			if p.lo == p.hi {
				a.jmp(bpf.JumpEqual, p.lo, t, f)
				return
			}
			a.jmp(bpf.JumpGreaterOrEqual, p.lo, a.labelNext(), f)
			a.jmp(bpf.JumpGreaterThan, p.hi, f, t)
		}
		switch p.dir {
		case "src":
			one(0, t, f)
		case "dst":
			one(2, t, f)
		default:
			mid := a.label()
			one(0, t, mid)
			a.place(mid)
			one(2, t, f)
		}
	}
}
