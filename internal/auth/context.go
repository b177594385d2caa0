package auth

import (
	"context"
	"strconv"
)

type ctxKey int

const (
	principalKey ctxKey = iota
	actorKey
	ipKey
)

// WithPrincipal returns ctx carrying p; audit events recorded under ctx name
// p as their actor.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey, p)
}

// PrincipalFrom returns the principal of ctx, or nil.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey).(*Principal)
	return p
}

// WithActor names the actor of audit events for work done without a
// principal, such as the CLI ("cli") or the application itself.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey, actor)
}

// ActorFrom returns the actor set by WithActor, if any.
func ActorFrom(ctx context.Context) (string, bool) {
	a, ok := ctx.Value(actorKey).(string)
	return a, ok && a != ""
}

// WithClientIP records the client's address for audit events and rate
// limits.
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, ipKey, ip)
}

// ClientIP returns the address recorded by WithClientIP, or "".
func ClientIP(ctx context.Context) string {
	ip, _ := ctx.Value(ipKey).(string)
	return ip
}

// actorOf names who acts under ctx: the principal (with its token), the
// explicit actor, or "system".
func actorOf(ctx context.Context) string {
	if p := PrincipalFrom(ctx); p != nil {
		if p.TokenID != 0 {
			return p.Name + "/token:" + strconv.FormatInt(p.TokenID, 10)
		}
		return p.Name
	}
	if a, ok := ctx.Value(actorKey).(string); ok && a != "" {
		return a
	}
	return "system"
}
