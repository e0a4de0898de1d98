// Command authsvc authenticates SOAP traffic by its WS-Security header.
//
//	authsvc serve [-config FILE] [-listen ADDR]
//	authsvc check-config [-config FILE]
//	authsvc healthcheck [-config FILE | -url URL] [-timeout D]
//	authsvc hash-password [-stdin]
//	authsvc envelope -user NAME [-password PW] [-digest] [-soap12] [-body XML]
//	authsvc keytab list FILE
//	authsvc version
//
// -config defaults to $AUTHSVC_CONFIG; every command answers -h; exit
// status 0 done, 1 failed, 2 usage error (README, "Command line").
//
// It is a thin main over package app; see authn/extensible for building a
// binary with module types of your own.
package main

import (
	"github.com/authsvc/authsvc/app"
	"github.com/authsvc/authsvc/config"
)

func main() { app.Main(config.Builtin()) }
