// Package web is otlink's HTTP server: health, Prometheus metrics, the JSON
// API under /api/v1 (described by the embedded openapi.json), live tag
// values as Server-Sent Events, and the server-rendered login, setup, home
// and machine pages.
//
// Every route is declared once, with the permission it needs, in the list
// allRoutes returns (routes.go); New registers exactly that list and the
// route test walks it, so no route escapes authentication. Authentication,
// sessions, CSRF and rate limits come from internal/auth and its httpauth
// glue. The server serves HTTPS with the TLS settings it is given, and
// plain HTTP only on loopback.
//
// It never imports a driver or the acquisition engine: it declares the small
// Source interface it needs, and the app wires an adapter.
package web
