// Command authsvc authenticates SOAP traffic by its WS-Security header.
//
//	authsvc serve -config FILE [-listen ADDR]
//	authsvc check-config -config FILE
//	authsvc hash-password [-stdin]
//	authsvc envelope -user NAME -password PW [-digest] [-soap12]
//	authsvc keytab list FILE
//	authsvc version
//
// It is a thin main over package app; see authn/extensible for building a
// binary with module types of your own.
package main

import (
	"github.com/authsvc/authsvc/app"
	"github.com/authsvc/authsvc/config"
)

func main() { app.Main(config.Builtin()) }
