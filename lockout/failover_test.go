package lockout

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/redisconn"
	"github.com/authsvc/authsvc/internal/testenv"
)

// TestRedisStoreFailover: with acknowledged failures (the default with
// Sentinel and Cluster), a lock taken and failures counted before the
// master is killed are still there on the replica that takes over: the
// principal stays locked, and the counted failures plus one more lock the
// other one.
func TestRedisStoreFailover(t *testing.T) {
	for _, topo := range []string{"sentinel", "cluster"} {
		t.Run(topo, func(t *testing.T) {
			var conn redisconn.Conn
			var master func(key string) *testenv.Redis
			var failover func(old *testenv.Redis)
			if topo == "sentinel" {
				s := testenv.StartSentinel(t, testenv.SentinelOptions{})
				conn = redisconn.Conn{MasterName: s.MasterName, Addrs: s.SentinelAddrs, Timeout: 2 * time.Second, Ack: redisconn.Ack{Timeout: time.Second}}
				master = func(string) *testenv.Redis { return s.Master() }
				failover = func(old *testenv.Redis) { s.WaitFailover(old, 30*time.Second, false) }
			} else {
				c := testenv.StartCluster(t, testenv.ClusterOptions{})
				conn = redisconn.Conn{Cluster: true, Addrs: c.Addrs, Timeout: 2 * time.Second, Ack: redisconn.Ack{Timeout: time.Second}}
				var replica *testenv.Redis
				master = func(key string) *testenv.Redis { m := c.MasterFor(key); replica = c.ReplicaOf(m); return m }
				failover = func(old *testenv.Redis) {
					c.WaitFailover(old, replica, 30*time.Second)
					old.Start() // the shard's replica again: acknowledged writes need one
					c.WaitHealthy(30 * time.Second)
				}
			}
			client, err := conn.NewClient("test")
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			st := &Redis{Client: client, Prefix: "test:bf:", Timeout: 2 * time.Second, Ack: conn.Acker(client)}
			if st.Ack == nil {
				t.Fatal("no acknowledgement by default")
			}
			testStoreFailover(t, st, master, failover)
		})
	}
}

func testStoreFailover(t *testing.T, st *Redis, master func(string) *testenv.Redis, failover func(*testenv.Redis)) {
	ctx, now := context.Background(), time.Now()
	p := Policy{MaxFailures: 3, Window: time.Hour, Lockout: time.Hour, MaxLockout: 2 * time.Hour}
	n, _, _ := st.keys("p:alice")
	old := master(n)
	// A second principal on the same master (a Cluster spreads keys).
	bob := ""
	for i := 0; i < 100 && bob == ""; i++ {
		k := fmt.Sprintf("p:bob-%d", i)
		if nb, _, _ := st.keys(k); master(nb) == old {
			bob = k
		}
	}
	if bob == "" {
		t.Fatal("no principal found on the failing master")
	}
	master(n) // (a Cluster's replica to wait for is the last master asked about)
	for i := 0; i < 3; i++ {
		if _, err := st.Fail(ctx, "p:alice", p, now); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 2; i++ {
		if _, err := st.Fail(ctx, bob, p, now); err != nil {
			t.Fatal(err)
		}
	}
	old.Kill()
	failover(old)
	deadline := time.Now().Add(30 * time.Second)
	for {
		locked, _, err := st.Status(ctx, "p:alice", now)
		if err == nil {
			if !locked {
				t.Fatal("the lock was lost in the failover")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Status 30 s after the failover: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if locked, err := st.Fail(ctx, bob, p, now); err != nil || !locked {
		t.Fatalf("third failure of %s after the failover: locked %v err %v; the first two were lost", bob, locked, err)
	}
}
