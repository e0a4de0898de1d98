// Package layering holds no code: its test checks the import rules that
// keep authsvc's layers apart (see layering_test.go).
package layering
