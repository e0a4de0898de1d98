package wsse

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

func BenchmarkParse(b *testing.B) {
	base, err := os.ReadFile("testdata/digest11.xml")
	if err != nil {
		b.Fatal(err)
	}
	for _, extra := range []int{0, 1 << 20} {
		msg := []byte(strings.Replace(string(base), "<ns0:text>hello</ns0:text>", "<ns0:text>"+strings.Repeat("x", extra)+"</ns0:text>", 1))
		b.Run(fmt.Sprintf("size=%d", len(msg)), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				env, err := Parse(msg, nil)
				if err != nil || len(env.Security.UsernameTokens) != 1 {
					b.Fatal(err)
				}
			}
		})
	}
}
