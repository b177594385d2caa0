// Package historiantest is the conformance suite of historian.Store: the
// behaviour every backend must show, written once and run by each
// backend's tests (Run(t, open)).
//
// It owns only tests of the contract in package historian; it must not
// rely on anything a backend adds (layouts, options, error codes), and it
// asserts no timings.
package historiantest
