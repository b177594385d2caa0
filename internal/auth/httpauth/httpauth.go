package httpauth

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/otlink/otlink/internal/auth"
	"github.com/otlink/otlink/internal/errcode"
)

// CookieName carries the __Host- prefix: browsers accept it only with
// Secure, Path=/ and no Domain, so a sibling host cannot plant or read it.
const CookieName = "__Host-otlink_session"

// CSRFHeader carries the session's CSRF token on API calls made by pages;
// forms send it as CSRFField.
const (
	CSRFHeader = "X-CSRF-Token"
	CSRFField  = "csrf_token"
)

// SessionCookie returns the cookie carrying a session secret. It lives as
// long as the browser runs; the server enforces the timeouts.
func SessionCookie(secret string) *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: secret, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode}
}

// ClearCookie returns a cookie that deletes the session cookie.
func ClearCookie() *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: "", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
		MaxAge: -1, Expires: time.Unix(0, 0)}
}

// SessionSecret returns the session cookie's value of r, or "".
func SessionSecret(r *http.Request) string {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return ""
	}
	return c.Value
}

// ClientIP is the request's remote address without the port. Forwarded
// headers are not trusted: otlink terminates TLS itself.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Status maps an auth error code to its HTTP status.
func Status(err error) int {
	switch errcode.Of(err) {
	case errcode.AuthUnauthenticated, errcode.AuthSessionInvalid, errcode.AuthTokenInvalid, errcode.AuthBadCredentials:
		return http.StatusUnauthorized
	case errcode.AuthForbidden, errcode.AuthCSRF, errcode.AuthStepUpRequired, errcode.AuthLocked:
		return http.StatusForbidden
	case errcode.AuthRateLimited:
		return http.StatusTooManyRequests
	case errcode.AuthBadInput, errcode.AuthWeakPassword, errcode.AuthBadRole, errcode.AuthMFAInvalid, errcode.AuthWebAuthn, errcode.AuthMFANotEnrolled:
		return http.StatusBadRequest
	case errcode.AuthUserExists:
		return http.StatusConflict
	case errcode.AuthUserNotFound:
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

// WriteError writes {"code":"OTL-nnnn","message":...,"hint":...} with the
// status of its code.
func WriteError(w http.ResponseWriter, err error) {
	code := errcode.Of(err)
	if code == 0 {
		code = errcode.Internal
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if Status(err) == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="otlink"`)
	}
	w.WriteHeader(Status(err))
	json.NewEncoder(w).Encode(map[string]string{"code": code.String(), "message": err.Error(), "hint": errcode.Hint(err)})
}

// Middleware authenticates requests and stores the principal in the
// request's context (auth.PrincipalFrom); requests without credentials pass
// on without a principal, for Require to refuse or public routes to serve.
// A bearer token wins over a cookie. Wrong credentials are refused at once
// (401), so a client learns its token is bad. For cookie sessions, unsafe
// methods must carry the CSRF token; bearer requests need none, since a
// browser never adds that header by itself.
type Middleware struct {
	Svc *auth.Service
}

// Wrap returns the authenticating handler.
func (m Middleware) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := auth.WithClientIP(r.Context(), ClientIP(r))
		if h := r.Header.Get("Authorization"); h != "" {
			bearer, ok := strings.CutPrefix(h, "Bearer ")
			if !ok {
				WriteError(w, errcode.New(errcode.AuthTokenInvalid, "authorization header is not a bearer token"))
				return
			}
			p, err := m.Svc.AuthenticateToken(ctx, strings.TrimSpace(bearer))
			if err != nil {
				WriteError(w, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(ctx, p)))
			return
		}
		if secret := SessionSecret(r); secret != "" {
			p, err := m.Svc.Authenticate(ctx, secret)
			if err == nil {
				if unsafeMethod(r.Method) {
					if err := auth.CheckCSRF(p.Session, csrfToken(r)); err != nil {
						WriteError(w, err)
						return
					}
				}
				next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(ctx, p)))
				return
			}
			// A dead or half-finished session: carry on anonymously, so the
			// login pages still work; Require refuses the rest.
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func unsafeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}

// csrfToken reads the header, or for forms the field. Only urlencoded and
// multipart bodies are parsed, with the server's usual size limits.
func csrfToken(r *http.Request) string {
	if t := r.Header.Get(CSRFHeader); t != "" {
		return t
	}
	ct := r.Header.Get("Content-Type")
	if strings.HasPrefix(ct, "application/x-www-form-urlencoded") || strings.HasPrefix(ct, "multipart/form-data") {
		return r.PostFormValue(CSRFField)
	}
	return ""
}

// CheckCSRF checks the CSRF token of a request against a session; login
// pages use it with the anonymous session before the middleware can.
func CheckCSRF(r *http.Request, sess *auth.Session) error { return auth.CheckCSRF(sess, csrfToken(r)) }

// Require refuses requests whose principal lacks perm plant-wide: 401
// without a principal, 403 without the permission. For objects in the
// plant hierarchy use RequireAt.
func Require(perm string, next http.Handler) http.Handler {
	return RequireAt(perm, func(*http.Request) string { return "" }, next)
}

// RequireAt refuses requests whose principal may not do perm on the object
// at the path that pathOf finds in the request.
func RequireAt(perm string, pathOf func(*http.Request) string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := auth.PrincipalFrom(r.Context())
		if p == nil {
			WriteError(w, errcode.New(errcode.AuthUnauthenticated, "log in or send a bearer token"))
			return
		}
		path := pathOf(r)
		if !auth.Allowed(p, perm, path) {
			where := path
			if where == "" {
				where = "the plant"
			}
			WriteError(w, errcode.New(errcode.AuthForbidden, "%s may not %s on %s", p.Name, perm, where))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// RequireFresh refuses cookie sessions whose last strong authentication is
// older than within (403 AuthStepUpRequired), and token requests outright:
// a token cannot re-authenticate.
func RequireFresh(svc *auth.Service, within time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := auth.PrincipalFrom(r.Context())
		if p == nil {
			WriteError(w, errcode.New(errcode.AuthUnauthenticated, "log in first"))
			return
		}
		if err := svc.RequireFresh(p.Session, within); err != nil {
			WriteError(w, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// RateLimitLogin answers 429 when the client address has used up its
// login attempts; wrap the login and second-factor routes with it. It only
// looks at the bucket: Login and the second-factor steps take the token, so
// an attempt costs one token, not two.
func RateLimitLogin(svc *auth.Service, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && !svc.LoginRateOK(ClientIP(r)) {
			w.Header().Set("Retry-After", "60")
			WriteError(w, errcode.New(errcode.AuthRateLimited, "too many login attempts from %s, wait a minute", ClientIP(r)))
			return
		}
		next.ServeHTTP(w, r)
	})
}
