package registry

import "testing"

// FuzzParseUsers: no users file panics the loader, and every hash it accepts
// can be verified without panicking.
func FuzzParseUsers(f *testing.F) {
	h, _ := HashPassword("pw", Argon2Params{Memory: 8, Time: 1, Threads: 1})
	f.Add([]byte("users:\n  - name: a\n    password_hash: \"" + h + "\"\n    digest_secret: s\n"))
	f.Add([]byte("users:\n  - name: b\n    password_hash: \"$2a$04$abcdefghijklmnopqrstuu5Zxx7rD6Xj4D2cD7K5a0s0bN1QGm2u\"\n"))
	f.Add([]byte("users: [{name: c, digest_secret: x, groups: [a, b], attributes: {m: [x]}}]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := parseUsers(b)
		if err != nil {
			return
		}
		for _, e := range d.users {
			if a, ok := e.hash.(*argonHash); ok && a.p.Memory > 64 {
				continue // too slow to verify in a fuzz loop
			}
			if e.hash != nil {
				e.hash.verify("x")
			}
		}
	})
}
