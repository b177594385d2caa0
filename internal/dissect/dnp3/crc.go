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

// crcTables extends crcTable for slicing by four: crcTables[k][i] is the
// CRC state after byte i followed by k zero bytes. Four bytes then cost four
// independent lookups instead of a chain of four dependent ones (a DNP3
// frame checks every byte it carries).
var crcTables = func() (t [4][256]uint16) {
	t[0] = crcTable
	for k := 1; k < 4; k++ {
		for i := range 256 {
			c := t[k-1][i]
			t[k][i] = c>>8 ^ crcTable[byte(c)]
		}
	}
	return t
}()

func crc(b []byte) uint16 {
	var c uint16
	for len(b) >= 4 {
		x := c ^ (uint16(b[0]) | uint16(b[1])<<8)
		c = crcTables[3][byte(x)] ^ crcTables[2][x>>8] ^ crcTables[1][b[2]] ^ crcTables[0][b[3]]
		b = b[4:]
	}
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
