package app

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/authsvc/authsvc/config"
	"github.com/authsvc/authsvc/internal/buildinfo"
	"github.com/authsvc/authsvc/keytabs"
	"github.com/authsvc/authsvc/registry"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsseclient"
)

// Exit codes of the authsvc command (README, "Command line").
const (
	ExitOK      = 0 // done; healthcheck: the instance is ready
	ExitFailure = 1 // the command failed: invalid configuration, serve stopped on an error, not ready
	ExitUsage   = 2 // the command line is wrong: unknown command or flag, missing or extra argument
)

// ConfigEnv names the environment variable that is the default of -config.
const ConfigEnv = "AUTHSVC_CONFIG"

// command is one subcommand: its flags are declared by flags, its work is
// run, called with the positional arguments that remain (nargs of them).
type command struct {
	name     string
	synopsis string // the flags, in the list of commands
	args     string // after the flags, in the usage line
	summary  string
	nargs    int
	flags    func(fs *flag.FlagSet) func(args []string) error
}

func commands(types *config.Types) []command {
	return []command{
		{name: "serve", synopsis: "[-config FILE] [-listen ADDR]", summary: "run the service", flags: func(fs *flag.FlagSet) func([]string) error { return serveFlags(fs, types) }},
		{name: "check-config", synopsis: "[-config FILE]", summary: "check a configuration, opening every file it names, and exit", flags: func(fs *flag.FlagSet) func([]string) error { return checkConfigFlags(fs, types) }},
		{name: "healthcheck", synopsis: "[-config FILE | -url URL] [-timeout D]", summary: "exit 0 when a running instance's /readyz answers 200, 1 otherwise", flags: func(fs *flag.FlagSet) func([]string) error { return healthcheckFlags(fs, types) }},
		{name: "hash-password", synopsis: "[-stdin]", summary: "print an argon2id hash for a users file", flags: hashPasswordFlags},
		{name: "envelope", synopsis: "-user NAME [-password PW] [-digest] [-soap12] [-body XML]", summary: "print a SOAP envelope with a UsernameToken", flags: envelopeFlags},
		{name: "keytab", args: "list FILE", summary: "list the keys in a keytab (like klist -k -e -t)", nargs: 2, flags: keytabFlags},
		{name: "version", summary: "print the version, commit and build date", flags: func(*flag.FlagSet) func([]string) error {
			return func([]string) error { fmt.Println(buildinfo.Get()); return nil }
		}},
	}
}

func usage(cmds []command) string {
	var b strings.Builder
	b.WriteString("authsvc authenticates SOAP traffic by its WS-Security header.\n\nUsage:\n")
	for _, c := range cmds {
		line := strings.Join(strings.Fields("authsvc "+c.name+" "+c.synopsis+" "+c.args), " ")
		fmt.Fprintf(&b, "  %s\n      %s\n", line, c.summary)
	}
	b.WriteString("  authsvc -version\n      print the version (also --version)\n\n" +
		"Every command answers -h. -config defaults to $" + ConfigEnv + ".\n" +
		"Exit status: 0 done (healthcheck: ready), 1 failed (healthcheck: not ready), 2 usage error.\n")
	return b.String()
}

// Main is the command line of authsvc: cmd/authsvc calls it with
// config.Builtin(), and a custom binary with that table extended by its own
// module, registry or replay-cache types. It does not return.
func Main(types *config.Types) {
	if types == nil {
		types = config.Builtin()
	}
	os.Exit(Run(os.Args[1:], types, os.Stdout, os.Stderr))
}

