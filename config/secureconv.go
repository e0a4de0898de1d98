package config

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/authsvc/authsvc/sct"
	sctredis "github.com/authsvc/authsvc/sct/redis"
	"github.com/authsvc/authsvc/sts"
)

// SecureConversation is the top-level secure_conversation section: the STS
// (sts.Config's keys) and the store of its security contexts, which the
// chain entries of type secure_conversation read.
//
//	secure_conversation:
//	  issuer: "https://authsvc.example.org/sts"   # the same on every replica sharing the store
//	  lifetime: 15m
//	  max_lifetime: 8h
//	  key_size: 256
//	  renew_grace: 5m
//	  allow_insecure: false   # issue/renew over plain HTTP: demos only
//	  store: memory           # default; one replica only
//	  max_entries: 100000
//
// or, shared by replicas, with sct/redis.Config's keys under redis:
//
//	store: redis
//	redis:
//	  addrs: ["redis.internal:6379"]
//	  keys: [{id: "2026-12", file: /run/secrets/sct-key}]
//	  write_key: "2026-12"
//
// See docs/secureconversation.md.
type SecureConversation struct {
	sts.Config `yaml:",inline"`
	// Store is memory (the default) or redis.
	Store string `yaml:"store"`
	// MaxEntries bounds the memory store (contexts and tombstones;
	// default sct.DefaultMaxEntries).
	MaxEntries int `yaml:"max_entries"`
	// Redis configures store: redis.
	Redis *sctredis.Config `yaml:"redis"`
}

// checkSecureConversation validates the secure_conversation section (sts's
// own rules, then the store's) and fills in its defaults.
func (c *Config) checkSecureConversation() error {
	sc := c.SecureConversation
	if sc == nil {
		return nil
	}
	var errs []error
	if err := sc.Config.Validate(); err != nil {
		errs = append(errs, err)
	}
	if sc.Store == "" {
		sc.Store = "memory"
	}
	switch sc.Store {
	case "memory":
		if sc.MaxEntries < 0 {
			errs = append(errs, errors.New("secure_conversation: max_entries must not be negative"))
		}
		if sc.Redis != nil {
			errs = append(errs, errors.New("secure_conversation: redis: is set but store is memory (set store: redis)"))
		}
	case "redis":
		if sc.Redis == nil {
			errs = append(errs, errors.New("secure_conversation: store: redis needs a redis: section (addrs, keys, write_key)"))
		} else if err := sc.Redis.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("secure_conversation: redis: %w", err))
		}
		if sc.MaxEntries != 0 {
			errs = append(errs, errors.New("secure_conversation: max_entries is for store: memory only"))
		}
	default:
		errs = append(errs, fmt.Errorf("secure_conversation: store: %q is not memory or redis", sc.Store))
	}
	return errors.Join(errs...)
}

// openContexts opens the section's store.
func (sc *SecureConversation) openContexts(env *Env, logger *slog.Logger) (sct.Store, error) {
	if sc.Store != "redis" {
		return sct.NewMemory(sc.MaxEntries), nil
	}
	rc := sc.resolvedRedis(env)
	return rc.Open(logger.With("store", "sct/redis"))
}

// checkFiles is openContexts without dialing: for check-config.
func (sc *SecureConversation) checkFiles(env *Env) error {
	rc := sc.resolvedRedis(env)
	return rc.CheckFiles()
}

// resolvedRedis is the redis settings with file paths resolved against
// the configuration's directory.
func (sc *SecureConversation) resolvedRedis(env *Env) sctredis.Config {
	rc := *sc.Redis
	rc.PasswordFile = env.Path(rc.PasswordFile)
	rc.TLS.CAFile = env.Path(rc.TLS.CAFile)
	rc.TLS.CertFile = env.Path(rc.TLS.CertFile)
	rc.TLS.KeyFile = env.Path(rc.TLS.KeyFile)
	rc.Keys = append([]sctredis.KeyConfig(nil), rc.Keys...)
	for i := range rc.Keys {
		rc.Keys[i].File = env.Path(rc.Keys[i].File)
	}
	return rc
}
