package uaserver

import (
	"fmt"
	"reflect"
	"unsafe"

	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uasc"
)

// gopcua v0.9.0 keeps two things this server needs unexported: the
// security a client chose for its secure channel (the channel accepts any
// policy, whatever the endpoints say) and the server pointer inside its
// service types (which we need to wrap their handlers). They are reached
// here by reflection, checked by name and type at run time, so a gopcua
// that changes them fails Start with an error instead of misbehaving;
// the interoperability test covers both.

// channelSecurity returns the policy URI, mode and certificate the client
// opened sc with.
func channelSecurity(sc *uasc.SecureChannel) (policy string, mode ua.MessageSecurityMode, cert []byte, err error) {
	if sc == nil {
		return "", 0, nil, fmt.Errorf("no secure channel")
	}
	v := reflect.ValueOf(sc).Elem().FieldByName("cfg")
	if !v.IsValid() || v.Kind() != reflect.Pointer || v.IsNil() {
		return "", 0, nil, fmt.Errorf("gopcua secure channel has no cfg")
	}
	c := v.Elem()
	p, m, rc := c.FieldByName("SecurityPolicyURI"), c.FieldByName("SecurityMode"), c.FieldByName("RemoteCertificate")
	if p.Kind() != reflect.String || m.Kind() != reflect.Uint32 || rc.Kind() != reflect.Slice {
		return "", 0, nil, fmt.Errorf("gopcua secure channel config has changed")
	}
	return p.String(), ua.MessageSecurityMode(m.Uint()), append([]byte(nil), rc.Bytes()...), nil
}

// setUnexported sets the unexported field name of the struct *dst to val.
func setUnexported(dst any, name string, val any) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("%T is not a pointer to a struct", dst)
	}
	f := v.Elem().FieldByName(name)
	x := reflect.ValueOf(val)
	if !f.IsValid() || f.Type() != x.Type() {
		return fmt.Errorf("%T has no field %s of type %T", dst, name, val)
	}
	reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Set(x)
	return nil
}
