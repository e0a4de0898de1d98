// Package config reads authsvc's YAML configuration, checks it strictly
// (unknown keys are errors naming the key and its line), and builds the
// chain, registries and replay cache it describes.
//
// Module, registry and replay-cache types are wired by an explicit table
// (Types), not by init() registration: a custom binary adds its own types to
// the table it passes to Load.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/authn/secureconv"
	"github.com/authsvc/authsvc/config/modenv"
	"github.com/authsvc/authsvc/registry"
	"github.com/authsvc/authsvc/replay"
)

// Config is a whole configuration file.
type Config struct {
	// Listen is the address to listen on (default 127.0.0.1:8080).
	Listen string `yaml:"listen"`
	// ShutdownTimeout is how long requests in flight may take to finish
	// after SIGTERM or SIGINT (default 15s).
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// ShutdownDelay is how long /readyz answers 503 after SIGTERM, while
	// requests are still served, before the listener closes and requests in
	// flight drain (default 0s; at most 5m). Set it above the readiness
	// probe's period times its failure threshold.
	ShutdownDelay time.Duration `yaml:"shutdown_delay"`
	// TLS serves HTTPS on listen (default: plain HTTP, for TLS terminated
	// by a proxy in front, see trusted_proxies).
	TLS *TLS `yaml:"tls"`
	// Admin, when set, is a second, plain-HTTP listener for /metrics,
	// /readyz (with each failing check's error text) and /healthz; /metrics
	// then leaves the service's listener.
	Admin *Admin `yaml:"admin"`
	// TrustedProxies are CIDRs or addresses of TLS-terminating proxies
	// whose X-Forwarded-Proto/-For and X-Request-Id are believed.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// Limits bound what one request may cost; 0 is the built-in limit.
	Limits Limits `yaml:"limits"`
	// Security is the message-level policy shared by all modules.
	Security Security `yaml:"security"`
	// Replay is the replay cache that remembers nonces and tokens: type
	// memory (the default) or redis, with the keys of its type (below).
	Replay yaml.Node `yaml:"replay"`
	// Registries are named user stores that modules refer to, each with a
	// type (file or ldap) and the keys of its type (below).
	Registries map[string]yaml.Node `yaml:"registries"`
	// Chain is the ordered list of login modules, each with name, type,
	// flag and the keys of its type (below).
	Chain []yaml.Node `yaml:"chain"`
	// Proxy turns on reverse-proxy mode: an authenticated request is
	// forwarded to proxy.upstream with the Subject in identity headers.
	Proxy *Proxy `yaml:"proxy"`
	// Log configures the service log, written to stderr.
	Log Log `yaml:"log"`
	// Identity signs the Subject into a short-lived JWT for the upstream
	// (docs/identity.md).
	Identity *Identity `yaml:"identity"`
	// Gateway enables /v1/ext-authz for Envoy and Traefik
	// (docs/gateways.md).
	Gateway *Gateway `yaml:"gateway"`
	// Audit writes one JSON line per authentication decision.
	Audit *Audit `yaml:"audit"`
	// BruteForce counts failures per principal and per client address and
	// locks them out (docs/brute-force.md).
	BruteForce *BruteForce `yaml:"brute_force"`
	// SecureConversation enables the STS (WS-SecureConversation,
	// config/secureconv.go).
	SecureConversation *SecureConversation `yaml:"secure_conversation"`

	// Filled in by Load.
	Path    string        `yaml:"-"`
	Modules []ModuleEntry `yaml:"-"`
	regs    map[string]RegistryConfig
	replay  ReplayConfig
	proxies []netip.Prefix
	root    *yaml.Node // the file's top-level mapping, for lines
	types   *Types     // the type table it was loaded with, for Reread
}

// TLS configures the listener's TLS.
type TLS struct {
	// CertFile and KeyFile are the PEM certificate (with its chain) and
	// private key, relative to the configuration file's directory.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ClientCAFile, if set, asks clients for certificates signed by it
	// (verified when presented; modules see them in the request).
	ClientCAFile string `yaml:"client_ca_file"`
}

