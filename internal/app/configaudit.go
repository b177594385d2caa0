package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/otlink/otlink/internal/auth"
	"github.com/otlink/otlink/internal/errcode"
)

// AuditConfigChange records a configuration change (a reload, applied or
// refused) in the audit trail and so in the integrity log. The detail
// carries the SHA-256 of the file as read, so that an investigator can
// tell which version of the config was running from when, and the error
// code of a refused one. The actor is the local operator who sent the
// signal: a reload is not an HTTP request and has no signed-in user.
func (a *App) AuditConfigChange(ctx context.Context, file string, err error) {
	if a == nil || a.auth == nil {
		return
	}
	e := auth.Event{Action: "config.reload", Object: "config/" + file, Outcome: auth.OutcomeOK}
	if data, rerr := os.ReadFile(file); rerr == nil {
		sum := sha256.Sum256(data)
		e.Detail = "sha256=" + hex.EncodeToString(sum[:])
	}
	if err != nil {
		e.Outcome = auth.OutcomeFailed
		e.Detail = fmt.Sprintf("%s refused: %s %v", e.Detail, errcode.Of(err), err)
	}
	if aerr := a.auth.Audit(auth.WithActor(ctx, "local operator (SIGHUP)"), e); aerr != nil {
		a.log.Error("config change not audited", "code", errcode.Of(aerr).String(), "err", aerr)
	}
}
