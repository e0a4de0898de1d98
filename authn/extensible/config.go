package extensible

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/config/modenv"
	"github.com/authsvc/authsvc/internal/tlsconf"
)

// ExecConfig and HTTPConfig are also the configuration sections of the
// exec and http module types (their YAML keys are on the fields); Open
// builds the module from a section.
var (
	_ modenv.Validator = (*ExecConfig)(nil)
	_ modenv.Validator = (*HTTPConfig)(nil)
)

// Validate checks the exec section without running anything.
func (c *ExecConfig) Validate() error {
	if len(c.Command) == 0 || c.Command[0] == "" {
		return errors.New("command is required: a list, the program first (it runs without a shell)")
	}
	if c.Timeout < 0 || c.MaxConcurrency < 0 || c.MaxOutputBytes < 0 {
		return errors.New("timeout, max_concurrency and max_output_bytes must not be negative")
	}
	for _, kv := range c.Env {
		if !strings.Contains(kv, "=") {
			return fmt.Errorf("env entry %q is not KEY=value", kv)
		}
	}
	return nil
}

// Open builds the exec module. A relative command path or dir is taken
// from the configuration file's directory.
func (c *ExecConfig) Open(env *modenv.Env) (authn.Module, error) {
	o := *c
	o.Command = append([]string{}, c.Command...)
	if strings.Contains(o.Command[0], "/") {
		o.Command[0] = env.Path(o.Command[0])
		if !strings.Contains(o.Command[0], "/") { // ./prog next to a config in the working directory
			o.Command[0] = "./" + o.Command[0]
		}
	}
	o.Dir = env.Path(c.Dir)
	// The program must be there at start (and check-config says so), not
	// only at the first request. A name without a slash is looked up in
	// PATH, as it will be run.
	if _, err := exec.LookPath(o.Command[0]); err != nil {
		return nil, fmt.Errorf("command: %w", err)
	}
	if o.Dir != "" {
		if st, err := os.Stat(o.Dir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("dir: %s is not a directory", o.Dir)
		}
	}
	o.Document.Module = env.Name
	o.Logger = env.Logger
	return NewExec(o)
}

// Validate checks the http section without connecting.
func (c *HTTPConfig) Validate() error {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url: %q is not an http(s) URL", c.URL)
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return errors.New("cert_file and key_file go together")
	}
	if c.Retries < 0 || c.Retries > 10 {
		return errors.New("retries must be between 0 and 10")
	}
	if c.Timeout < 0 || c.MaxResponseBytes < 0 {
		return errors.New("timeout and max_response_bytes must not be negative")
	}
	if u.Scheme == "http" && c.Document.SendPasswords && !loopback(u.Hostname()) {
		return errors.New("send_passwords over plain http to another host: use https")
	}
	return nil
}

func loopback(host string) bool { return host == "127.0.0.1" || host == "localhost" || host == "::1" }

// Open builds the http module with a client of its own: TLS from ca_file,
// cert_file and key_file (relative paths from the configuration file's
// directory), no proxy (an authentication service is reached directly).
func (c *HTTPConfig) Open(env *modenv.Env) (authn.Module, error) {
	tc, err := tlsconf.Files{CAFile: env.Path(c.CAFile), CertFile: env.Path(c.CertFile), KeyFile: env.Path(c.KeyFile)}.Client()
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	tr.Proxy = nil
	o := *c
	o.Client = &http.Client{Transport: tr}
	o.Document.Module = env.Name
	o.Logger = env.Logger
	return NewHTTP(o)
}