// Limits bound what one request may cost.
type Limits struct {
	// MaxBodyBytes is the largest request body (default 10485760, 10 MiB).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxSignedBytes is the largest message read whole: one whose Security
	// header is signed (its signature is verified over every byte) or a
	// WS-Trust request. Such a message is held in memory with its parsed
	// tree, about 4.5 times its size; a larger one is refused with 413 once
	// this many bytes have arrived (default 4194304, 4 MiB; at most
	// max_body_bytes).
	MaxSignedBytes int64 `yaml:"max_signed_bytes"`
	// MaxHeaderBytes is the most bytes read before the SOAP Body
	// (default 262144).
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// MaxDepth is the deepest element nesting in the header (default 32).
	MaxDepth int `yaml:"max_depth"`
	// MaxElements is the most elements in the header (default 1024).
	MaxElements int `yaml:"max_elements"`
	// MaxAttributes is the most attributes on one element (default 32).
	MaxAttributes int `yaml:"max_attributes"`
}

// Security holds message-level policy shared by all modules.
type Security struct {
	// Actor is the SOAP actor/role URI of this service.
	Actor string `yaml:"actor"`
	// Timestamp is the wsu:Timestamp policy.
	Timestamp Timestamp `yaml:"timestamp"`
	// PassThrough names Security header element types, as
	// {namespace}local, that may reach the upstream although no module
	// processed them (the upstream verifies them itself). Without an entry,
	// a request whose Security header holds an element that no module
	// processed is refused (authn.Chain.WithPassThrough).
	PassThrough []yaml.Node `yaml:"pass_through"`
	passThrough []authn.QName
}

// PassThroughNames returns the parsed security.pass_through.
func (s *Security) PassThroughNames() []authn.QName { return s.passThrough }

// Timestamp is the wsu:Timestamp policy.
type Timestamp struct {
	// Required refuses a message without a wsu:Timestamp.
	Required bool `yaml:"required"`
	// MaxAge is the oldest a Timestamp's Created may be (default 5m).
	MaxAge time.Duration `yaml:"max_age"`
	// FutureSkew is how far in the future Created may be, for clock
	// differences (default 60s).
	FutureSkew time.Duration `yaml:"future_skew"`
}

// Proxy configures reverse-proxy mode.
type Proxy struct {
	// Upstream is the http(s) URL requests are forwarded to.
	Upstream string `yaml:"upstream"`
	// HeaderPrefix names the identity headers sent upstream
	// (default X-Authenticated-); the client's own headers with this
	// prefix are removed.
	HeaderPrefix string `yaml:"header_prefix"`
	// ScrubPassword drops a PasswordText value from the message before
	// forwarding it.
	ScrubPassword bool `yaml:"scrub_password"`
	// StrictEnvelope checks the rest of the message while forwarding it
	// (README, proxy.strict_envelope).
	StrictEnvelope bool `yaml:"strict_envelope"`
	// SOAP11FaultStatus is the HTTP status of a SOAP 1.1 fault
	// (default 500, as SOAP 1.1 says; 401 or 403 for clients that want it).
	SOAP11FaultStatus int `yaml:"soap11_fault_status"`
	// Timeout bounds the wait for the upstream's response headers
	// (default: none).
	Timeout  time.Duration `yaml:"timeout"`
	upstream *url.URL
}

// URL returns the parsed upstream.
func (p *Proxy) URL() *url.URL { return p.upstream }

// Log configures the service log.
type Log struct {
	// Level is debug, info (the default), warn or error.
	Level string `yaml:"level"`
	// Format is json (the default) or text.
	Format string `yaml:"format"`
}

// ModuleEntry is one checked chain entry.
type ModuleEntry struct {
	Name   string
	Type   string
	Flag   authn.Flag
	Config ModuleConfig
}

// Env is what a type's Open gets: a logger, the shared replay cache, the
// named registries, and paths relative to the configuration file. It lives
// in the leaf package modenv so that module packages, which own their
// configuration, can take it without importing config.
type Env = modenv.Env

// ModuleConfig is a module type's configuration section: it builds the
// module. A type may also implement Validator to be checked at load time.
type ModuleConfig interface {
	Open(env *Env) (authn.Module, error)
}

