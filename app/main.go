package app

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"golang.org/x/term"

	"github.com/authsvc/authsvc/config"
	"github.com/authsvc/authsvc/keytabs"
	"github.com/authsvc/authsvc/registry"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsseclient"
)

const usage = `authsvc authenticates SOAP traffic by its WS-Security header.

Usage:
  authsvc serve -config FILE [-listen ADDR]   run the service
  authsvc check-config -config FILE           check a configuration and exit
  authsvc hash-password [-stdin]              print an argon2id hash for a users file
  authsvc envelope -user NAME -password PW [-digest] [-soap12] [-body XML]
                                              print a SOAP envelope with a UsernameToken
  authsvc keytab list FILE                    list the keys in a keytab (like klist -k -e -t)
  authsvc version                             print the version
`

// Main is the command line of authsvc: cmd/authsvc calls it with
// config.Builtin(), and a custom binary with that table extended by its own
// module, registry or replay-cache types. It does not return.
func Main(types *config.Types) {
	if types == nil {
		types = config.Builtin()
	}
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:], types)
	case "check-config":
		err = checkConfig(os.Args[2:], types)
	case "keytab":
		err = keytabCmd(os.Args[2:])
	case "hash-password":
		err = hashPassword(os.Args[2:])
	case "envelope":
		err = envelope(os.Args[2:])
	case "version":
		fmt.Println(version())
	case "-h", "-help", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "authsvc: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "authsvc:", err)
		os.Exit(1)
	}
}

func version() string {
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		v = bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				v += " " + s.Value
			}
		}
	}
	return "authsvc " + v
}

func serve(args []string, types *config.Types) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	path := fs.String("config", "", "configuration file (YAML)")
	listen := fs.String("listen", "", "address to listen on, overriding the configuration's listen")
	fs.Parse(args)
	if *path == "" {
		return errors.New("serve: -config FILE is required")
	}
	cfg, err := config.Load(*path, types)
	if err != nil {
		return err
	}
	return Serve(context.Background(), cfg, *listen, NewLogger(cfg.Log), nil)
}

func checkConfig(args []string, types *config.Types) error {
	fs := flag.NewFlagSet("check-config", flag.ExitOnError)
	path := fs.String("config", "", "configuration file (YAML)")
	fs.Parse(args)
	if *path == "" {
		return errors.New("check-config: -config FILE is required")
	}
	cfg, err := config.Load(*path, types)
	if err != nil {
		return err
	}
	// Open everything once (users files, keytabs, ...) to find what only
	// opening can find, then close it again.
	rt, err := cfg.Build(NewLogger(config.Log{Level: "warn"}))
	if err != nil {
		return err
	}
	rt.Close()
	fmt.Printf("%s: OK (%d chain entries)\n", *path, len(cfg.Modules))
	return nil
}

func hashPassword(args []string) error {
	fs := flag.NewFlagSet("hash-password", flag.ExitOnError)
	stdin := fs.Bool("stdin", false, "read the password from the first line of standard input")
	fs.Parse(args)
	var pw string
	if *stdin || !term.IsTerminal(int(os.Stdin.Fd())) {
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

func envelope(args []string) error {
	fs := flag.NewFlagSet("envelope", flag.ExitOnError)
	user := fs.String("user", "", "username")
	pw := fs.String("password", "", "password")
	digest := fs.Bool("digest", false, "send PasswordDigest instead of PasswordText")
	soap12 := fs.Bool("soap12", false, "make a SOAP 1.2 envelope")
	body := fs.String("body", `<ns:Echo xmlns:ns="urn:example:echo"><ns:text>hello</ns:text></ns:Echo>`, "XML for the SOAP Body")
	fs.Parse(args)
	if *user == "" {
		return errors.New("envelope: -user is required")
	}
	v := wsse.SOAP11
	if *soap12 {
		v = wsse.SOAP12
	}
	os.Stdout.Write(wsseclient.Envelope(v, wsseclient.UsernameToken{Username: *user, Password: *pw, Digest: *digest}, *body))
	fmt.Println()
	return nil
}

func keytabCmd(args []string) error {
	if len(args) != 2 || args[0] != "list" {
		return errors.New("usage: authsvc keytab list FILE")
	}
	return keytabs.List(os.Stdout, args[1])
}
