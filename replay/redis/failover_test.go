package redis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authsvc/authsvc/health"
	"github.com/authsvc/authsvc/internal/redisconn"
	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/replay"
	"github.com/authsvc/authsvc/replay/redis"
)

// TestClusterFailover: a shard's master is killed and its replica takes
// over. Without acknowledged records the cache records that shard's keys
// again once the client has read the new slot map, without being
// reopened. With them (one replica), the shard has no replica left, so
// its fresh keys are refused (ErrUnavailable, never accepted unreplicated)
// until the killed node is back as the new master's replica; then they are
// recorded again.
func TestClusterFailover(t *testing.T) {
	cl := testenv.StartCluster(t, testenv.ClusterOptions{})
	ctx := context.Background()
	noQuota := replay.QuotaConfig{Principal: -1, Address: -1}
	acked := open(t, redis.Config{Cluster: true, Addrs: cl.Addrs, Timeout: 2 * time.Second, Quota: noQuota, ReplicasAck: loadedAck})
	plain := open(t, redis.Config{Cluster: true, Addrs: cl.Addrs, Timeout: 500 * time.Millisecond, Quota: noQuota,
		ReplicasAck: redisconn.Ack{Replicas: -1}})
	exp := time.Now().Add(time.Minute)
	// Keys of the shard that fails, found by asking the cluster.
	old := cl.MasterFor(acked.Key("probe"))
	var keys []string
	for len(keys) < 400 {
		k := "k:" + randHex(8)
		if cl.MasterFor(acked.Key(k)) == old {
			keys = append(keys, k)
		}
	}
	next := func() string { k := keys[0]; keys = keys[1:]; return k }
	for _, c := range []*redis.Cache{acked, plain} {
		if err := c.Add(ctx, next(), exp); err != nil {
			t.Fatal(err)
		}
	}

	replica := cl.ReplicaOf(old)
	old.Kill()
	start := time.Now()
	cl.WaitFailover(old, replica, 30*time.Second)
	t.Logf("failover after %s", time.Since(start))

	// recovered waits until 20 Adds in a row succeed; every failure must
	// be ErrUnavailable.
	recovered := func(c *redis.Cache, max time.Duration) (bool, error) {
		deadline, run := time.Now().Add(max), 0
		var last error
		for time.Now().Before(deadline) && run < 20 && len(keys) > 0 {
			err := c.Add(ctx, next(), exp)
			switch {
			case err == nil:
				run++
			case errors.Is(err, health.ErrUnavailable):
				run, last = 0, err
				time.Sleep(20 * time.Millisecond)
			default:
				t.Fatalf("fresh key: %v", err)
			}
		}
		return run >= 20, last
	}
	if ok, err := recovered(plain, 15*time.Second); !ok {
		t.Fatalf("without acknowledgement: no recovery after the failover: %v", err)
	}
	t.Logf("without acknowledgement: recovered %s after the kill", time.Since(start))
	if ok, err := recovered(acked, 2*time.Second); ok {
		t.Fatal("with acknowledgement: keys of a shard without a replica were recorded")
	} else {
		t.Logf("with acknowledgement, no replica: %v", err)
	}

	old.Start() // comes back as the new master's replica (nodes.conf)
	if ok, err := recovered(acked, 30*time.Second); !ok {
		t.Fatalf("with acknowledgement: no recovery once the replica is back: %v", err)
	}
	t.Logf("with acknowledgement: recovered %s after the kill", time.Since(start))
}
