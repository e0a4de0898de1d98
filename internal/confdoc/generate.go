package confdoc

import (
	"reflect"
	"strings"

	"github.com/authsvc/authsvc/config"
)

const minimal = `registries: {users: {type: file, path: users.yaml}}
chain: [{name: users, type: username, flag: sufficient, registry: users}]
`

// Generate is the generated part of docs/configuration.md for types.
func Generate(c Comments, types *config.Types) string {
	var b strings.Builder
	b.WriteString("### Top level\n\n")
	// The top level's defaults are what Parse fills in around a minimal
	// chain.
	parsed, err := config.Parse([]byte(minimal), types)
	if err != nil {
		panic("confdoc: the minimal configuration does not parse: " + err.Error())
	}
	top := c.Walk("", reflect.ValueOf(parsed))
	Table(&b, top)
	section := func(title, intro string, names []string, fresh func(string) any, prefix string) {
		b.WriteString("\n### " + title + "\n\n" + intro + "\n")
		for _, n := range names {
			b.WriteString("\n#### `type: " + n + "`\n\n")
			Table(&b, c.Walk(prefix, reflect.ValueOf(fresh(n))))
		}
	}
	section("replay", "The replay cache, by `type` (default `memory`).", sortedNames(types.Replay),
		func(n string) any { return types.Replay[n]() }, "replay")
	section("registries", "Named user stores under `registries.NAME`, by `type`.", sortedNames(types.Registries),
		func(n string) any { return types.Registries[n]() }, "registries.NAME")
	section("chain", "Each chain entry has `name` (default: its type), `type` and `flag` (`required`, `requisite`, "+
		"`sufficient` or `optional`), and the keys of its type.", sortedNames(types.Modules),
		func(n string) any { return types.Modules[n]() }, "chain[]")
	return b.String()
}
