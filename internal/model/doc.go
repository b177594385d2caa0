// Package model holds otlink's data model: the plant hierarchy, tag data
// types, typed values, OPC UA compatible qualities, samples and batches.
//
// It owns only plain values and their encodings; it does no I/O and imports
// nothing of otlink's, so every other package can depend on it.
package model
