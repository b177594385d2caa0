package bacnet

import (
	"encoding/hex"
	"testing"
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// seeds are datagrams from the public captures: a ReinitializeDevice and
// its Error, a Who-Is, an I-Am, a ReadProperty of the device vendor name.
var seeds = [][]byte{
	mustHex("810a001101040005011409061d0b0044656c63617474793730"),
	mustHex("810a001101045001149105911a"),
	mustHex("810b000c0120ffff00ff1008"),
	mustHex("810b00190120ffff00ff1000c4020003e82205c49103220104"),
	mustHex("810a001301040005010c0c020003e8197920"),
}

func checkBounded(t *testing.T, p interface{}) {}