// RegistryConfig builds a registry: the typed set of what it can answer.
type RegistryConfig interface {
	Open(env *Env) (registry.Set, error)
}

// ReplayConfig builds a replay cache.
type ReplayConfig interface {
	Open(env *Env) (replay.Cache, error)
}

// Validator is implemented by sections that can be checked without opening
// anything (for check-config and for errors before any side effect).
type Validator = modenv.Validator

// RegistryUser is implemented by sections that name a registry; Load checks
// that it is configured.
type RegistryUser = modenv.RegistryUser

// Types maps type names to fresh configuration values.
type Types struct {
	Modules    map[string]func() ModuleConfig
	Registries map[string]func() RegistryConfig
	Replay     map[string]func() ReplayConfig
}

// Load reads and checks a configuration file.
func Load(path string, types *Types) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(raw, types)
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	c.Path = path
	return c, nil
}

// Reread loads the file c was loaded from again, with the same types (for
// SIGHUP).
func (c *Config) Reread() (*Config, error) { return Load(c.Path, c.types) }

// Parse checks a configuration held in memory. Its error is an Errors
// listing every problem found, each naming its key and line.
func Parse(raw []byte, types *Types) (*Config, error) {
	return parse(raw, types, osLookup)
}

func parse(raw []byte, types *Types, lookup func(string) (string, bool)) (*Config, error) {
	if types == nil {
		types = Builtin()
	}
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, err
	}
	if root.Kind == 0 || (root.Kind == yaml.DocumentNode && (len(root.Content) == 0 || isNull(root.Content[0]))) {
		return nil, errors.New("the file is empty (or only comments): it needs at least a chain (see docs/configuration.md)")
	}
	errs := expandEnv(&root, lookup)
	errs = append(errs, checkKeys(&root, reflect.TypeOf(Config{}), "")...)
	var c Config
	if err := root.Decode(&c); err != nil && len(errs) == 0 {
		errs = append(errs, err)
	}
	c.root, c.types = root.Content[0], types
	if err := c.check(types); err != nil {
		errs = append(errs, err)
	}
	if err := collect(errs...); err != nil {
		e := err.(Errors)
		sort.SliceStable(e, func(i, j int) bool { return lineNumber(e[i]) < lineNumber(e[j]) })
		return nil, e
	}
	return &c, nil
}

// check validates c and fills in defaults, one part of the file after the
// other; the sections with a type are decoded through types. It goes on
// after an error, to report every one.
func (c *Config) check(types *Types) error {
	var errs []error
	for _, step := range []struct {
		key string
		f   func() error
	}{
		{"listen", c.checkListener}, {"limits", c.checkLimits}, {"security", c.checkSecurity}, {"log", c.checkLog},
		{"proxy", c.checkProxy}, {"secure_conversation", c.checkSecureConversation}, {"admin", c.checkOps},
		{"replay", func() error { return c.checkReplay(types) }},
		{"registries", func() error { return c.checkRegistries(types) }},
		{"chain", func() error { return c.checkChain(types) }},
		{"", c.checkProduction},
	} {
		if err := collect(step.f()); err != nil {
			for _, e := range err.(Errors) {
				errs = append(errs, c.at(e, step.key))
			}
		}
	}
	return collect(errs...)
}

// at puts the line of the key that err names (its first word, "tls:" or
// "identity.keys[0].file:"), or else of section, before err, unless err
// already names a line.
func (c *Config) at(err error, section string) error {
	msg := err.Error()
	if strings.HasPrefix(msg, "line ") {
		return err
	}
	key, _, _ := strings.Cut(msg, ":")
	if line := c.lineOf(strings.Fields(key + " ")[0]); line > 0 {
		return fmt.Errorf("line %d: %w", line, err)
	}
	if line := c.lineOf(section); line > 0 {
		return fmt.Errorf("line %d: %w", line, err)
	}
	return err
}

