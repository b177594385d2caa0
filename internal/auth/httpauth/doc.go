// Package httpauth is the HTTP glue of internal/auth that needs no pages:
// the session cookie's attributes, middleware that authenticates a request
// by session cookie or bearer token and enforces CSRF on unsafe methods,
// Require wrappers answering 401/403 as JSON error codes, and the per-address
// rate limit of login routes.
//
// It must not render HTML or define routes; the web package mounts it.
package httpauth
