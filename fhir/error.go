package fhir

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies an Error by what went wrong for the client. The server maps
// each Kind to exactly one HTTP status in one table; nothing below the server
// knows HTTP.
type Kind int

const (
	KindInternal           Kind = iota // a fault of ours; details are logged, not shown
	KindInvalid                        // the request or resource is malformed or breaks a rule
	KindNotFound                       // no such resource, type or route
	KindGone                           // the resource was deleted
	KindConflict                       // the request conflicts with the current state
	KindPreconditionFailed             // If-Match/If-None-Exist style preconditions failed
	KindUnprocessable                  // well-formed but semantically unacceptable (FHIR uses 422)
	KindTooLarge                       // body over the configured limit
	KindUnsupportedMedia               // Content-Type we cannot read
	KindNotAcceptable                  // Accept we cannot produce
	KindUnauthorized                   // no or invalid credentials
	KindForbidden                      // credentials that do not allow this
	KindMethodNotAllowed               // interaction not supported on this path
	KindTooManyRequests                // throttled; retry later
	KindUnavailable                    // temporarily unable to serve
	KindNotModified                    // conditional read matched the client's copy
)

// IssueType is an OperationOutcome.issue.code (http://hl7.org/fhir/issue-type).
type IssueType string

const (
	IssueInvalid         IssueType = "invalid"
	IssueStructure       IssueType = "structure"
	IssueRequired        IssueType = "required"
	IssueValue           IssueType = "value"
	IssueInvariant       IssueType = "invariant"
	IssueSecurity        IssueType = "security"
	IssueLogin           IssueType = "login"
	IssueForbidden       IssueType = "forbidden"
	IssueProcessing      IssueType = "processing"
	IssueNotSupported    IssueType = "not-supported"
	IssueDuplicate       IssueType = "duplicate"
	IssueMultipleMatches IssueType = "multiple-matches"
	IssueNotFound        IssueType = "not-found"
	IssueDeleted         IssueType = "deleted"
	IssueTooLong         IssueType = "too-long"
	IssueCodeInvalid     IssueType = "code-invalid"
	IssueConflict        IssueType = "conflict"
	IssueTooCostly       IssueType = "too-costly"
	IssueBusinessRule    IssueType = "business-rule"
	IssueException       IssueType = "exception"
	IssueThrottled       IssueType = "throttled"
	IssueTransient       IssueType = "transient"
	IssueInformational   IssueType = "informational"
)

// Severity is an OperationOutcome.issue.severity.
type Severity string

const (
	SeverityFatal       Severity = "fatal"
	SeverityError       Severity = "error"
	SeverityWarning     Severity = "warning"
	SeverityInformation Severity = "information"
)

// Issue is one OperationOutcome.issue. MsgID is a stable identifier of the
// message (e.g. "IMM-VAL-003") so that clients and operators can search for
// it whatever the wording.
type Issue struct {
	Severity    Severity
	Code        IssueType
	MsgID       string
	Diagnostics string
	Expression  []string
}

// Error is the one error type that crosses package boundaries towards the
// client: a Kind (which the server maps to a status) and the issues to put in
// the OperationOutcome. Cause keeps the underlying error for the log only.
type Error struct {
	Kind   Kind
	Issues []Issue
	Cause  error
	// Header carries response headers the error implies (Retry-After,
	// WWW-Authenticate); the server copies them verbatim.
	Header map[string]string
}

func (e *Error) Error() string {
	var b strings.Builder
	for i, is := range e.Issues {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(is.Diagnostics)
		if len(is.Expression) > 0 {
			b.WriteString(" (at ")
			b.WriteString(strings.Join(is.Expression, ", "))
			b.WriteString(")")
		}
	}
	if e.Cause != nil {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(e.Cause.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Cause }

// WithHeader returns e with a response header attached.
func (e *Error) WithHeader(k, v string) *Error {
	if e.Header == nil {
		e.Header = map[string]string{}
	}
	e.Header[k] = v
	return e
}

// Errorf builds an Error of one issue with severity error.
func Errorf(kind Kind, code IssueType, msgID string, format string, args ...any) *Error {
	return &Error{Kind: kind, Issues: []Issue{{
		Severity: SeverityError, Code: code, MsgID: msgID, Diagnostics: fmt.Sprintf(format, args...),
	}}}
}

// At returns e with the expression of its first issue set (the FHIRPath of
// the element at fault).
func (e *Error) At(expr ...string) *Error {
	if len(e.Issues) > 0 {
		e.Issues[0].Expression = append(e.Issues[0].Expression, expr...)
	}
	return e
}

// Invalid is shorthand for a 400 with issue code "invalid" at an expression.
func Invalid(msgID, expr, format string, args ...any) *Error {
	e := Errorf(KindInvalid, IssueInvalid, msgID, format, args...)
	if expr != "" {
		e.Issues[0].Expression = []string{expr}
	}
	return e
}

// NotFound reports a missing resource or route.
func NotFound(format string, args ...any) *Error {
	return Errorf(KindNotFound, IssueNotFound, "IMM-NF-001", format, args...)
}

// Internal wraps an unexpected failure: the client sees a generic message,
// the log sees the cause.
func Internal(cause error) *Error {
	return &Error{Kind: KindInternal, Cause: cause, Issues: []Issue{{
		Severity: SeverityError, Code: IssueException, MsgID: "IMM-INT-001",
		Diagnostics: "internal server error",
	}}}
}

// AsError returns err as an *Error, wrapping anything else as internal.
func AsError(err error) *Error {
	var fe *Error
	if errors.As(err, &fe) {
		return fe
	}
	return Internal(err)
}

// IsKind reports whether err is an *Error of kind k.
func IsKind(err error, k Kind) bool {
	var fe *Error
	return errors.As(err, &fe) && fe.Kind == k
}
