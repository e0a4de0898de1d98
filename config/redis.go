package config

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authsvc/authsvc/replay"
	"github.com/authsvc/authsvc/replay/redis"
)

// RedisReplay is the replay cache shared by every replica through Redis
// (type: redis). Its keys are those of redis.Config; relative file paths
// (password_file, tls.*) are resolved against the configuration file's
// directory.
//
//	replay:
//	  type: redis
//	  addrs: ["redis.internal:6379"]   # one server; or sentinels with master_name; or cluster seeds with cluster: true
//	  username: authsvc
//	  password_file: /run/secrets/redis-password
//	  timeout: 500ms
//
// See docs/replicas.md for topologies, failure behaviour and the ACL.
type RedisReplay struct {
	redis.Config `yaml:",inline"`
}

var (
	_ ReplayConfig = (*RedisReplay)(nil)
	_ Validator    = (*RedisReplay)(nil)
)

// Validate implements Validator.
func (r *RedisReplay) Validate() error { return r.Config.Validate() }

// Open implements ReplayConfig. It also routes go-redis's own log lines
// (a process-wide logger in that library) to env.Logger.
func (r *RedisReplay) Open(env *Env) (replay.Cache, error) {
	c := r.Config
	c.PasswordFile = env.Path(c.PasswordFile)
	c.TLS.CAFile = env.Path(c.TLS.CAFile)
	c.TLS.CertFile = env.Path(c.TLS.CertFile)
	c.TLS.KeyFile = env.Path(c.TLS.KeyFile)
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("replay", "redis")
	goredis.SetLogger(goRedisLogger{logger.With("component", "go-redis")})
	return c.Open(logger)
}

// CheckFiles implements FileChecker: Open without dialing.
func (r *RedisReplay) CheckFiles(env *Env) error {
	c := r.Config
	c.PasswordFile = env.Path(c.PasswordFile)
	c.TLS.CAFile = env.Path(c.TLS.CAFile)
	c.TLS.CertFile = env.Path(c.TLS.CertFile)
	c.TLS.KeyFile = env.Path(c.TLS.KeyFile)
	return c.CheckFiles()
}

// goRedisLogger adapts slog to go-redis's Printf logger. Failed dials are
// logged at debug level: during an outage go-redis reports one per request,
// while the cache itself logs the outage and the recovery once each at
// error and info level. Everything else go-redis says is a warning.
type goRedisLogger struct{ l *slog.Logger }

func (g goRedisLogger) Printf(ctx context.Context, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	level := slog.LevelWarn
	if strings.Contains(msg, "failed to dial") {
		level = slog.LevelDebug
	}
	if ctx == nil {
		ctx = context.Background()
	}
	g.l.Log(ctx, level, msg)
}
