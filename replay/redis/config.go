package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authsvc/authsvc/internal/redisconn"
	"github.com/authsvc/authsvc/replay"
)

// Defaults for the zero values of Config.
const (
	DefaultKeyPrefix   = "authsvc:replay:"
	DefaultDialTimeout = redisconn.DefaultDialTimeout
	DefaultTimeout     = redisconn.DefaultTimeout
	// DefaultQuota is the keys one principal, and one client address, may
	// record per quota window (5 minutes) unless configured: about 330
	// fresh nonces a second, sustained.
	DefaultQuota = 100_000
)

// Config configures the Redis replay cache; Open builds it.
//
// The topology follows from the fields: master_name set means Sentinel
// (addrs are the sentinels), cluster: true means Redis Cluster (addrs are
// seed nodes), otherwise addrs is one standalone server.
//
//	replay:
//	  redis:
//	    addrs: ["redis.internal:6379"]
//	    username: authsvc
//	    password_file: /run/secrets/redis-password
//	    db: 0
//	    tls:
//	      ca_file: /etc/authsvc/redis-ca.pem
//	      cert_file: /etc/authsvc/redis-client.pem
//	      key_file: /etc/authsvc/redis-client.key
//	    dial_timeout: 1s
//	    timeout: 500ms
//	    pool_size: 32
//	    key_prefix: "authsvc:replay:"
//
// The ACL the cache needs (Redis 7), for the default key_prefix:
//
//	user authsvc on >PASSWORD resetkeys ~authsvc:replay:* resetchannels -@all +set +eval +exists +get +incr +pexpire +pttl +ping +hello +auth +config|get
//
// (+eval with +exists +get +incr +pexpire +pttl run the quota script;
// +config|get is optional and lets Open check the eviction policy.)
//
// Run Redis with maxmemory-policy noeviction: an evicted key is a replay let
// through, while a full Redis with noeviction refuses the SET (fail closed).
// Open warns when the policy would evict replay keys.
type Config struct {
	// Addrs are host:port pairs: one server, the sentinels, or cluster seeds.
	Addrs []string `yaml:"addrs"`
	// MasterName is the Sentinel master set; setting it selects Sentinel.
	MasterName string `yaml:"master_name"`
	// Cluster selects Redis Cluster.
	Cluster bool `yaml:"cluster"`

	// Username and Password (or PasswordFile, whose content with trailing
	// newlines removed is the password) authenticate with AUTH/HELLO; no
	// Username means the default user.
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
	// Timeout bounds each Add and Check, waiting for a pooled connection
	// included, and each socket read and write (default 500 ms). When it
	// passes, the credential is refused.
	Timeout time.Duration `yaml:"timeout"`
	// PoolSize is the maximum number of connections per server (default
	// 10 per CPU); MinIdleConns keeps that many open when idle.
	PoolSize     int `yaml:"pool_size"`
	MinIdleConns int `yaml:"min_idle_conns"`

	// KeyPrefix namespaces the keys (default "authsvc:replay:"). Give each
	// deployment sharing a Redis its own prefix.
	KeyPrefix string `yaml:"key_prefix"`

	// ReplicasAck makes a nonce count as recorded only once that many
	// replicas have it (WAIT after the SET NX, on the same connection),
	// so that a failover cannot forget it; a record not acknowledged in
	// time refuses the credential (503) and stays recorded. Default: one
	// replica with Sentinel or Cluster, off with a standalone server;
	// replicas: -1 turns it off. See docs/replicas.md.
	ReplicasAck redisconn.Ack `yaml:"replicas_ack"`

	// PipelineWorkers is how many workers send concurrent Adds together,
	// one pipelined round trip per batch (default 2; -1: every Add makes
	// its own round trip).
	PipelineWorkers int `yaml:"pipeline_workers"`

	// Quota limits the keys one principal and one client address may
	// record per window, across every replica (default DefaultQuota each,
	// window 5 minutes; -1 turns a kind off). It needs EVAL in the ACL. A
	// Redis Cluster cannot run the quota script (its keys are in different
	// slots): quotas are off there, and setting one is an error.
	Quota replay.QuotaConfig `yaml:"quota"`
}

// TLSConfig configures TLS to Redis.
type TLSConfig struct {
	// Enabled turns TLS on with the system roots when no other field is set.
	Enabled bool `yaml:"enabled"`
	// CAFile holds PEM certificates to verify the server with, instead of
	// the system roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a PEM client certificate and key.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name verified in the server's certificate
	// (default: the host of the address dialled).
	ServerName string `yaml:"server_name"`
}

// Validate checks the configuration without touching the network or files.
// Errors name the yaml key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("replay/redis: %s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.PipelineWorkers < -1 || c.PipelineWorkers > 64 {
		bad("pipeline_workers", "%d is not between -1 and 64", c.PipelineWorkers)
	}
	conn := c.conn()
	conn.Validate(bad)
	if err := c.Quota.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("replay/redis: %w", err))
	}
	if c.Cluster && (c.Quota.Principal > 0 || c.Quota.Address > 0) {
		bad("quota", "per-owner quotas need a standalone or Sentinel Redis: the quota script's keys would be in different cluster slots (set quota.principal and quota.address to -1, or leave them out)")
	}
	if len(c.KeyPrefix) > 256 {
		bad("key_prefix", "longer than 256 bytes")
	}
	return errors.Join(errs...)
}