// Run runs the command line args (without the program name) and returns
// the exit status.
func Run(args []string, types *config.Types, stdout, stderr io.Writer) int {
	cmds := commands(types)
	if len(args) == 0 {
		fmt.Fprint(stderr, usage(cmds))
		return ExitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage(cmds))
		return ExitOK
	case "-version", "--version":
		fmt.Fprintln(stdout, buildinfo.Get())
		return ExitOK
	}
	for _, c := range cmds {
		if c.name == args[0] {
			return runCommand(c, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "authsvc: unknown command %q\n\n%s", args[0], usage(cmds))
	return ExitUsage
}

// runCommand parses the flags of c: -h prints its usage on stdout (exit
// 0), a bad flag or a wrong number of arguments is a usage error (exit 2).
func runCommand(c command, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	run := c.flags(fs)
	printUsage := func(w io.Writer) {
		fmt.Fprintf(w, "Usage: %s\n\n%s\n", strings.Join(strings.Fields("authsvc "+c.name+" "+c.synopsis+" "+c.args), " "), c.summary)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	err := fs.Parse(args)
	if err == nil && c.name == "keytab" && len(fs.Args()) > 0 && fs.Args()[0] == "list" {
		// "keytab list -h"
		for _, a := range fs.Args()[1:] {
			if a == "-h" || a == "-help" || a == "--help" {
				err = flag.ErrHelp
			}
		}
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		printUsage(stdout)
		return ExitOK
	case err != nil:
		fmt.Fprintf(stderr, "authsvc %s: %v\n", c.name, err)
		printUsage(stderr)
		return ExitUsage
	case len(fs.Args()) != c.nargs:
		if len(fs.Args()) > c.nargs {
			fmt.Fprintf(stderr, "authsvc %s: unexpected argument %q\n", c.name, fs.Args()[c.nargs])
		} else {
			fmt.Fprintf(stderr, "authsvc %s: missing arguments: %s\n", c.name, c.args)
		}
		printUsage(stderr)
		return ExitUsage
	}
	if err := run(fs.Args()); err != nil {
		var u usageError
		if errors.As(err, &u) {
			fmt.Fprintf(stderr, "authsvc %s: %v\n", c.name, err)
			printUsage(stderr)
			return ExitUsage
		}
		fmt.Fprintln(stderr, "authsvc:", err)
		return ExitFailure
	}
	return ExitOK
}

// usageError is a mistake on the command line found after flag parsing
// (a required flag missing): exit 2.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

// configFlag declares -config with $AUTHSVC_CONFIG as its default.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", os.Getenv(ConfigEnv), "configuration file (YAML); default $"+ConfigEnv)
}

func requireConfig(path string) error {
	if path == "" {
		return usageError{"-config FILE (or $" + ConfigEnv + ") is required"}
	}
	return nil
}

func serveFlags(fs *flag.FlagSet, types *config.Types) func([]string) error {
	path := configFlag(fs)
	listen := fs.String("listen", "", "address to listen on, overriding the configuration's listen")
	return func([]string) error {
		if err := requireConfig(*path); err != nil {
			return err
		}
		cfg, err := config.Load(*path, types)
		if err != nil {
			return err
		}
		return Serve(context.Background(), cfg, *listen, NewLogger(cfg.Log), nil)
	}
}

func hashPasswordFlags(fs *flag.FlagSet) func([]string) error {
	stdin := fs.Bool("stdin", false, "read the password from the first line of standard input")
	return func([]string) error { return hashPassword(*stdin) }
}

func hashPassword(stdin bool) error {
	var pw string
	if stdin || !term.IsTerminal(int(os.Stdin.Fd())) {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		pw = strings.TrimRight(line, "\r\n")
	} else {
		fmt.Fprint(os.Stderr, "Password: ")
		b, err := term.ReadPassword(int(os.Stdin.Fd()))
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return err
		}
		fmt.Fprint(os.Stderr, "Again: ")
		b2, err := term.ReadPassword(int(os.Stdin.Fd()))
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return err
		}
		if string(b) != string(b2) {
			return errors.New("hash-password: the passwords differ")
		}
		pw = string(b)
	}
	if pw == "" {
		return errors.New("hash-password: empty password")
	}
	h, err := registry.HashPassword(pw, registry.DefaultArgon2)
	if err != nil {
		return err
	}
	fmt.Println(h)
	return nil
}

func envelopeFlags(fs *flag.FlagSet) func([]string) error {
	user := fs.String("user", "", "username (required)")
	pw := fs.String("password", "", "password")
	digest := fs.Bool("digest", false, "send PasswordDigest instead of PasswordText")
	soap12 := fs.Bool("soap12", false, "make a SOAP 1.2 envelope")
	body := fs.String("body", `<ns:Echo xmlns:ns="urn:example:echo"><ns:text>hello</ns:text></ns:Echo>`, "XML for the SOAP Body")
	return func([]string) error {
		if *user == "" {
			return usageError{"-user is required"}
		}
		v := wsse.SOAP11
		if *soap12 {
			v = wsse.SOAP12
		}
		os.Stdout.Write(wsseclient.Envelope(v, wsseclient.UsernameToken{Username: *user, Password: *pw, Digest: *digest}, *body))
		fmt.Println()
		return nil
	}
}

func keytabFlags(*flag.FlagSet) func([]string) error {
	return func(args []string) error {
		if args[0] != "list" {
			return usageError{fmt.Sprintf("unknown keytab command %q (want: list FILE)", args[0])}
		}
		return keytabs.List(os.Stdout, args[1])
	}
}
