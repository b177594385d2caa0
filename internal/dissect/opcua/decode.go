package opcua

import (
	"crypto/x509"
	"encoding/asn1"
	"strconv"
	"strings"

	"github.com/otlink/otlink/internal/dissect"
)

// decode emits the PDU of one readable message body: the service type
// NodeId, then the service. cut says the body was truncated by a bound, so
// running out of bytes is not a malformation.
func (p *parser) decode(m dissect.Meta, typ string, body []byte, cut bool, ident map[string]string, emit func(*dissect.PDU)) {
	r := rd{b: body}
	id := r.nodeID()
	if r.bad || id.kind != 'i' {
		p.malformed(m, "service type is not a numeric node id", emit)
		return
	}
	svc, known := services[id.num]
	if id.ns != 0 {
		known = false
	}
	u := p.reset(m, svc.name)
	u.Function, u.Counting = id.num, dissect.CountFunction
	u.Identity = ident
	if !known {
		u.Name = "service " + strconv.FormatUint(uint64(id.num), 10)
		u.Request = m.Dir == dissect.ToServer
		u.Response = !u.Request
		emit(u)
		return
	}
	u.Request, u.Response, u.Action = !svc.response, svc.response, svc.action
	var handle uint32
	if svc.response {
		var st uint32
		handle, st = r.responseHeader()
		if !r.bad && st&0xc0000000 != 0 {
			u.Exception = st
		}
	} else {
		handle = r.requestHeader()
	}
	if r.bad {
		if !cut {
			u.Malformed = "truncated " + svc.name + " header"
		}
		emit(u)
		return
	}
	p.service(u, id.num, handle, &r)
	p.pdu.Objects = p.objs
	emit(u)
}

// addNode appends a node id as an Object: numeric ids as Space "ns=N" and
// Start the id, others with the whole id in Space.
func (p *parser) addNode(n nodeID, vals []float64) {
	if len(p.objs) >= maxObjects {
		return
	}
	o := dissect.Object{Count: 1}
	if n.kind == 'i' {
		k := uint64(n.ns)
		if o.Space = names.Get(k); o.Space == "" {
			o.Space = names.Put(k, "ns="+strconv.Itoa(int(n.ns)))
		}
		o.Start = n.num
	} else {
		o.Space = n.String()
	}
	if len(vals) > 0 {
		n0 := len(p.store)
		p.store = append(p.store, vals...)
		o.Values = p.store[n0:len(p.store):len(p.store)]
	}
	p.objs = append(p.objs, o)
}

