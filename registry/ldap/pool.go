package ldap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/authsvc/authsvc/health"
)

// conn is a pooled connection.
type conn struct {
	*goldap.Conn
	server   *server
	lastUsed time.Time
}

// pool is a bounded set of connections for one purpose: searches under the
// service account, or users' binds.
type pool struct {
	r       *Registry
	service bool // bind as the service account after connecting
	slots   chan struct{}

	mu     sync.Mutex
	idle   []*conn
	closed bool
}

func newPool(r *Registry, service bool, size int) *pool {
	return &pool{r: r, service: service, slots: make(chan struct{}, size)}
}

var errClosed = errors.New("ldap: registry is closed")

// get returns a healthy connection; the caller gives it back with put.
func (p *pool) get(ctx context.Context) (*conn, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("ldap: waiting for a connection: %w", ctx.Err())
	}
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			<-p.slots
			return nil, errClosed
		}
		var c *conn
		if n := len(p.idle); n > 0 {
			c, p.idle = p.idle[n-1], p.idle[:n-1]
		}
		p.mu.Unlock()
		if c == nil {
			break
		}
		if c.IsClosing() {
			c.Close()
			continue
		}
		if time.Since(c.lastUsed) > p.r.cfg.HealthCheckInterval {
			if err := p.r.ping(ctx, c); err != nil {
				p.r.log.Debug("ldap: dropping a pooled connection that failed its health check", "server", c.server.url, "err", err)
				c.Close()
				continue
			}
		}
		return c, nil
	}
	c, err := p.r.dial(ctx, p.service)
	if err != nil {
		<-p.slots
		return nil, err
	}
	return c, nil
}

// put gives a connection back, or closes it when the operation on it
// failed for a reason that may have left it unusable.
func (p *pool) put(c *conn, err error) {
	defer func() { <-p.slots }()
	if err != nil && brokenConn(err) || c.IsClosing() {
		c.Close()
		return
	}
	c.lastUsed = time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return
	}
	p.idle = append(p.idle, c)
}

func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, c := range p.idle {
		c.Close()
	}
	p.idle = nil
}

// brokenConn reports whether an error leaves a connection in doubt: a
// transport failure, a timeout, or a server that is going away.
func brokenConn(err error) bool {
	var le *goldap.Error
	if !errors.As(err, &le) {
		return true
	}
	switch le.ResultCode {
	case goldap.ErrorNetwork, goldap.ErrorUnexpectedMessage, goldap.ErrorUnexpectedResponse,
		goldap.LDAPResultBusy, goldap.LDAPResultUnavailable, goldap.LDAPResultServerDown,
		goldap.LDAPResultTimeout, goldap.LDAPResultConnectError, goldap.LDAPResultOther:
		return true
	}
	return false
}

// with runs fn on a connection from p. When fn fails because the connection
// broke (a server restarted since the connection was pooled), it tries once
// more on another connection, which may be a new one to another server.
func (r *Registry) with(ctx context.Context, p *pool, fn func(*conn) error) error {
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		var c *conn
		c, err = p.get(ctx)
		if err != nil {
			return err
		}
		err = r.run(ctx, c, fn)
		p.put(c, err)
		if err == nil || !brokenConn(err) || ctx.Err() != nil {
			break
		}
		r.log.Debug("ldap: operation failed on a broken connection; retrying", "server", c.server.url, "err", err)
	}
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("ldap: %w", errors.Join(ctx.Err(), health.ErrUnavailable))
	}
	return err
}

// run calls fn with the request timeout bounded by ctx's deadline; a
// cancelled ctx closes the connection, which ends the operation.
func (r *Registry) run(ctx context.Context, c *conn, fn func(*conn) error) error {
	timeout := r.cfg.RequestTimeout
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < timeout {
			timeout = max(left, time.Millisecond)
		}
	}
	c.SetTimeout(timeout)
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	return fn(c)
}

// ping reads the root DSE, which every LDAP server answers.
func (r *Registry) ping(ctx context.Context, c *conn) error {
	return r.run(ctx, c, func(c *conn) error {
		_, err := c.Search(goldap.NewSearchRequest("", goldap.ScopeBaseObject, goldap.NeverDerefAliases,
			1, int(r.cfg.RequestTimeout/time.Second), false, "(objectClass=*)", []string{"1.1"}, nil))
		return err
	})
}

// dial connects to the first server that answers, trying those that failed
// recently last.
func (r *Registry) dial(ctx context.Context, service bool) (*conn, error) {
	now := time.Now()
	r.mu.Lock()
	order := make([]*server, 0, len(r.servers))
	var later []*server
	for _, s := range r.servers {
		if now.Before(r.downUntil[s]) {
			later = append(later, s)
		} else {
			order = append(order, s)
		}
	}
	r.mu.Unlock()
	order = append(order, later...)

	var errs []error
	for _, s := range order {
		c, err := r.dialServer(ctx, s, service)
		if err == nil {
			r.mu.Lock()
			wasDown := !r.downUntil[s].IsZero()
			delete(r.downUntil, s)
			r.mu.Unlock()
			if wasDown {
				r.log.Info("ldap: directory server is answering again", "server", s.url)
			}
			return c, nil
		}
		r.mu.Lock()
		r.downUntil[s] = time.Now().Add(r.cfg.FailoverBackoff)
		r.mu.Unlock()
		r.log.Warn("ldap: directory server failed", "server", s.url, "err", err)
		errs = append(errs, fmt.Errorf("%s: %w", s.url, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("ldap: no directory server answered: %w", errors.Join(append([]error{health.ErrUnavailable}, errs...)...))
}

func (r *Registry) dialServer(ctx context.Context, s *server, service bool) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.DialTimeout)
	defer cancel()
	d := net.Dialer{}
	raw, err := d.DialContext(ctx, "tcp", s.hostport)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		// Bounds StartTLS and the service bind, which go-ldap does not
		// time out on its own; cleared once the connection is ready.
		_ = raw.SetDeadline(dl)
	}
	nc := raw
	if s.scheme == "ldaps" {
		tc := tls.Client(raw, s.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		nc = tc
	}
	lc := goldap.NewConn(nc, s.scheme == "ldaps")
	lc.Start()
	c := &conn{Conn: lc, server: s}
	err = r.run(ctx, c, func(c *conn) error {
		if s.scheme == "ldap" && s.tls != nil {
			if err := c.StartTLS(s.tls); err != nil {
				return fmt.Errorf("StartTLS: %w", err)
			}
		}
		if service && r.cfg.BindDN != "" {
			if err := c.Bind(r.cfg.BindDN, r.cfg.BindPassword); err != nil {
				return fmt.Errorf("service account bind as %s: %w", r.cfg.BindDN, err)
			}
		}
		return nil
	})
	if err != nil {
		lc.Close()
		return nil, err
	}
	_ = raw.SetDeadline(time.Time{})
	c.lastUsed = time.Now()
	return c, nil
}
