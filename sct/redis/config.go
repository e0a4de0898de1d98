package redis

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/authsvc/authsvc/internal/redisconn"
	goredis "github.com/redis/go-redis/v9"
)

// Defaults for the zero values of Config.
const (
	DefaultKeyPrefix   = "authsvc:sct:"
	DefaultDialTimeout = redisconn.DefaultDialTimeout
	DefaultTimeout     = redisconn.DefaultTimeout
)

// MaxKeyIDLen bounds a key id (it is stored in every record).
const MaxKeyIDLen = 64

// Config configures the Redis security-context store; Open builds it.
//
// The topology follows from the fields, as for the replay cache: master_name
// set means Sentinel (addrs are the sentinels), cluster: true means Redis
// Cluster (addrs are seed nodes), otherwise addrs is one standalone server.
//
//	addrs: ["redis.internal:6379"]
//	username: authsvc-sct
//	password_file: /run/secrets/redis-password
//	tls:
//	  ca_file: /etc/authsvc/redis-ca.pem
//	timeout: 500ms
//	key_prefix: "authsvc:sct:"
//	keys:
//	  - id: "2026-11"
//	    file: /run/secrets/sct-key-2026-11   # 64 hex digits: openssl rand -hex 32
//	  - id: "2026-12"
//	    file: /run/secrets/sct-key-2026-12
//	write_key: "2026-12"
//
// Rotation: add the new key to keys on every replica, then (once all run
// with it) make it the write_key; remove the old key after the longest
// context lifetime has passed. A record under a key id that is no longer
// configured cannot be read: its Get fails (ErrCorrupt, fail closed).
//
// The ACL the store needs (Redis 7), for the default key_prefix:
//
//	user authsvc-sct on >PASSWORD resetkeys ~authsvc:sct:* resetchannels -@all +get +set +eval +evalsha +wait +ping +hello +auth
type Config struct {
	// Addrs are host:port pairs: one server, the sentinels, or cluster seeds.
	Addrs []string `yaml:"addrs"`
	// MasterName is the Sentinel master set; setting it selects Sentinel.
	MasterName string `yaml:"master_name"`
	// Cluster selects Redis Cluster.
	Cluster bool `yaml:"cluster"`

	// Username and Password (or PasswordFile, whose content with trailing
	// newlines removed is the password) authenticate with AUTH/HELLO.
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
	// SentinelUsername and SentinelPassword authenticate to the sentinels.
	SentinelUsername string `yaml:"sentinel_username"`
	SentinelPassword string `yaml:"sentinel_password"`

	// DB is the database number (standalone and Sentinel; 0 in a cluster).
	DB int `yaml:"db"`

	// TLS is used when any of its fields is set.
	TLS TLSConfig `yaml:"tls"`

	// DialTimeout bounds establishing a connection (default 1 s).
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// Timeout bounds each operation, waiting for a pooled connection
	// included (default 500 ms). When it passes, the operation fails with
	// health.ErrUnavailable.
	Timeout time.Duration `yaml:"timeout"`
	// PoolSize is the maximum number of connections per server (default
	// 10 per CPU); MinIdleConns keeps that many open when idle.
	PoolSize     int `yaml:"pool_size"`
	MinIdleConns int `yaml:"min_idle_conns"`

	// ReplicasAck makes an issue, renewal or cancellation count only once
	// that many replicas have it (WAIT on the same connection), so that a
	// failover cannot bring back a cancelled context or lose an issued
	// one; one not acknowledged in time fails with
	// health.ErrUnavailable (it may still have happened). Default: one
	// replica with Sentinel or Cluster, off with a standalone server;
	// replicas: -1 turns it off. See docs/replicas.md.
	ReplicasAck redisconn.Ack `yaml:"replicas_ack"`

	// KeyPrefix namespaces the keys (default "authsvc:sct:"). Give each
	// deployment sharing a Redis its own prefix, or its own issuer.
	KeyPrefix string `yaml:"key_prefix"`

	// Keys are the AES keys records are encrypted with, by id: every key
	// that may have written a record still alive must be here.
	Keys []KeyConfig `yaml:"keys"`
	// WriteKey is the id of the key new records are encrypted with.
	WriteKey string `yaml:"write_key"`
}

// KeyConfig is one AES key of the keyring.
type KeyConfig struct {
	// ID names the key in every record it encrypts: 1..64 characters of
	// A-Z a-z 0-9 . _ -.
	ID string `yaml:"id"`
	// File holds the key in hex (32, 48 or 64 hex digits: AES-128, -192
	// or -256), surrounding white space ignored. Prefer it to Hex.
	File string `yaml:"file"`
	// Hex is the key itself in hex, for tests and for configuration that
	// is itself a secret.
	Hex string `yaml:"hex"`
}

// TLSConfig configures TLS to Redis.
type TLSConfig struct {
	// Enabled turns TLS on with the system roots when no other field is set.
	Enabled bool `yaml:"enabled"`
	// CAFile holds PEM certificates to verify the server with.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a PEM client certificate and key.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name verified in the server's certificate.
	ServerName string `yaml:"server_name"`
}