// service decodes the body of the services whose addresses, values or
// identity matter; r is past the request or response header.
func (p *parser) service(u *dissect.PDU, id, handle uint32, r *rd) {
	switch id {
	case svcReadReq:
		r.u64() // max age
		r.u32() // timestamps to return
		n := r.arr(15)
		var ids []nodeID
		if k := len(p.freeIDs); k > 0 {
			ids, p.freeIDs = p.freeIDs[k-1], p.freeIDs[:k-1]
		}
		for i := 0; i < n && i < maxItems && !r.bad; i++ {
			nid := r.nodeID()
			r.u32()
			r.bytesv()
			r.qualified()
			if r.bad {
				break
			}
			p.addNode(nid, nil)
			if len(ids) < maxObjects {
				ids = append(ids, nid)
			}
		}
		if p.pending == nil {
			p.pending = map[uint32][]nodeID{}
		}
		if len(p.pending) >= maxPending {
			clear(p.pending)
		}
		p.pending[handle] = ids
	case svcReadResp:
		ids := p.pending[handle]
		delete(p.pending, handle)
		n := r.arr(1)
		for i := 0; i < n && i < maxItems && !r.bad; i++ {
			p.vals = p.vals[:0]
			r.dataValue(0, &p.vals)
			if r.bad {
				break
			}
			if i < len(ids) {
				p.addNode(ids[i], p.vals)
			}
		}
		if ids != nil && len(p.freeIDs) < 8 {
			p.freeIDs = append(p.freeIDs, ids[:0])
		}
	case svcWriteReq:
		n := r.arr(15)
		for i := 0; i < n && i < maxItems && !r.bad; i++ {
			nid := r.nodeID()
			r.u32()
			r.bytesv()
			p.vals = p.vals[:0]
			r.dataValue(0, &p.vals)
			if r.bad {
				break
			}
			p.addNode(nid, p.vals)
		}
	case svcBrowseReq:
		r.nodeID()
		r.u64()
		r.u32()
		r.u32()
		n := r.arr(20)
		for i := 0; i < n && i < maxItems && !r.bad; i++ {
			nid := r.nodeID()
			r.u32()
			r.nodeID()
			r.u8()
			r.u32()
			r.u32()
			if r.bad {
				break
			}
			p.addNode(nid, nil)
		}
	case svcCallReq:
		n := r.arr(8)
		for i := 0; i < n && i < maxItems && !r.bad; i++ {
			r.nodeID() // object
			method := r.nodeID()
			p.vals = p.vals[:0]
			k := r.arr(1)
			for j := 0; j < k && j < maxItems && !r.bad; j++ {
				r.variant(0, &p.vals)
			}
			if r.bad {
				break
			}
			p.addNode(method, p.vals)
		}
	case svcCreateMonReq:
		r.u32()
		r.u32()
		n := r.arr(20)
		for i := 0; i < n && i < maxItems && !r.bad; i++ {
			nid := r.nodeID()
			r.u32()
			r.bytesv()
			r.qualified()
			r.u32() // monitoring mode
			r.u32() // client handle
			r.u64() // sampling interval
			r.extObj()
			r.u32()
			r.u8()
			if r.bad {
				break
			}
			p.addNode(nid, nil)
		}
	case svcPublishResp:
		r.u32() // subscription id
		n := r.arr(4)
		r.skip(4 * n)
		r.u8()
		r.u32()
		r.u64()
		n = r.arr(3)
		for i := 0; i < n && i < maxItems && !r.bad; i++ {
			t, b := r.extObj()
			if t.kind == 'i' && t.ns == 0 && t.num == 811 { // DataChangeNotification
				p.dataChange(b)
			}
		}
	case svcGetEndpointsResp:
		ident := p.identity(u)
		n := r.arr(20)
		for i := 0; i < n && i < maxItems && !r.bad; i++ {
			r.endpoint(ident)
		}
	case svcFindServersResp:
		ident := p.identity(u)
		n := r.arr(20)
		for i := 0; i < n && i < maxItems && !r.bad; i++ {
			r.application(ident)
		}
	case svcCreateSessionReq:
		ident := p.identity(u)
		r.application(ident)
		r.bytesv() // server uri
		if url := r.str(); url != "" && !r.bad {
			ident["endpoint_url"] = url
		}
	case svcCreateSessionResp:
		ident := p.identity(u)
		r.nodeID()
		r.nodeID()
		r.u64()
		r.bytesv()
		if s := certSubject(r.bytesv()); s != "" {
			ident["certificate_subject"] = s
		}
		n := r.arr(20)
		for i := 0; i < n && i < maxItems && !r.bad; i++ {
			r.endpoint(ident)
		}
	}
	if len(u.Identity) == 0 {
		u.Identity = nil
	}
}

// dataChange labels the values of a DataChangeNotification by the
// monitored items' client handles.
func (p *parser) dataChange(b []byte) {
	r := rd{b: b}
	n := r.arr(5)
	for i := 0; i < n && i < maxItems && !r.bad; i++ {
		h := r.u32()
		p.vals = p.vals[:0]
		r.dataValue(0, &p.vals)
		if r.bad || len(p.objs) >= maxObjects {
			return
		}
		o := dissect.Object{Space: "handle", Start: h, Count: 1}
		if len(p.vals) > 0 {
			o.Values = append([]float64(nil), p.vals...)
		}
		p.objs = append(p.objs, o)
	}
}

