// Package web is otlink's HTTP server: health, Prometheus metrics and the
// JSON API under /api/v1.
//
// It never imports a driver or the acquisition engine: it declares the small
// Source interface it needs, and the app wires an adapter. Until
// authentication lands the server refuses to listen on anything but
// loopback.
package web