// Validate checks the configuration without touching the network or files
// (a key in a file is checked by Open). Errors name the yaml key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("sct/redis: %s: %s", key, fmt.Sprintf(format, args...)))
	}
	conn := c.conn()
	conn.Validate(bad)
	if len(c.KeyPrefix) > 256 {
		bad("key_prefix", "longer than 256 bytes")
	}
	if len(c.Keys) == 0 {
		bad("keys", "at least one key is required")
	}
	seen := make(map[string]bool, len(c.Keys))
	for i, k := range c.Keys {
		name := fmt.Sprintf("keys[%d]", i)
		if err := checkKeyID(k.ID); err != nil {
			bad(name+".id", "%v", err)
		} else if seen[k.ID] {
			bad(name+".id", "%q is used by an earlier key; ids must be unique", k.ID)
		}
		seen[k.ID] = true
		switch {
		case (k.File == "") == (k.Hex == ""):
			bad(name, "give file or hex, exactly one")
		case k.Hex != "":
			if _, err := parseKey(k.Hex); err != nil {
				bad(name+".hex", "%v", err)
			}
		}
	}
	switch {
	case c.WriteKey == "":
		bad("write_key", "is required: the id of the key new records are encrypted with")
	case len(c.Keys) > 0 && !seen[c.WriteKey]:
		bad("write_key", "%q is not the id of a key in keys", c.WriteKey)
	}
	return errors.Join(errs...)
}

func checkKeyID(id string) error {
	if id == "" || len(id) > MaxKeyIDLen {
		return fmt.Errorf("%d characters, want 1..%d", len(id), MaxKeyIDLen)
	}
	for _, r := range id {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("%q: only A-Z a-z 0-9 . _ - are allowed", id)
		}
	}
	return nil
}

// parseKey decodes a hex AES key of 16, 24 or 32 bytes.
func parseKey(s string) ([]byte, error) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, errors.New("not hex")
	}
	switch len(b) {
	case 16, 24, 32:
		return b, nil
	}
	clear(b)
	return nil, fmt.Errorf("%d bytes, want 16, 24 or 32 (32, 48 or 64 hex digits)", len(b))
}

// keyring reads the configured keys.
func (c *Config) keyring() (*keyring, error) {
	keys := make(map[string][]byte, len(c.Keys))
	for i, k := range c.Keys {
		s := k.Hex
		if k.File != "" {
			b, err := os.ReadFile(k.File)
			if err != nil {
				return nil, fmt.Errorf("sct/redis: keys[%d].file: %w", i, err)
			}
			s = string(b)
			clear(b)
		}
		key, err := parseKey(s)
		if err != nil {
			where := "hex"
			if k.File != "" {
				where = "file: " + k.File
			}
			return nil, fmt.Errorf("sct/redis: keys[%d].%s: %v", i, where, err)
		}
		keys[k.ID] = key
	}
	defer func() {
		for _, k := range keys {
			clear(k) // the ciphers keep their own expanded keys
		}
	}()
	return newKeyring(keys, c.WriteKey)
}

// Open validates the configuration, reads the key and password files, and
// connects. A server that refuses the credentials (WRONGPASS, NOPERM) is an
// error; a server that cannot be reached is not (it is logged, and every
// operation fails with health.ErrUnavailable until it answers), so that
// replicas start while Redis is down.
func (c *Config) Open(logger *slog.Logger) (*Store, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ring, err := c.keyring()
	if err != nil {
		return nil, err
	}
	conn := c.conn()
	client, err := conn.NewClient("sct/redis")
	if err != nil {
		return nil, err
	}
	dial, timeout := conn.Timeouts()
	prefix := c.KeyPrefix
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	s := &Store{client: client, prefix: prefix, ring: ring, timeout: timeout, now: time.Now, logger: logger, ack: conn.Acker(client)}
	if s.ack != nil {
		logger.Info("sct store: an issue, renewal or cancellation counts once replicas acknowledge it",
			"replicas", s.ack.Replicas(), "timeout", s.ack.Timeout())
	} else if c.MasterName != "" || c.Cluster {
		logger.Warn("sct store: replicas_ack is off: a cancellation made just before a failover can be undone by it",
			"see", "docs/replicas.md")
	}
	ctx, cancel := context.WithTimeout(context.Background(), dial+timeout)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		var rerr goredis.Error
		if errors.As(err, &rerr) {
			client.Close()
			return nil, fmt.Errorf("sct/redis: %s refused us (check username, password, the ACL and db): %w", strings.Join(c.Addrs, ","), err)
		}
		s.down.Store(true)
		logger.Warn("sct store: Redis not reachable at start; security contexts cannot be issued or used until it is",
			"addrs", c.Addrs, "err", err)
	}
	return s, nil
}

// conn is the connection part of the configuration.
func (c *Config) conn() redisconn.Conn {
	return redisconn.Conn{
		Addrs: c.Addrs, MasterName: c.MasterName, Cluster: c.Cluster,
		Username: c.Username, Password: c.Password, PasswordFile: c.PasswordFile,
		SentinelUsername: c.SentinelUsername, SentinelPassword: c.SentinelPassword,
		DB: c.DB, TLS: redisconn.TLS(c.TLS),
		DialTimeout: c.DialTimeout, Timeout: c.Timeout, PoolSize: c.PoolSize, MinIdleConns: c.MinIdleConns,
		Ack: c.ReplicasAck,
	}
}

// CheckFiles does what Open does before it connects: it validates the
// configuration and reads the key, password and TLS files. check-config
// calls it; it never dials.
func (c *Config) CheckFiles() error {
	if err := c.Validate(); err != nil {
		return err
	}
	if _, err := c.keyring(); err != nil {
		return err
	}
	conn := c.conn()
	client, err := conn.NewClient("sct/redis")
	if err != nil {
		return err
	}
	return client.Close()
}
