// Package bacnet is otlink's passive BACnet/IP dissector (UDP port 47808):
// BVLC, NPDU (routing and network layer messages) and APDU (confirmed and
// unconfirmed requests, acknowledgements, errors, rejects, aborts, with
// segmentation), object identifiers and property ids of the property
// services, and device identity from I-Am and device object reads.
//
// It registers itself with internal/dissect in init(). It only reads the
// datagrams handed to it by the capture pipeline: it never sends a packet,
// never blocks, and keeps no bytes between datagrams. It labels PDUs with
// an Action and leaves detection to internal/analyze.
package bacnet
