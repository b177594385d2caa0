package asset

import "net"

// Vendor returns the vendor of a MAC address from the embedded OUI table,
// "" when the prefix is unknown or the address is locally administered or
// multicast (those carry no vendor).
func Vendor(mac net.HardwareAddr) string {
	if len(mac) < 3 || mac[0]&0x03 != 0 {
		return ""
	}
	return ouiTable[uint32(mac[0])<<16|uint32(mac[1])<<8|uint32(mac[2])]
}