// lineOf returns the line of a dotted key path such as "tls.cert_file" or
// "identity.keys[1].file" in the file, the deepest part found; 0 when not
// even its first part is in the file.
func (c *Config) lineOf(path string) int {
	line, _ := c.lookup(path)
	return line
}

// lookup is lineOf, and whether the whole path was found.
func (c *Config) lookup(path string) (int, bool) {
	n, line := c.root, 0
	for _, part := range strings.Split(path, ".") {
		name, idx, _ := strings.Cut(part, "[")
		if n == nil || n.Kind != yaml.MappingNode {
			return line, false
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == name {
				line, next = n.Content[i].Line, n.Content[i+1]
			}
		}
		if next == nil {
			return line, false
		}
		n = next
		if idx != "" {
			i, err := strconv.Atoi(strings.TrimSuffix(idx, "]"))
			if err != nil || n.Kind != yaml.SequenceNode || i < 0 || i >= len(n.Content) {
				return line, false
			}
			n, line = n.Content[i], n.Content[i].Line
		}
	}
	return line, true
}

// keyLine puts before err the line of the key under section that err
// names ("replay/redis: password_file: open ..." under "replay" is
// replay.password_file's line), else the section's.
func (c *Config) keyLine(section string, err error) error {
	for _, seg := range strings.Split(err.Error(), ": ") {
		if seg == "" || strings.ContainsAny(seg, " /\"") {
			continue
		}
		if line, ok := c.lookup(section + "." + seg); ok {
			return atLine(line, err)
		}
	}
	return atLine(c.lineOf(section), err)
}

// checkListener checks listen, shutdown_timeout, tls and trusted_proxies.
func (c *Config) checkListener() error {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 15 * time.Second
	}
	if c.TLS != nil && (c.TLS.CertFile == "" || c.TLS.KeyFile == "") {
		return errors.New("tls: cert_file and key_file are both required")
	}
	for i, p := range c.TrustedProxies {
		pf, err := netip.ParsePrefix(p)
		if err != nil {
			a, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return fmt.Errorf("trusted_proxies[%d]: %q is not an address or CIDR", i, p)
			}
			pf = netip.PrefixFrom(a, a.BitLen())
		}
		c.proxies = append(c.proxies, pf.Masked())
	}
	return nil
}

func (c *Config) checkLimits() error {
	l := &c.Limits
	if l.MaxBodyBytes < 0 || l.MaxSignedBytes < 0 || l.MaxHeaderBytes < 0 || l.MaxDepth < 0 || l.MaxElements < 0 || l.MaxAttributes < 0 {
		return errors.New("limits: values must not be negative")
	}
	body := l.MaxBodyBytes
	if body == 0 {
		body = DefaultMaxBodyBytes
	}
	if l.MaxSignedBytes == 0 {
		l.MaxSignedBytes = min(DefaultMaxSignedBytes, body)
	}
	if l.MaxSignedBytes > MaxSignedBytesCap {
		return fmt.Errorf("limits: max_signed_bytes %d is more than %d, the most a signed message may be", l.MaxSignedBytes, MaxSignedBytesCap)
	}
	if l.MaxSignedBytes > body {
		return fmt.Errorf("limits: max_signed_bytes %d is more than max_body_bytes %d; a signed message is a request body, so raise max_body_bytes too", l.MaxSignedBytes, body)
	}
	return nil
}

// DefaultMaxBodyBytes and DefaultMaxSignedBytes are limits.max_body_bytes
// and limits.max_signed_bytes when they are not set.
const (
	DefaultMaxBodyBytes   = 10 << 20
	DefaultMaxSignedBytes = 4 << 20
	// MaxSignedBytesCap is the largest max_signed_bytes: the verifier keeps
	// offsets into a message as 32-bit numbers.
	MaxSignedBytesCap = 1 << 30
)

