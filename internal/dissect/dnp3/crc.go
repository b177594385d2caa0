package dnp3

// crcTable is CRC-16/DNP (polynomial 0x3D65, reflected 0xA6BC, init 0,
// final complement), the check every 16 bytes of a DNP3 link frame.
var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0xA6BC
			} else {
				c >>= 1
			}
		}
		t[i] = c
	}
	return t
}()

func crc(b []byte) uint16 {
	var c uint16
	for _, x := range b {
		c = c>>8 ^ crcTable[byte(c)^x]
	}
	return ^c
}

// crcOK checks a block followed by its little-endian CRC.
func crcOK(block []byte, sum []byte) bool {
	c := crc(block)
	return byte(c) == sum[0] && byte(c>>8) == sum[1]
}