// Open validates the configuration, reads the password and TLS files, and
// connects. A server that refuses the credentials (WRONGPASS, NOPERM) or
// speaks no Redis is an error; a server that cannot be reached is not (it
// is logged, Check reports it, and the Cache connects once it is back), so
// that replicas start while Redis is down and turn ready when it returns.
func (c *Config) Open(logger *slog.Logger) (*Cache, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	client, err := c.NewClient()
	if err != nil {
		return nil, err
	}
	dial, timeout := c.timeouts()
	prefix := c.KeyPrefix
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	conn := c.conn()
	cache := &Cache{client: client, prefix: prefix, timeout: timeout, now: time.Now, logger: logger, ack: conn.Acker(client)}
	if cache.ack != nil {
		logger.Info("replay cache: a nonce counts as recorded once replicas acknowledge it",
			"replicas", cache.ack.Replicas(), "timeout", cache.ack.Timeout())
	} else if c.MasterName != "" || c.Cluster {
		logger.Warn("replay cache: replicas_ack is off: a nonce recorded just before a failover can be accepted once more afterwards",
			"see", "docs/replicas.md")
	}
	if !c.Cluster {
		cache.quota = c.Quota.Quota(DefaultQuota)
		cache.window = cache.quota.Window
	} else {
		logger.Warn("replay cache: per-owner quotas are off with Redis Cluster; one account flooding fresh credentials can fill Redis up to its maxmemory",
			"see", "docs/replay.md")
	}

	ctx, cancel := context.WithTimeout(context.Background(), dial+timeout)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		var rerr goredis.Error
		if errors.As(err, &rerr) {
			client.Close()
			return nil, fmt.Errorf("replay/redis: %s refused us (check username, password, the ACL and db): %w", strings.Join(c.Addrs, ","), err)
		}
		cache.down.Store(true)
		logger.Warn("replay cache: Redis not reachable at start; credentials that need a replay check are refused until it is",
			"addrs", c.Addrs, "err", err)
	} else {
		if err := cache.probe(ctx); err != nil {
			client.Close()
			return nil, err
		}
		cache.checkEviction(ctx)
	}
	switch workers := c.PipelineWorkers; {
	case workers == 0:
		cache.batch = newBatcher(cache, 2)
	case workers > 0:
		cache.batch = newBatcher(cache, workers)
	}
	return cache, nil
}

// NewClient reads the password and TLS files and returns a go-redis client
// for the configured topology, with the timeouts and pool of the
// configuration. It does not connect. Open uses it for the replay cache;
// other users of the same settings (the brute-force store) open their own.
func (c *Config) NewClient() (goredis.UniversalClient, error) {
	conn := c.conn()
	return conn.NewClient("replay/redis")
}

// Acker returns what makes client's writes wait for replicas under the
// configuration's replicas_ack, or nil when it is off. The brute-force
// store, which shares these settings, uses it.
func (c *Config) Acker(client goredis.UniversalClient) *redisconn.Acker {
	conn := c.conn()
	return conn.Acker(client)
}

// timeouts are the dial and operation timeouts, defaulted.
func (c *Config) timeouts() (dial, timeout time.Duration) {
	conn := c.conn()
	return conn.Timeouts()
}

// probe runs a trivial script on a key of the prefix when quotas are on,
// and WAIT 0 0 when replicas must acknowledge, so that an ACL without EVAL
// or WAIT fails at start rather than at every login.
func (c *Cache) probe(ctx context.Context) error {
	var rerr goredis.Error
	if c.ack != nil {
		if err := c.client.Do(ctx, "wait", 0, 0).Err(); err != nil && errors.As(err, &rerr) {
			return fmt.Errorf("replay/redis: replicas_ack needs WAIT (add +wait to the ACL, or set replicas_ack.replicas to -1): %w", err)
		}
	}
	if !c.quota.On() {
		return nil
	}
	err := c.client.Eval(ctx, "return 1", []string{c.prefix + "probe"}).Err()
	if err != nil && errors.As(err, &rerr) {
		return fmt.Errorf("replay/redis: the per-owner quota needs EVAL on keys %s* (add +eval to the ACL, or set quota.principal and quota.address to -1): %w", c.prefix, err)
	}
	return nil // not answering is the outage path: logged, and Check reports it
}

// checkEviction warns when Redis could evict replay keys: with a maxmemory
// and a policy other than noeviction, a full Redis drops recorded nonces
// (every key has a TTL, so volatile-* policies evict them too) and lets
// their replays through. An ACL that denies CONFIG GET is tolerated.
func (c *Cache) checkEviction(ctx context.Context) {
	m, err := c.client.ConfigGet(ctx, "maxmemory*").Result()
	if err != nil {
		c.logger.Info("replay cache: could not read Redis's maxmemory-policy (CONFIG GET denied?); make sure it is noeviction",
			"err", err)
		return
	}
	policy, max := m["maxmemory-policy"], m["maxmemory"]
	switch {
	case policy == "":
		c.logger.Info("replay cache: Redis did not report its maxmemory-policy; make sure it is noeviction")
	case policy != "noeviction" && max != "0":
		c.logger.Warn("replay cache: Redis may evict replay keys when it reaches maxmemory, letting replays through; set maxmemory-policy noeviction",
			"maxmemory_policy", policy, "maxmemory", max)
	case max == "0":
		c.logger.Info("replay cache: Redis has no maxmemory; size it (and keep maxmemory-policy noeviction) so that a flood fills Redis, not the host",
			"maxmemory_policy", policy)
	}
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
// configuration and reads the password and TLS files. check-config calls
// it; it never dials.
func (c *Config) CheckFiles() error {
	if err := c.Validate(); err != nil {
		return err
	}
	client, err := c.NewClient()
	if err != nil {
		return err
	}
	return client.Close()
}
