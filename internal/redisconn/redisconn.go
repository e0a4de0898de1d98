// Package redisconn is the connection half of authsvc's Redis clients (the
// replay cache, the brute-force store, the security-context store): the
// topology, credentials, TLS, timeouts and pool settings every one of them
// takes, their validation, and the go-redis client built from them. Each
// store keeps its own YAML fields (so that its configuration reads as one
// block) and hands them here as a Conn.
package redisconn

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/authsvc/authsvc/internal/tlsconf"
)

// Defaults for a Conn's zero timeouts.
const (
	DefaultDialTimeout = time.Second
	DefaultTimeout     = 500 * time.Millisecond
)

// Conn is how to reach and authenticate to Redis. The topology follows from
// the fields: MasterName set means Sentinel (Addrs are the sentinels),
// Cluster means Redis Cluster (Addrs are seed nodes), otherwise Addrs is
// one standalone server.
type Conn struct {
	Addrs            []string
	MasterName       string
	Cluster          bool
	Username         string
	Password         string
	PasswordFile     string
	SentinelUsername string
	SentinelPassword string
	DB               int
	TLS              TLS
	DialTimeout      time.Duration
	Timeout          time.Duration
	PoolSize         int
	MinIdleConns     int
	// Ack is the replicas_ack setting (see Ack and AckPolicy).
	Ack Ack
}

// Ack is how many replicas must have a write before it counts (YAML
// replicas_ack: {replicas: N, timeout: 100ms}): every write that records
// something (a nonce, a failure, a security context) is followed on the
// same connection by WAIT replicas timeout, and a write that fewer
// replicas acknowledged in time is an error (the caller fails closed).
//
// Replicas 0 is the default: 1 with Sentinel or Cluster, none with a
// standalone server; -1 turns acknowledgement off. Timeout 0 is
// DefaultAckTimeout.
type Ack struct {
	// Replicas is how many replicas must acknowledge a write (-1: off).
	Replicas int `yaml:"replicas"`
	// Timeout is how long a write waits for them (default 100ms).
	Timeout time.Duration `yaml:"timeout"`
}

// DefaultAckTimeout is how long a write waits for its replicas unless
// replicas_ack.timeout says otherwise: on a LAN a replica acknowledges in
// about a millisecond; the wait ends as soon as enough have.
const DefaultAckTimeout = 100 * time.Millisecond

// AckPolicy returns the replicas a write must reach (0: no WAIT) and how
// long it waits for them, defaulted (see Ack).
func (c *Conn) AckPolicy() (replicas int, timeout time.Duration) {
	replicas, timeout = c.Ack.Replicas, c.Ack.Timeout
	switch {
	case replicas < 0:
		return 0, 0
	case replicas == 0 && (c.MasterName != "" || c.Cluster):
		replicas = 1
	case replicas == 0:
		return 0, 0
	}
	if timeout == 0 {
		timeout = DefaultAckTimeout
	}
	return replicas, timeout
}

// TLS is TLS to Redis, used when any field is set.
type TLS struct {
	Enabled    bool
	CAFile     string
	CertFile   string
	KeyFile    string
	ServerName string
}

// On reports whether TLS is configured.
func (t TLS) On() bool {
	return t.Enabled || t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != ""
}

