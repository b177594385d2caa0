package auth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"strings"
	"time"

	"github.com/otlink/otlink/internal/errcode"
	"github.com/otlink/otlink/internal/integrity"
)

// Outcomes of audited actions.
const (
	OutcomeOK     = "ok"
	OutcomeFailed = "failed" // tried and failed (wrong password, bad input)
	OutcomeDenied = "denied" // refused by policy (locked, forbidden)
)

// Event is one audit record: who did what to which object, with what
// outcome, from where.
type Event struct {
	ID      int64     `json:"id"`
	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"` // dotted: login, logout, user.create, tags.write, alerts.ack, history.export...
	Object  string    `json:"object"` // user/NAME, token/ID, a tag path...
	Outcome string    `json:"outcome"`
	IP      string    `json:"ip,omitempty"`
	Detail  string    `json:"detail,omitempty"`

	// InLog: the sink (the integrity log) has taken the event. Not part of
	// the event's canonical JSON, so DetailHash does not depend on it.
	InLog bool `json:"-"`
}

// DetailHash is the SHA-256 of the event's canonical JSON (all fields, id
// included): the integrity log keeps this hash, auth.db keeps the event, and
// anyone can recompute one from the other.
func (e Event) DetailHash() integrity.Hash {
	e.Time = e.Time.UTC()
	js, _ := json.Marshal(e)
	return integrity.Hash(sha256.Sum256(js))
}

// IntegrityEntry is the event as a leaf of the integrity log.
func (e Event) IntegrityEntry() integrity.Entry {
	return integrity.Entry{Kind: integrity.KindAudit, Time: e.Time, Actor: e.Actor, Action: e.Action, Object: e.Object, Detail: e.DetailHash()}
}

const maxDetail = 4096

// Audit stores an event, then hands it (and any earlier event the sink did
// not take) to the sink. Empty Actor and IP are taken from ctx; a zero Time
// is now. Only a failure to store is returned: a sink failure is logged and
// retried later, the event being safe in auth.db.
func (s *Service) Audit(ctx context.Context, e Event) error {
	if e.Actor == "" {
		e.Actor = actorOf(ctx)
	}
	if e.IP == "" {
		e.IP = ClientIP(ctx)
	}
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	if e.Outcome == "" {
		e.Outcome = OutcomeOK
	}
	if len(e.Detail) > maxDetail {
		e.Detail = e.Detail[:maxDetail]
	}
	if e.Action == "" {
		return errcode.New(errcode.AuthBadInput, "audit event without an action")
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO audit(time, actor, action, object, outcome, ip, detail) VALUES(?,?,?,?,?,?,?)`,
		e.Time.UnixNano(), e.Actor, e.Action, e.Object, e.Outcome, e.IP, e.Detail); err != nil {
		return storeErr(err, "store audit event %s", e.Action)
	}
	if err := s.ResendAudit(ctx); err != nil {
		s.opts.Logger.Warn("audit sink failed; event kept for retry", "code", errcode.AuthAuditSink.String(), "err", err)
	}
	return nil
}

// ResendAudit hands every stored event the sink has not taken to it, in
// order, stopping at the first failure so the integrity log keeps the order
// of auth.db. Open calls it; the application may call it periodically.
func (s *Service) ResendAudit(ctx context.Context) error {
	if s.opts.AuditSink == nil {
		return nil
	}
	s.sinkMu.Lock()
	defer s.sinkMu.Unlock()
	for range 1000 { // batches of 100; the rest waits for the next call
		evs, err := s.queryAudit(ctx, `WHERE sunk = 0 ORDER BY id LIMIT 100`)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			return nil
		}
		for _, e := range evs {
			if err := s.opts.AuditSink(ctx, e); err != nil {
				return errcode.Wrap(errcode.AuthAuditSink, err, "hand audit event %d to the sink", e.ID)
			}
			if _, err := s.db.ExecContext(ctx, `UPDATE audit SET sunk = 1 WHERE id = ?`, e.ID); err != nil {
				return storeErr(err, "mark audit event %d sent", e.ID)
			}
		}
	}
	return nil
}

// AuditFilter selects events; zero fields match everything. Text matches a
// substring of actor, action, object or detail.
type AuditFilter struct {
	Actor   string
	Action  string // exact, or a prefix ending in "." (user.)
	Outcome string
	From    time.Time
	To      time.Time // exclusive
	Text    string
}

// Page asks for Limit events (default 50, at most 1000) older than Before
// (an event id; 0 = newest first).
type Page struct {
	Limit  int
	Before int64
}

// SearchAudit returns matching events, newest first, and the Before value
// of the next page (0 when there is none).
func (s *Service) SearchAudit(ctx context.Context, f AuditFilter, p Page) ([]Event, int64, error) {
	var where []string
	var args []any
	if f.Actor != "" {
		where, args = append(where, "actor = ?"), append(args, f.Actor)
	}
	if strings.HasSuffix(f.Action, ".") {
		where, args = append(where, "substr(action, 1, ?) = ?"), append(args, len(f.Action), f.Action)
	} else if f.Action != "" {
		where, args = append(where, "action = ?"), append(args, f.Action)
	}
	if f.Outcome != "" {
		where, args = append(where, "outcome = ?"), append(args, f.Outcome)
	}
	if !f.From.IsZero() {
		where, args = append(where, "time >= ?"), append(args, f.From.UnixNano())
	}
	if !f.To.IsZero() {
		where, args = append(where, "time < ?"), append(args, f.To.UnixNano())
	}
	if f.Text != "" {
		like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(f.Text) + "%"
		where = append(where, `(actor LIKE ? ESCAPE '\' OR action LIKE ? ESCAPE '\' OR object LIKE ? ESCAPE '\' OR detail LIKE ? ESCAPE '\')`)
		args = append(args, like, like, like, like)
	}
	if p.Before > 0 {
		where, args = append(where, "id < ?"), append(args, p.Before)
	}
	if p.Limit <= 0 {
		p.Limit = 50
	}
	p.Limit = min(p.Limit, 1000)
	q := ""
	if len(where) > 0 {
		q = "WHERE " + strings.Join(where, " AND ")
	}
	evs, err := s.queryAudit(ctx, q+" ORDER BY id DESC LIMIT ?", append(args, p.Limit+1)...)
	if err != nil {
		return nil, 0, err
	}
	var next int64
	if len(evs) > p.Limit {
		evs = evs[:p.Limit]
		next = evs[len(evs)-1].ID
	}
	return evs, next, nil
}

func (s *Service) queryAudit(ctx context.Context, tail string, args ...any) ([]Event, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, time, actor, action, object, outcome, ip, detail, sunk FROM audit `+tail, args...)
	if err != nil {
		return nil, storeErr(err, "query audit events")
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var t int64
		if err := rows.Scan(&e.ID, &t, &e.Actor, &e.Action, &e.Object, &e.Outcome, &e.IP, &e.Detail, &e.InLog); err != nil {
			return nil, storeErr(err, "read audit event")
		}
		e.Time = time.Unix(0, t).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}
