package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/authn/username"
	"github.com/authsvc/authsvc/internal/redisconn"
	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/registry"
	"github.com/authsvc/authsvc/replay"
	"github.com/authsvc/authsvc/replay/redis"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsseclient"
)

// BenchmarkAuthReplayCache measures whole PasswordDigest authentications
// (wsse.Parse, the chain with the UsernameToken module: freshness, secret
// lookup, digest check, and the nonce recorded in the replay cache) with the
// in-memory cache and with Redis on loopback, in one run:
//
//	go test -run '^$' -bench AuthReplayCache -benchmem ./test/e2e/
//
// serial is one authentication after another (for Redis: one round trip
// each, so latency-bound); parallel runs 8 goroutines per CPU, like
// concurrent requests, so it is throughput through the connection pool.
// Every iteration carries a fresh nonce (and its digest), made before the
// timer starts. auths/s is b.N over the elapsed time.
func BenchmarkAuthReplayCache(b *testing.B) {
	r := testenv.StartRedis(b) // once: sub-benchmarks run several times
	reg := benchRegistry(b)
	caches := []struct {
		name string
		open func(b *testing.B) replay.Cache
	}{
		{"memory", func(*testing.B) replay.Cache {
			return replay.NewMemory(replay.MemoryOptions{MaxEntries: 1 << 24})
		}},
		{"redis", func(b *testing.B) replay.Cache {
			c, err := (&redis.Config{Addrs: []string{r.Addr}, Timeout: 5 * time.Second, KeyPrefix: "bench:"}).Open(nil)
			if err != nil {
				b.Fatal(err)
			}
			return c
		}},
	}
	for _, mode := range []string{"serial", "parallel"} {
		for _, c := range caches {
			b.Run(mode+"/"+c.name, func(b *testing.B) {
				cache := c.open(b)
				defer cache.Close()
				benchAuth(b, reg, cache, mode == "parallel")
			})
		}
	}
}

func benchRegistry(b *testing.B) *registry.File {
	b.Helper()
	p := filepath.Join(b.TempDir(), "users.yaml")
	if err := os.WriteFile(p, []byte("users:\n  - {name: alice, digest_secret: wonderland, groups: [soap-users]}\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	reg, err := registry.OpenFile(p)
	if err != nil {
		b.Fatal(err)
	}
	return reg
}

// benchToken is a fresh base64 nonce and the base64 digest that goes with it.
type benchToken struct{ nonce, digest [28]byte }

func benchAuth(b *testing.B, reg *registry.File, cache replay.Cache, parallel bool) {
	m, err := username.New(username.Options{Policy: username.DefaultPolicy, Secrets: reg, Passwords: reg, Replay: cache})
	if err != nil {
		b.Fatal(err)
	}
	chain, err := authn.NewChain(authn.Entry{Name: "users", Flag: authn.Requisite, Module: m})
	if err != nil {
		b.Fatal(err)
	}
	created := time.Now()
	createdStr := created.UTC().Format("2006-01-02T15:04:05.000Z")
	body := `<ns:Echo xmlns:ns="urn:example:echo"><ns:text>hello</ns:text></ns:Echo>`
	tmpl := wsseclient.Envelope(wsse.SOAP11, wsseclient.UsernameToken{Username: "alice", Password: "wonderland", Digest: true, Created: created}, body)
	if !bytes.Contains(tmpl, []byte(createdStr)) {
		b.Fatalf("the envelope's Created is not %s:\n%s", createdStr, tmpl)
	}
	nonceAt := bytes.Index(tmpl, []byte(`Base64Binary">`)) + len(`Base64Binary">`)
	pwAt := bytes.Index(tmpl, []byte(`PasswordDigest">`)) + len(`PasswordDigest">`)

	toks := make([]benchToken, b.N)
	raw := make([]byte, 16*b.N)
	rand.Read(raw)
	for i := range toks {
		base64.StdEncoding.Encode(toks[i].nonce[:24], raw[16*i:16*i+16])
		d := username.Digest(toks[i].nonce[:24], createdStr, []byte("wonderland"))
		base64.StdEncoding.Encode(toks[i].digest[:], d[:])
	}
	var next atomic.Int64
	opts := &wsse.Options{}
	ctx := context.Background()
	auth := func(msg []byte) bool {
		tk := &toks[next.Add(1)-1]
		copy(msg[nonceAt:], tk.nonce[:24])
		copy(msg[pwAt:], tk.digest[:])
		env, err := wsse.Parse(msg, opts)
		if err != nil {
			b.Errorf("parse: %v", err)
			return false
		}
		s, err := chain.Authenticate(ctx, &authn.Request{Envelope: env, Now: time.Now()})
		if err != nil || s.Principal != "alice" {
			b.Errorf("authenticate: %v", err)
			return false
		}
		return true
	}
	// Each authentication's latency, into one slot per iteration.
	lat := make([]time.Duration, b.N)
	var slot atomic.Int64
	timed := func(msg []byte) bool {
		t0 := time.Now()
		ok := auth(msg)
		lat[slot.Add(1)-1] = time.Since(t0)
		return ok
	}
	b.SetBytes(int64(len(tmpl)))
	b.ReportAllocs()
	b.ResetTimer()
	if parallel {
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			msg := bytes.Clone(tmpl)
			for pb.Next() {
				if !timed(msg) {
					return
				}
			}
		})
	} else {
		msg := bytes.Clone(tmpl)
		for i := 0; i < b.N; i++ {
			if !timed(msg) {
				return
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "auths/s")
	lat = lat[:slot.Load()]
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
}

// BenchmarkAuthReplicasAck measures the cost of acknowledged records
// (replicas_ack): whole authentications, as BenchmarkAuthReplayCache, on
// a master with one replica on loopback, each nonce recorded with SET NX
// alone and with SET NX then WAIT 1 on the same connection:
//
//	go test -run '^$' -bench AuthReplicasAck -benchmem ./test/e2e/
//
// Besides ns/op and auths/s it reports each authentication's latency at
// the median and the 99th percentile (p50-µs, p99-µs).
func BenchmarkAuthReplicasAck(b *testing.B) {
	master := testenv.StartRedis(b)
	testenv.StartRedisWith(b, testenv.RedisOptions{Conf: []string{fmt.Sprintf("replicaof 127.0.0.1 %d", master.Port)}})
	reg := benchRegistry(b)
	waitReplica(b, master)
	for _, mode := range []string{"serial", "parallel"} {
		for _, c := range []struct {
			name string
			ack  redisconn.Ack
		}{{"no-ack", redisconn.Ack{Replicas: -1}}, {"ack1", redisconn.Ack{Replicas: 1, Timeout: time.Second}}} {
			b.Run(mode+"/"+c.name, func(b *testing.B) {
				cache, err := (&redis.Config{Addrs: []string{master.Addr}, Timeout: 5 * time.Second, KeyPrefix: "bench:", ReplicasAck: c.ack}).Open(nil)
				if err != nil {
					b.Fatal(err)
				}
				defer cache.Close()
				benchAuth(b, reg, cache, mode == "parallel")
			})
		}
	}
}

// waitReplica waits until master has a replica online.
func waitReplica(b *testing.B, master *testenv.Redis) {
	b.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: master.Addr})
	defer c.Close()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if info, _ := c.Info(context.Background(), "replication").Result(); strings.Contains(info, "state=online") {
			return
		}
	}
	b.Fatal("the replica did not come online")
}
