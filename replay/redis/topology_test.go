package redis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/redisconn"
	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/replay"
	"github.com/authsvc/authsvc/replay/redis"
	"github.com/authsvc/authsvc/replay/replaytest"
)

// TestConformanceSentinel runs the suites against a live Sentinel
// topology (a master, two replicas, three sentinels): the client finds the
// master through the sentinels.
func TestConformanceSentinel(t *testing.T) {
	s := testenv.StartSentinel(t, testenv.SentinelOptions{})
	cfg := redis.Config{MasterName: s.MasterName, Addrs: s.SentinelAddrs, Timeout: 2 * time.Second, ReplicasAck: loadedAck}
	t.Run("replay", func(t *testing.T) {
		replaytest.Run(t, func(t *testing.T) replay.Cache { return open(t, cfg) })
	})
	t.Run("quota", func(t *testing.T) {
		replaytest.RunQuota(t, func(t *testing.T, q replay.Quota) replay.Cache {
			c := cfg
			c.Quota = quotaConfig(q)
			return open(t, c)
		})
	})
}

// TestConformanceCluster runs the suite against a live Redis Cluster
// (three masters with a replica each): keys spread over the shards.
func TestConformanceCluster(t *testing.T) {
	c := testenv.StartCluster(t, testenv.ClusterOptions{})
	replaytest.Run(t, func(t *testing.T) replay.Cache {
		return open(t, redis.Config{Cluster: true, Addrs: c.Addrs, Timeout: 2 * time.Second, ReplicasAck: loadedAck, Quota: replay.QuotaConfig{Principal: -1, Address: -1}})
	})
}

// loadedAck is replicas_ack's default replica count with a timeout for a
// loaded test machine (packages run in parallel on two cores): a WAIT that
// times out is an error, and the suites expect none.
var loadedAck = redisconn.Ack{Timeout: time.Second}

// quotaConfig is q as configuration, a kind q leaves at zero turned off.
func quotaConfig(q replay.Quota) replay.QuotaConfig {
	qc := replay.QuotaConfig(q)
	if qc.Principal == 0 {
		qc.Principal = -1
	}
	if qc.Address == 0 {
		qc.Address = -1
	}
	return qc
}

// TestSentinelACLAndTLS runs the suite against a Sentinel topology where
// every data node and sentinel speaks TLS only and requires client
// certificates, the data nodes have the replay cache's ACL user (with
// +wait) and no open default user, and the sentinels have a client user
// with only what finding the master needs (docs/replicas.md). Then the
// master is killed: the client follows the promotion over TLS.
func TestSentinelACLAndTLS(t *testing.T) {
	pki := testenv.NewRedisPKI(t)
	s := testenv.StartSentinel(t, testenv.SentinelOptions{
		Node: testenv.RedisOptions{RequirePass: "admin-pw", User: "authsvc", UserPassword: "authsvc-pw", UserKeyPrefix: "test:",
			TLSCertFile: pki.NodeCert, TLSKeyFile: pki.NodeKey, TLSCAFile: pki.CA},
		SentinelUser: "authsvc-sentinel", SentinelPassword: "sentinel-pw",
	})
	cfg := redis.Config{MasterName: s.MasterName, Addrs: s.SentinelAddrs, Timeout: 2 * time.Second, ReplicasAck: loadedAck,
		Username: "authsvc", Password: "authsvc-pw", SentinelUsername: "authsvc-sentinel", SentinelPassword: "sentinel-pw",
		TLS: redis.TLSConfig{CAFile: pki.CA, CertFile: pki.ClientCert, KeyFile: pki.ClientKey}}
	replaytest.Run(t, func(t *testing.T) replay.Cache { return open(t, cfg) })

	c := open(t, cfg)
	ctx := context.Background()
	exp := time.Now().Add(time.Minute)
	before := "ut-nonce:" + randHex(16)
	if err := c.Add(ctx, before, exp); err != nil {
		t.Fatal(err)
	}
	old := s.Master()
	old.Kill()
	s.WaitFailover(old, 30*time.Second, false)
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := c.Add(ctx, before, exp)
		if errors.Is(err, replay.ErrReplay) {
			break
		}
		if err == nil {
			t.Fatal("a nonce recorded before the failover was accepted again")
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer 30 s after the failover: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := c.Add(ctx, "ut-nonce:"+randHex(16), exp); err != nil {
		t.Fatalf("fresh nonce on the new master: %v", err)
	}

	// Without the client user's password the sentinels refuse; without a
	// client certificate the TLS handshake fails.
	for name, bad := range map[string]redis.Config{
		"sentinel password": func() redis.Config { b := cfg; b.SentinelPassword = "wrong"; return b }(),
		"no certificate":    func() redis.Config { b := cfg; b.TLS = redis.TLSConfig{CAFile: pki.CA}; return b }(),
	} {
		bad.KeyPrefix = "test:" + randHex(4) + ":"
		b, err := bad.Open(nil)
		if err == nil {
			err = b.Add(ctx, "ut-nonce:"+randHex(16), exp)
			b.Close()
		}
		if err == nil {
			t.Errorf("%s: Add succeeded", name)
		}
		t.Logf("%s: %v", name, err)
	}
}

// TestClusterACL runs the suite against a Redis Cluster as an ACL user
// with the replay cache's commands plus +cluster|slots (the slot map) and
// +command (go-redis reads the command table to route commands), and
// nothing else; the default user needs a password.
func TestClusterACL(t *testing.T) {
	c := testenv.StartCluster(t, testenv.ClusterOptions{
		Node: testenv.RedisOptions{RequirePass: "admin-pw", User: "authsvc", UserPassword: "authsvc-pw", UserKeyPrefix: "test:"},
	})
	for _, n := range c.Nodes {
		if err := c.Admin(n).Do(context.Background(), "ACL", "SETUSER", "authsvc", "+cluster|slots", "+command").Err(); err != nil {
			t.Fatal(err)
		}
	}
	cfg := redis.Config{Cluster: true, Addrs: c.Addrs, Timeout: 2 * time.Second, ReplicasAck: loadedAck, Username: "authsvc", Password: "authsvc-pw",
		Quota: replay.QuotaConfig{Principal: -1, Address: -1}}
	replaytest.Run(t, func(t *testing.T) replay.Cache { return open(t, cfg) })
}
