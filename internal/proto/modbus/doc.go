// Package modbus is the Modbus wire codec: PDUs of the functions otlink
// speaks, exception replies, MBAP (Modbus TCP) and RTU framing. It owns the
// bytes only; it must do no I/O, keep no state and never panic on input.
// The driver (internal/driver/modbus), the simulator's server and the passive
// dissector all share it.
//
// API summary (stable):
//
//	Function codes   FuncReadCoils(1) FuncReadDiscreteInputs(2) FuncReadHoldingRegisters(3)
//	                 FuncReadInputRegisters(4) FuncWriteSingleCoil(5) FuncWriteSingleRegister(6)
//	                 FuncWriteMultipleCoils(15) FuncWriteMultipleRegisters(16)
//	                 FuncReportServerID(17) (Response.ServerID)
//	                 FuncEncapsulatedInterface(43) with MEIReadDeviceID(14)
//	Limits           MaxReadBits 2000, MaxReadRegisters 125, MaxWriteBits 1968,
//	                 MaxWriteRegisters 123, MaxPDU 253
//	Exceptions       ExceptionCode (01..0B) with String(); *Exception is an error
//
//	Decoding (into caller-owned structs; slices alias the input):
//	  var q Request;  err := q.Decode(pdu)                 any request PDU
//	  var r Response; err := r.Decode(pdu)                 any response PDU (all are self-describing)
//	                  err := r.DecodeFor(&q, pdu)          and check it answers q (function, echo, sizes)
//	  r.IsException(), r.Err(), r.Data (register bytes or packed bits), r.Register(i), r.Bit(i)
//	  r.Objects() iterates device identification objects (id, value)
//	  ExceptionFor(err) gives the exception a server should answer to a request Decode error
//
//	Encoding (append to dst, return the extended slice; no allocation when dst has room):
//	  AppendReadRequest(dst, fc, addr, qty)        AppendWriteSingleCoil(dst, addr, on)
//	  AppendWriteSingleRegister(dst, addr, v)      AppendWriteMultipleCoils(dst, addr, qty, packed)
//	  AppendWriteMultipleRegisters(dst, addr, regs) AppendReadDeviceIDRequest(dst, code, objectID)
//	  q.Append(dst)                                 re-encodes a decoded Request
//	  AppendReadResponse(dst, fc, data)             AppendWriteResponse(dst, fc, addr, v)
//	  AppendExceptionResponse(dst, fc, code)        AppendReadDeviceIDResponse(dst, code, conformity, more, next, objs)
//
//	Modbus TCP:  AppendMBAP(dst, tid, unit, pduLen); ParseADU(b) (ADU, n, err):
//	             n is the length of the frame at the head of b; n > len(b) means read more.
//	RTU:         CRC16(b); AppendCRC(frame); DecodeRTU(frame) (addr, pdu, err);
//	             RTURequestLen(b), RTUResponseLen(b) (n, err) with the same "n > len(b): read more" rule.
//
// Decoding errors are the sentinel values ErrTruncated, ErrUnknownFunction,
// ErrBadQuantity, ErrBadLength, ErrBadCRC, ErrBadHeader and (from DecodeFor)
// ErrMismatch, returned
// unwrapped so that rejecting garbage does not allocate either (a dissector
// sees a lot of it).
package modbus
