package server

import (
	"encoding/json"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// AuditRecord is one line of the audit stream: one authentication
// decision. It never holds a password, a token or a key.
type AuditRecord struct {
	Time      string `json:"time"`
	RequestID string `json:"request_id"`
	// Endpoint is api, proxy or gateway.
	Endpoint string `json:"endpoint"`
	// Peer is the TCP peer; Client the client address believed (from
	// X-Forwarded-For when the peer is a trusted proxy).
	Peer   string `json:"peer"`
	Client string `json:"client,omitempty"`
	// Principal is the authenticated name on acceptance, and the name the
	// token claimed on rejection (unverified).
	Principal string `json:"principal,omitempty"`
	Method    string `json:"method,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	// Outcome is accepted, rejected, locked, throttled or error (the
	// vocabulary of the metrics, server/series.go).
	Outcome string `json:"outcome"`
	Fault   string `json:"fault,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Module  string `json:"module,omitempty"`
	// URI is the original request's method and URI (gateway and proxy).
	URI string `json:"uri,omitempty"`
}

// auditLog writes JSON lines, one Write per record.
type auditLog struct {
	mu     sync.Mutex
	w      io.Writer
	failed atomic.Bool
}

func (a *auditLog) write(r *AuditRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	a.mu.Lock()
	_, err = a.w.Write(b)
	a.mu.Unlock()
	return err
}

func auditTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