// Validate reports each mistake through bad, with the YAML key it is about,
// without touching the network or files.
func (c *Conn) Validate(bad func(key, format string, args ...any)) {
	if len(c.Addrs) == 0 {
		bad("addrs", "at least one host:port is required")
	}
	for _, a := range c.Addrs {
		if host, port, err := net.SplitHostPort(a); err != nil || host == "" || port == "" {
			bad("addrs", "%q is not host:port", a)
		}
	}
	if c.MasterName != "" && c.Cluster {
		bad("master_name", "Sentinel (master_name) and cluster: true exclude each other")
	}
	if len(c.Addrs) > 1 && c.MasterName == "" && !c.Cluster {
		bad("addrs", "%d addresses need master_name (Sentinel) or cluster: true; a standalone server has one", len(c.Addrs))
	}
	if (c.SentinelUsername != "" || c.SentinelPassword != "") && c.MasterName == "" {
		bad("sentinel_username", "sentinel credentials need master_name")
	}
	if c.Password != "" && c.PasswordFile != "" {
		bad("password_file", "give password or password_file, not both")
	}
	if c.Username != "" && c.Password == "" && c.PasswordFile == "" {
		bad("username", "needs password or password_file")
	}
	if c.DB < 0 {
		bad("db", "must not be negative")
	}
	if c.DB != 0 && c.Cluster {
		bad("db", "Redis Cluster has only database 0")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		if c.TLS.CertFile == "" {
			bad("tls.cert_file", "is required with tls.key_file")
		} else {
			bad("tls.key_file", "is required with tls.cert_file")
		}
	}
	for _, d := range []struct {
		key string
		v   int64
	}{{"dial_timeout", int64(c.DialTimeout)}, {"timeout", int64(c.Timeout)}, {"pool_size", int64(c.PoolSize)}, {"min_idle_conns", int64(c.MinIdleConns)}} {
		if d.v < 0 {
			bad(d.key, "must not be negative")
		}
	}
	if c.Ack.Replicas < -1 {
		bad("replicas_ack.replicas", "%d is not -1 (off), 0 (the default) or a number of replicas", c.Ack.Replicas)
	}
	if c.Ack.Timeout < 0 {
		bad("replicas_ack.timeout", "must not be negative")
	}
	if n, ack := c.AckPolicy(); n > 0 {
		if _, timeout := c.Timeouts(); ack >= timeout {
			bad("replicas_ack.timeout", "%s must be shorter than timeout (%s), which bounds the write and its wait together", ack, timeout)
		}
	}
	if c.PoolSize > 0 && c.MinIdleConns > c.PoolSize {
		bad("min_idle_conns", "%d exceeds pool_size %d", c.MinIdleConns, c.PoolSize)
	}
}

// Timeouts are the dial and operation timeouts, defaulted.
func (c *Conn) Timeouts() (dial, timeout time.Duration) {
	dial, timeout = c.DialTimeout, c.Timeout
	if dial == 0 {
		dial = DefaultDialTimeout
	}
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	return dial, timeout
}

// NewClient reads the password and TLS files and builds the client; it
// does not connect. Errors are prefixed with who, and name the YAML key.
//
// Commands are never retried (MaxRetries -1): a retried SET NX could report
// its own first attempt as a replay, a retried renewal its own first
// attempt as a conflict. Every operation is bounded by the timeout,
// waiting for a pooled connection included.
func (c *Conn) NewClient(who string) (goredis.UniversalClient, error) {
	password := c.Password
	if c.PasswordFile != "" {
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("%s: password_file: %w", who, err)
		}
		password = strings.TrimRight(string(b), "\r\n")
		if password == "" {
			return nil, fmt.Errorf("%s: password_file: %s is empty", who, c.PasswordFile)
		}
	}
	var tlsConf *tls.Config
	if c.TLS.On() {
		conf, err := tlsconf.Files{CAFile: c.TLS.CAFile, CertFile: c.TLS.CertFile, KeyFile: c.TLS.KeyFile}.Client()
		if err != nil {
			return nil, fmt.Errorf("%s: tls.%w", who, err) // tls.ca_file: or tls.cert_file:
		}
		conf.ServerName = c.TLS.ServerName
		tlsConf = conf
	}
	dial, timeout := c.Timeouts()
	return goredis.NewUniversalClient(&goredis.UniversalOptions{
		Addrs:                 c.Addrs,
		MasterName:            c.MasterName,
		IsClusterMode:         c.Cluster,
		Username:              c.Username,
		Password:              password,
		SentinelUsername:      c.SentinelUsername,
		SentinelPassword:      c.SentinelPassword,
		DB:                    c.DB,
		TLSConfig:             tlsConf,
		DialTimeout:           dial,
		DialerRetries:         1,
		ReadTimeout:           timeout,
		WriteTimeout:          timeout,
		ContextTimeoutEnabled: true,
		PoolTimeout:           timeout,
		PoolSize:              c.PoolSize,
		MinIdleConns:          c.MinIdleConns,
		MaxRetries:            -1,
		DisableIdentity:       true,
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
	}), nil
}