// checkSecurity checks security.timestamp and parses security.pass_through.
func (c *Config) checkSecurity() error {
	ts := &c.Security.Timestamp
	if ts.MaxAge == 0 {
		ts.MaxAge = 5 * time.Minute
	}
	if ts.FutureSkew == 0 {
		ts.FutureSkew = 60 * time.Second
	}
	if ts.MaxAge < 0 || ts.FutureSkew < 0 {
		return errors.New("security.timestamp: max_age and future_skew must not be negative")
	}
	for i := range c.Security.PassThrough {
		n := &c.Security.PassThrough[i]
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			return fmt.Errorf("line %d: security.pass_through[%d]: want a string {namespace}local", n.Line, i)
		}
		q, err := authn.ParseQName(n.Value)
		if err != nil {
			return fmt.Errorf("line %d: security.pass_through[%d]: %v", n.Line, i, err)
		}
		c.Security.passThrough = append(c.Security.passThrough, q)
	}
	return nil
}

func (c *Config) checkLog() error {
	switch strings.ToLower(c.Log.Level) {
	case "", "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level: %q is not debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "", "json", "text":
	default:
		return fmt.Errorf("log.format: %q is not json or text", c.Log.Format)
	}
	return nil
}

func (c *Config) checkProxy() error {
	p := c.Proxy
	if p == nil {
		return nil
	}
	u, err := url.Parse(p.Upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("proxy.upstream: %q is not an http(s) URL", p.Upstream)
	}
	p.upstream = u
	if p.SOAP11FaultStatus != 0 && (p.SOAP11FaultStatus < 400 || p.SOAP11FaultStatus > 599) {
		return fmt.Errorf("proxy.soap11_fault_status: %d is not a 4xx or 5xx status", p.SOAP11FaultStatus)
	}
	return nil
}

// checkReplay decodes the replay section (default type memory).
func (c *Config) checkReplay(types *Types) error {
	rtype, rnode, err := splitType(&c.Replay, "replay", "memory")
	if err != nil {
		return err
	}
	newReplay, ok := types.Replay[rtype]
	if !ok {
		return fmt.Errorf("replay.type: unknown type %q (known: %s)", rtype, keys(types.Replay))
	}
	c.replay = newReplay()
	if err := decodeSection(rnode, c.replay, "replay"); err != nil {
		c.replay = nil
		return atLine(c.Replay.Line, err)
	}
	return nil
}

// checkRegistries decodes each registry by its type, in file order.
func (c *Config) checkRegistries(types *Types) error {
	c.regs = make(map[string]RegistryConfig, len(c.Registries))
	names := make([]string, 0, len(c.Registries))
	for name := range c.Registries {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return c.Registries[names[i]].Line < c.Registries[names[j]].Line })
	var errs []error
	for _, name := range names {
		n := c.Registries[name]
		where := "registries." + name
		typ, node, err := splitType(&n, where, "")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		newReg, ok := types.Registries[typ]
		if !ok {
			errs = append(errs, fmt.Errorf("line %d: %s.type: unknown registry type %q (known: %s)", n.Line, where, typ, keys(types.Registries)))
			continue
		}
		rc := newReg()
		if err := decodeSection(node, rc, where); err != nil {
			errs = append(errs, atLine(n.Line, err))
			continue
		}
		c.regs[name] = rc
	}
	return collect(errs...)
}

// checkChain decodes the chain entries in order.
func (c *Config) checkChain(types *Types) error {
	if len(c.Chain) == 0 {
		return errors.New("chain: at least one module is required")
	}
	seen := map[string]bool{}
	var errs []error
	for i := range c.Chain {
		e, err := c.checkEntry(i, types, seen)
		if err != nil {
			errs = append(errs, atLine(c.Chain[i].Line, err))
			continue
		}
		c.Modules = append(c.Modules, e)
	}
	return collect(errs...)
}

// atLine puts "line N: " before each error of err that names no line.
func atLine(line int, err error) error {
	var out []error
	for _, e := range collect(err).(Errors) {
		if line > 0 && !strings.HasPrefix(e.Error(), "line ") {
			e = fmt.Errorf("line %d: %w", line, e)
		}
		out = append(out, e)
	}
	return collect(out...)
}

