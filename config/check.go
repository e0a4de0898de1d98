package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"

	"github.com/authsvc/authsvc/internal/tlsconf"
)

// Check opens what serve opens, without binding a port or dialing: every
// section Build opens (users files, keytabs, LDAP CA and bind password
// files, exec programs; a Redis store's password, key and TLS files are
// read but Redis is not dialed), the listener's TLS certificate, key and
// client CA, the identity signing keys, and the audit output (that it can
// be appended to, or created in its directory). It closes all of it again
// and reports every failure (config.Errors), each with its key and line.
func (c *Config) Check(logger *slog.Logger) error {
	var errs []error
	if rt, err := c.build(logger, true); err != nil {
		errs = append(errs, err)
	} else {
		rt.Close()
	}
	errs = append(errs, c.checkTLSFiles(), c.checkIdentityKeys(), c.checkAuditOutput())
	err := collect(errs...)
	if e, ok := err.(Errors); ok {
		sort.SliceStable(e, func(i, j int) bool { return lineNumber(e[i]) < lineNumber(e[j]) })
	}
	return err
}

// lineNumber is the N of an error that starts "line N: ".
func lineNumber(err error) int {
	var n int
	fmt.Sscanf(err.Error(), "line %d:", &n)
	return n
}

// baseDir is the directory relative paths are taken from.
func (c *Config) baseDir() string { return filepath.Dir(c.Path) }

func (c *Config) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.baseDir(), p)
}

// Load reads the listener's certificate and key and the client CA (nil
// without client_ca_file); relative paths are taken from baseDir. Errors
// name the key.
func (t *TLS) Load(baseDir string) (tls.Certificate, *x509.CertPool, error) {
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(baseDir, p)
	}
	var errs []error
	certPEM, err := os.ReadFile(rel(t.CertFile))
	if err != nil {
		errs = append(errs, fmt.Errorf("tls.cert_file: %w", err))
	}
	keyPEM, err := os.ReadFile(rel(t.KeyFile))
	if err != nil {
		errs = append(errs, fmt.Errorf("tls.key_file: %w", err))
	}
	var cert tls.Certificate
	if len(errs) == 0 {
		if cert, err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
			errs = append(errs, fmt.Errorf("tls.cert_file: %s with tls.key_file %s: %w", rel(t.CertFile), rel(t.KeyFile), err))
		}
	}
	clear(keyPEM)
	var pool *x509.CertPool
	if t.ClientCAFile != "" {
		if pool, err = tlsconf.CertPool(rel(t.ClientCAFile)); err != nil {
			errs = append(errs, fmt.Errorf("tls.client_ca_file: %w", err))
		}
	}
	return cert, pool, errors.Join(errs...)
}

func (c *Config) checkTLSFiles() error {
	if c.TLS == nil {
		return nil
	}
	_, _, err := c.TLS.Load(c.baseDir())
	return c.withLines(err)
}

func (c *Config) checkIdentityKeys() error {
	if c.Identity == nil {
		return nil
	}
	var errs []error
	for i := range c.Identity.Keys {
		if _, err := c.Identity.loadKey(i, c.baseDir()); err != nil {
			errs = append(errs, c.lineErr(fmt.Sprintf("identity.keys[%d].file", i), err))
		}
	}
	return collect(errs...)
}

// checkAuditOutput checks that the audit file can be appended to, or
// created in its directory, without creating or changing it.
func (c *Config) checkAuditOutput() error {
	a := c.Audit
	if a == nil || a.Output == "stderr" || a.Output == "stdout" {
		return nil
	}
	p := c.path(a.Output)
	st, err := os.Stat(p)
	switch {
	case err == nil && !st.Mode().IsRegular():
		err = fmt.Errorf("%s is not a regular file", p)
	case err == nil:
		var f *os.File
		if f, err = os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0); err == nil {
			f.Close()
		}
	case errors.Is(err, os.ErrNotExist):
		// serve creates it: its directory must take a new file.
		err = creatableIn(filepath.Dir(p))
	}
	if err != nil {
		return c.lineErr("audit.output", fmt.Errorf("audit.output: %w", err))
	}
	return nil
}

// withLines puts the line of the key each error starts with before it.
func (c *Config) withLines(err error) error {
	var out []error
	if e, ok := collect(err).(Errors); ok {
		for _, x := range e {
			out = append(out, c.at(x, ""))
		}
	}
	return collect(out...)
}

// creatableIn checks that a file can be created in dir, by creating and
// removing one.
func creatableIn(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("directory %s: %w", dir, errors.Unwrap(err))
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	f, err := os.CreateTemp(dir, ".authsvc-check-*")
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("cannot create a file in %s: %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}
