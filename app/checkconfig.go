package app

import (
	"flag"
	"fmt"

	"github.com/authsvc/authsvc/config"
)

func checkConfigFlags(fs *flag.FlagSet, types *config.Types) func([]string) error {
	path := configFlag(fs)
	return func([]string) error {
		if err := requireConfig(*path); err != nil {
			return err
		}
		return checkConfig(*path, types)
	}
}

func checkConfig(path string, types *config.Types) error {
	cfg, err := config.Load(path, types)
	if err != nil {
		return err
	}
	// Open what serve opens (users files, keytabs, TLS and identity keys,
	// the audit file, exec programs, ...) without binding or dialing, then
	// close it again; every failure is reported.
	if err := cfg.Check(NewLogger(config.Log{Level: "warn"})); err != nil {
		return fmt.Errorf("config: %s: %w", path, err)
	}
	fmt.Printf("%s: OK (%d chain entries)\n", path, len(cfg.Modules))
	return nil
}
