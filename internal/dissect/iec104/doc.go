// Package iec104 is otlink's passive IEC 60870-5-104 dissector (TCP port
// 2404): APCI framing (I, S and U frames) and ASDUs (type id, variable
// structure qualifier, cause of transmission, common address, information
// objects with their values for the common types).
//
// It registers itself with internal/dissect in init(). It only reads bytes
// handed to it by the capture pipeline: it never sends a packet, never
// blocks, and keeps a bounded number of bytes per flow whatever the input.
// It labels PDUs with an Action and leaves detection to internal/analyze.
package iec104
