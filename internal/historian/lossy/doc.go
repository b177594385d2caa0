// Package lossy holds the optional, per-tag lossy compression filters of
// plant historians: the exception test (ExcDev, ExcMin, ExcMax) and
// swinging-door compression (CompDev, CompMin, CompMax).
//
// It owns the Settings that are stored beside a tag and the stateful
// Filter that decides, sample by sample, which samples are kept. It does
// no I/O and must not know about the store, the bus or queries: the
// ingest path runs one Filter per tag before Writer.Write, and the query
// layer shows the Settings next to aggregates of such tags.
//
// # Guarantees
//
// With ExcMin and CompMin zero:
//   - exception: every offered good sample that is not kept lies within
//     ExcDev of the last kept sample before it (stepped reconstruction);
//   - swinging door: every offered good sample lies within CompDev of the
//     straight line between the kept samples around it (linear
//     reconstruction). Exception runs first; read back linearly, its
//     output is within 2·ExcDev of the input (a kept sample and the held
//     one reported before an exception may lie on either side), so with
//     both on the error is at most 2·ExcDev + CompDev.
//
// Bad samples, quality changes and values that cannot be compared
// numerically (strings, NaN) always pass, and the sample before them too,
// so the shape of the signal around an outage is kept.
package lossy