func (p *parser) identity(u *dissect.PDU) map[string]string {
	if u.Identity == nil {
		u.Identity = map[string]string{}
	}
	return u.Identity
}

var appTypes = [...]string{"server", "client", "client_and_server", "discovery_server"}

// application reads an ApplicationDescription into ident; the first
// description of a message wins.
func (r *rd) application(ident map[string]string) {
	uri := r.str()
	product := r.str()
	name := r.localized()
	typ := r.u32()
	r.bytesv() // gateway server uri
	r.bytesv() // discovery profile uri
	n := r.arr(4)
	var urls []string
	for i := 0; i < n && i < maxItems && !r.bad; i++ {
		if u := r.str(); u != "" && len(urls) < 8 {
			urls = append(urls, u)
		}
	}
	if r.bad || ident["application_uri"] != "" {
		return
	}
	set(ident, "application_uri", uri)
	set(ident, "product_uri", product)
	set(ident, "name", name)
	if int(typ) < len(appTypes) {
		ident["application_type"] = appTypes[typ]
	}
	addList(ident, "discovery_urls", urls...)
}

var modes = [...]string{"Invalid", "None", "Sign", "SignAndEncrypt"}
var tokenTypes = [...]string{"anonymous", "username", "certificate", "issued_token"}

// endpoint reads an EndpointDescription into ident: lists of endpoint
// URLs, security policy/mode pairs and user token types.
func (r *rd) endpoint(ident map[string]string) {
	url := r.str()
	r.application(ident)
	cert := r.bytesv()
	mode := r.u32()
	policy := r.str()
	var tokens []string
	n := r.arr(20)
	for i := 0; i < n && i < maxItems && !r.bad; i++ {
		r.bytesv()
		t := r.u32()
		r.bytesv()
		r.bytesv()
		r.bytesv()
		if int(t) < len(tokenTypes) {
			tokens = append(tokens, tokenTypes[t])
		}
	}
	r.bytesv() // transport profile
	r.u8()     // security level
	if r.bad {
		return
	}
	addList(ident, "endpoints", url)
	m := "mode " + strconv.FormatUint(uint64(mode), 10)
	if int(mode) < len(modes) {
		m = modes[mode]
	}
	if i := strings.LastIndexByte(policy, '#'); i >= 0 {
		policy = policy[i+1:]
	}
	addList(ident, "security", policy+"/"+m)
	addList(ident, "user_tokens", tokens...)
	if ident["certificate_subject"] == "" {
		set(ident, "certificate_subject", certSubject(cert))
	}
}

func set(ident map[string]string, k, v string) {
	if v != "" {
		ident[k] = v
	}
}

// addList adds values to a comma-separated list of distinct values,
// bounded in length.
func addList(ident map[string]string, k string, vs ...string) {
	for _, v := range vs {
		if v == "" {
			continue
		}
		cur := ident[k]
		if cur == "" {
			ident[k] = v
			continue
		}
		if len(cur) > 2048 {
			return
		}
		dup := false
		for _, e := range strings.Split(cur, ", ") {
			if e == v {
				dup = true
				break
			}
		}
		if !dup {
			ident[k] = cur + ", " + v
		}
	}
}

// certSubject returns the subject of a DER X.509 certificate, or "" when
// b is not one. Sizes outside what a certificate takes are not parsed.
func certSubject(b []byte) string {
	if len(b) < 64 || len(b) > 16<<10 || b[0] != 0x30 {
		return ""
	}
	// A certificate chain is certificates back to back: take the first.
	var first asn1.RawValue
	if _, err := asn1.Unmarshal(b, &first); err != nil {
		return ""
	}
	c, err := x509.ParseCertificate(first.FullBytes)
	if err != nil {
		return ""
	}
	s := c.Subject.String()
	if len(s) > maxStr {
		s = s[:maxStr]
	}
	return s
}

// names caches the "ns=N" spaces of node ids, process-wide.
var names dissect.Names
