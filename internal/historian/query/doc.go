// Package query is the historian's query layer, shared by every backend:
// raw ranges with paging, values at a time, Part 13 aggregates over fixed
// intervals, plot decimation and latest values, with request and response
// types that the REST API (/api/v1/history/...) and the CLI (otlink
// history ...) expose unchanged as JSON.
//
// It owns request validation (coded errors, errcode 52xx), time parsing
// ("now-1h", RFC 3339, Unix seconds or milliseconds), tag pattern
// expansion and the glue between a historian.Reader and the arithmetic of
// package agg. It reads only through historian.Reader and must not know
// about chunks, Pebble or SQL, nor do HTTP or flag parsing.
package query
