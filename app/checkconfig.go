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
	// Open everything once (users files, keytabs, ...) to find what only
	// opening can find, then close it again.
	rt, err := cfg.Build(NewLogger(config.Log{Level: "warn"}))
	if err != nil {
		return err
	}
	rt.Close()
	fmt.Printf("%s: OK (%d chain entries)\n", path, len(cfg.Modules))
	return nil
}