// checkEntry decodes chain[i]: name, type and flag are the chain's; the
// other keys are the module type's section.
func (c *Config) checkEntry(i int, types *Types, seen map[string]bool) (ModuleEntry, error) {
	n := &c.Chain[i]
	where := fmt.Sprintf("chain[%d]", i)
	var e ModuleEntry
	if n.Kind != yaml.MappingNode {
		return e, fmt.Errorf("line %d: %s: want a mapping with name, type and flag", n.Line, where)
	}
	rest := &yaml.Node{Kind: yaml.MappingNode, Line: n.Line, Column: n.Column}
	var flag string
	for j := 0; j+1 < len(n.Content); j += 2 {
		k, v := n.Content[j], n.Content[j+1]
		switch k.Value {
		case "name":
			e.Name = v.Value
		case "type":
			e.Type = v.Value
		case "flag":
			flag = v.Value
		default:
			rest.Content = append(rest.Content, k, v)
		}
	}
	if e.Name == "" {
		e.Name = e.Type
	}
	if e.Type == "" {
		return e, fmt.Errorf("line %d: %s.type is required (known: %s)", n.Line, where, keys(types.Modules))
	}
	if seen[e.Name] {
		return e, fmt.Errorf("line %d: %s: two chain entries are named %q", n.Line, where, e.Name)
	}
	seen[e.Name] = true
	if flag == "" {
		return e, fmt.Errorf("line %d: %s (%s).flag is required: required, requisite, sufficient or optional", n.Line, where, e.Name)
	}
	var err error
	if e.Flag, err = authn.ParseFlag(flag); err != nil {
		return e, fmt.Errorf("line %d: %s (%s).flag: %v", n.Line, where, e.Name, err)
	}
	newMod, ok := types.Modules[e.Type]
	if !ok {
		return e, fmt.Errorf("line %d: %s.type: unknown module type %q (known: %s)", n.Line, where, e.Type, keys(types.Modules))
	}
	e.Config = newMod()
	if sc, ok := e.Config.(*secureconv.Config); ok {
		// The module reads the STS's store: without the section there is
		// none. Its issuer defaults to the STS's.
		if c.SecureConversation == nil {
			return e, fmt.Errorf("line %d: %s (%s): type secure_conversation needs the top-level secure_conversation section (the STS and its context store)", n.Line, where, e.Name)
		}
		sc.Issuer = c.SecureConversation.Issuer
	}
	if err := decodeSection(rest, e.Config, where+" ("+e.Name+")"); err != nil {
		return e, err
	}
	if ru, ok := e.Config.(RegistryUser); ok && ru.RegistryName() != "" {
		if _, ok := c.regs[ru.RegistryName()]; !ok {
			return e, fmt.Errorf("line %d: %s (%s).registry: no registry named %q under registries", n.Line, where, e.Name, ru.RegistryName())
		}
	}
	return e, nil
}

// splitType takes the "type" key out of a section.
func splitType(n *yaml.Node, where, def string) (string, *yaml.Node, error) {
	if n.Kind == 0 { // section absent
		if def == "" {
			return "", nil, fmt.Errorf("%s: type is required", where)
		}
		return def, nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return "", nil, fmt.Errorf("line %d: %s: want a mapping", n.Line, where)
	}
	typ := def
	rest := &yaml.Node{Kind: yaml.MappingNode, Line: n.Line, Column: n.Column}
	for j := 0; j+1 < len(n.Content); j += 2 {
		if n.Content[j].Value == "type" {
			typ = n.Content[j+1].Value
			continue
		}
		rest.Content = append(rest.Content, n.Content[j], n.Content[j+1])
	}
	if typ == "" {
		return "", nil, fmt.Errorf("line %d: %s.type is required", n.Line, where)
	}
	return typ, rest, nil
}

func decodeSection(n *yaml.Node, v any, where string) error {
	if n != nil && len(n.Content) > 0 {
		if err := decodeStrict(n, v, where); err != nil {
			return err
		}
	}
	if val, ok := v.(Validator); ok {
		if err := val.Validate(); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
	}
	return nil
}

func keys[V any](m map[string]V) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sortStrings(ks)
	return strings.Join(ks, ", ")
}

// TrustedProxyPrefixes returns the parsed trusted_proxies.
func (c *Config) TrustedProxyPrefixes() []netip.Prefix { return c.proxies }
