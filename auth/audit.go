package auth

import (
	"context"
	"log/slog"
	"time"
)

// AuditEvent records one access decision.
type AuditEvent struct {
	Time time.Time
	// Who: the token's subject, client, fhirUser and patient context.
	Subject  string
	ClientID string
	FHIRUser string
	Patient  string
	TokenID  string
	// What: the interaction and its target. Type is empty for system-level
	// interactions; ID for type-level ones.
	Interaction Interaction
	Type        string
	ID          string
	// Operation names the operation ($export, …) for InteractionOperation.
	Operation string
	// Allowed is the decision; Reason says why.
	Allowed bool
	Reason  string
	// RequestID ties the event to the access log.
	RequestID string
}

// NewAuditEvent fills the who of an event from g and the decision from a.
func NewAuditEvent(t time.Time, g *Grant, in Interaction, typ, id string, a Access) AuditEvent {
	e := AuditEvent{Time: t, Interaction: in, Type: typ, ID: id, Allowed: a.Allowed, Reason: a.Reason}
	if g != nil {
		e.Subject, e.ClientID, e.FHIRUser, e.TokenID = g.Subject, g.ClientID, g.FHIRUser, g.TokenID
		e.Patient, _ = g.PatientContext()
	}
	return e
}

// AuditLogger receives every access decision.
type AuditLogger interface {
	Audit(ctx context.Context, e AuditEvent)
}

// SlogAudit writes audit events to a slog.Logger, one record each, at Info
// for allowed and Warn for denied access.
type SlogAudit struct {
	Logger *slog.Logger
}

// Audit implements AuditLogger.
func (a SlogAudit) Audit(ctx context.Context, e AuditEvent) {
	l := a.Logger
	if l == nil {
		l = slog.Default()
	}
	level, msg := slog.LevelInfo, "access allowed"
	if !e.Allowed {
		level, msg = slog.LevelWarn, "access denied"
	}
	attrs := []slog.Attr{
		slog.Bool("audit", true),
		slog.String("sub", e.Subject),
		slog.String("client_id", e.ClientID),
		slog.String("interaction", string(e.Interaction)),
		slog.Bool("allowed", e.Allowed),
		slog.String("reason", e.Reason),
	}
	for _, kv := range []struct{ k, v string }{
		{"fhir_user", e.FHIRUser}, {"patient", e.Patient}, {"jti", e.TokenID},
		{"type", e.Type}, {"id", e.ID}, {"operation", e.Operation}, {"request_id", e.RequestID},
	} {
		if kv.v != "" {
			attrs = append(attrs, slog.String(kv.k, kv.v))
		}
	}
	if !l.Enabled(ctx, level) {
		return
	}
	t := e.Time
	if t.IsZero() {
		t = now(nil)
	}
	r := slog.NewRecord(t, level, msg, 0)
	r.AddAttrs(attrs...)
	_ = l.Handler().Handle(ctx, r)
}

// AuditFunc adapts a function to AuditLogger (tests, fan-out).
type AuditFunc func(ctx context.Context, e AuditEvent)

// Audit implements AuditLogger.
func (f AuditFunc) Audit(ctx context.Context, e AuditEvent) { f(ctx, e) }
