// Package uareflect reaches the two things of gopcua v0.9.0 that otlink's
// OPC UA servers (internal/uaserver and the simulated press in
// internal/sim) need but gopcua keeps unexported: the security a client
// chose for its secure channel (gopcua accepts any policy, whatever the
// endpoints say) and fields of its service types (to wrap their
// handlers). They are reached by reflection, checked by name and type at
// run time, so a gopcua that changes them fails with an error instead of
// misbehaving; the interoperability tests cover both. Nothing else may
// live here.
package uareflect

import (
	"fmt"
	"reflect"
	"unsafe"

	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uasc"
)

// ChannelSecurity returns the policy URI, mode and certificate the client
// opened sc with.
func ChannelSecurity(sc *uasc.SecureChannel) (policy string, mode ua.MessageSecurityMode, cert []byte, err error) {
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

// SetUnexported sets the unexported field name of the struct *dst to val.
func SetUnexported(dst any, name string, val any) error {
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
