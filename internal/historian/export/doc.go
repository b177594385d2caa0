// Package export writes a time range of historian tags as CSV (long or
// wide layout) or Parquet, with progress reports and a one-line progress
// bar for terminals (otlink history export).
//
// It owns the file layouts and reads only through historian.Reader; it
// must not open files, parse flags or know a backend: the caller gives it
// an io.Writer and says whether that is a terminal.
package export
