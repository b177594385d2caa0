// Package bench measures otlink's parts end to end, in one process, and
// reports figures with a baseline measured in the same run (for the
// acquisition engine: the naive one-request-per-tag count and the optimum).
//
// It owns no behaviour of the parts it measures; it wires them the way
// `otlink run` does, with simulated devices in place of real ones.
package bench
