package lockout

import (
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authsvc/authsvc/internal/redisconn"
)

// Config is the brute_force section of the configuration.
//
//	brute_force:
//	  store: memory          # or redis (the replay section's Redis settings, a connection of its own)
//	  principal: {max_failures: 5, window: 15m, lockout: 1m, max_lockout: 1h}
//	  address:   {max_failures: 50, window: 15m, lockout: 1m, max_lockout: 1h}
//	  max_entries: 100000
//	  key_prefix: "authsvc:bf:"
type Config struct {
	// Store is memory (the default) or redis (the replay section's Redis
	// settings, on a connection of its own).
	Store string `yaml:"store"`
	// Principal limits failures per claimed principal (default
	// max_failures 5 when neither limit is set).
	Principal Policy `yaml:"principal"`
	// Address limits failures per client address (default max_failures
	// 50 when neither limit is set).
	Address Policy `yaml:"address"`
	// MaxEntries bounds the memory store's counters (default 100000).
	MaxEntries int `yaml:"max_entries"`
	// KeyPrefix prefixes the redis store's keys.
	KeyPrefix string `yaml:"key_prefix"`
}

// Validate checks the section and fills in the defaults. Its errors name
// the key relative to the section ("principal.max_lockout: ...").
func (c *Config) Validate() error {
	switch c.Store {
	case "":
		c.Store = "memory"
	case "memory", "redis":
	default:
		return fmt.Errorf("store: %q is not memory or redis", c.Store)
	}
	if c.Principal == (Policy{}) && c.Address == (Policy{}) {
		c.Principal = Policy{MaxFailures: 5}
		c.Address = Policy{MaxFailures: 50}
	}
	if err := c.Principal.check("principal"); err != nil {
		return err
	}
	if err := c.Address.check("address"); err != nil {
		return err
	}
	if c.MaxEntries < 0 {
		return errors.New("max_entries must not be negative")
	}
	if c.MaxEntries == 0 {
		c.MaxEntries = DefaultMaxEntries
	}
	if c.KeyPrefix == "" {
		c.KeyPrefix = DefaultKeyPrefix
	}
	return nil
}

// Open builds the store the section names. A redis store needs client, a
// connection configured for the purpose by the caller, and takes ack (nil:
// failures count once the master has them; see Redis); a memory store
// ignores both.
func (c *Config) Open(client goredis.UniversalClient, ack *redisconn.Acker) (Options, error) {
	o := Options{Principal: c.Principal, Address: c.Address}
	switch c.Store {
	case "redis":
		if client == nil {
			return Options{}, errors.New("lockout: store redis needs a Redis client")
		}
		o.Store = &Redis{Client: client, Prefix: c.KeyPrefix, Ack: ack}
	default:
		o.Store = NewMemory(c.MaxEntries)
	}
	return o, nil
}

// Defaults of Config.
const (
	DefaultMaxEntries = 100000
	DefaultKeyPrefix  = "authsvc:bf:"
)

// Policy limits failures of one kind of key (principal or address).
// max_failures 0 turns the kind off.
type Policy struct {
	// MaxFailures within Window lock the key.
	MaxFailures int `yaml:"max_failures"`
	// Window is how long failures are remembered after the last one.
	Window time.Duration `yaml:"window"`
	// Lockout is the first lock's length. Each lock after that (a failure
	// right after a lock ends, while failures are still remembered) doubles
	// it, up to MaxLockout.
	Lockout time.Duration `yaml:"lockout"`
	// MaxLockout is the longest a lock grows to.
	MaxLockout time.Duration `yaml:"max_lockout"`
}

// On reports whether the policy counts anything.
func (p Policy) On() bool { return p.MaxFailures > 0 }

func (p Policy) lockFor(n int) time.Duration {
	d := p.Lockout
	for i := 1; i < n && d < p.MaxLockout; i++ {
		d *= 2
	}
	return min(d, p.MaxLockout)
}

// check validates a policy of the configuration and fills in defaults.
func (p *Policy) check(where string) error {
	if p.MaxFailures < 0 || p.Window < 0 || p.Lockout < 0 || p.MaxLockout < 0 {
		return fmt.Errorf("%s: values must not be negative", where)
	}
	if p.MaxFailures == 0 {
		return nil
	}
	if p.Window == 0 {
		p.Window = 15 * time.Minute
	}
	if p.Lockout == 0 {
		p.Lockout = time.Minute
	}
	if p.MaxLockout == 0 {
		p.MaxLockout = time.Hour
	}
	if p.MaxLockout < p.Lockout {
		return fmt.Errorf("%s.max_lockout: %s is shorter than lockout %s", where, p.MaxLockout, p.Lockout)
	}
	return nil
}

// valid is the check of a policy handed to New, which has no defaults.
func (p Policy) valid() bool {
	return !p.On() || p.Window > 0 && p.Lockout > 0 && p.MaxLockout >= p.Lockout
}
