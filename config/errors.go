package config

import (
	"fmt"
	"strings"
)

// Errors is every problem found in a configuration, in file order where
// the order is known: check-config reports them all at once.
type Errors []error

func (e Errors) Error() string {
	if len(e) == 1 {
		return e[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d errors:", len(e))
	for _, err := range e {
		b.WriteString("\n  ")
		b.WriteString(strings.ReplaceAll(err.Error(), "\n", "\n  "))
	}
	return b.String()
}

// Unwrap lets errors.Is and errors.As see each error.
func (e Errors) Unwrap() []error { return e }

// collect flattens errs (nil, Errors and errors.Join values included) into
// one list, or nil when there is none.
func collect(errs ...error) error {
	var out Errors
	var add func(err error)
	add = func(err error) {
		switch e := err.(type) {
		case nil:
		case Errors:
			for _, x := range e {
				add(x)
			}
		case interface{ Unwrap() []error }:
			for _, x := range e.Unwrap() {
				add(x)
			}
		default:
			out = append(out, err)
		}
	}
	for _, err := range errs {
		add(err)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
