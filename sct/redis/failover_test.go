package redis_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/health"
	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/sct"
	"github.com/authsvc/authsvc/sct/redis"
	"github.com/authsvc/authsvc/sct/scttest"
)

// failoverTopo is a live topology whose master the test fails: master
// returns the node serving rkey, failover waits for a replica to take over
// from old (and, for a Cluster shard left without a replica, brings old
// back as one, or acknowledged writes of that shard would fail), and
// settled waits until a continued old master is a replica again.
type failoverTopo struct {
	cfg      redis.Config
	master   func(rkey string) *testenv.Redis
	failover func(old *testenv.Redis, killed bool)
	settled  func(old *testenv.Redis)
}

func sentinelFailoverTopo(t *testing.T) failoverTopo {
	s := testenv.StartSentinel(t, testenv.SentinelOptions{})
	return failoverTopo{
		cfg:      topoConfig(s.SentinelAddrs, s.MasterName, false),
		master:   func(string) *testenv.Redis { return s.Master() },
		failover: func(old *testenv.Redis, _ bool) { s.WaitFailover(old, 30*time.Second, false) },
		settled:  func(old *testenv.Redis) { s.WaitReplica(old, 30*time.Second) },
	}
}

func clusterFailoverTopo(t *testing.T) failoverTopo {
	c := testenv.StartCluster(t, testenv.ClusterOptions{})
	var replica *testenv.Redis
	return failoverTopo{
		cfg: topoConfig(c.Addrs, "", true),
		master: func(rkey string) *testenv.Redis {
			m := c.MasterFor(rkey)
			replica = c.ReplicaOf(m)
			return m
		},
		failover: func(old *testenv.Redis, killed bool) {
			c.WaitFailover(old, replica, 30*time.Second)
			if killed {
				old.Start()
				c.WaitHealthy(30 * time.Second)
			}
		},
		settled: func(*testenv.Redis) { c.WaitHealthy(30 * time.Second) },
	}
}

// getUntilAnswered calls Get until it answers with something other than
// health.ErrUnavailable (the failover), within 30 s.
func getUntilAnswered(t *testing.T, s *redis.Store, c *sct.Context) (*sct.Context, error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := s.Get(context.Background(), c.Issuer, c.Identifier)
		if !errors.Is(err, health.ErrUnavailable) {
			return got, err
		}
		if time.Now().After(deadline) {
			t.Fatalf("Get still unavailable 30 s after the failover: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestFailoverKeepsContexts: with acknowledged writes (the default with
// Sentinel and Cluster), a context cancelled before its master is killed
// stays cancelled on the replica that takes over, and one issued stays
// issued. A master stopped (SIGSTOP) and continued after the promotion
// does not bring back a context cancelled on the new master: no Get, from
// the store that cancelled it or from a store opened afterwards, returns
// it live.
func TestFailoverKeepsContexts(t *testing.T) {
	for _, name := range []string{"sentinel", "cluster"} {
		t.Run(name, func(t *testing.T) {
			var topo failoverTopo
			if name == "sentinel" {
				topo = sentinelFailoverTopo(t)
			} else {
				topo = clusterFailoverTopo(t)
			}
			testFailoverKeepsContexts(t, topo)
		})
	}
}

func testFailoverKeepsContexts(t *testing.T, topo failoverTopo) {
	ctx := context.Background()
	st := open(t, topo.cfg)
	issuer := scttest.RandIssuer()
	cancelled, live := scttest.New(issuer, time.Hour), scttest.New(issuer, time.Hour)
	scttest.MustIssue(t, st, cancelled.Clone(), nil)
	scttest.MustCancel(t, st, issuer, cancelled.Identifier, nil)
	scttest.MustIssue(t, st, live.Clone(), nil)

	old := topo.master(st.Key(issuer, cancelled.Identifier))
	old.Kill()
	topo.failover(old, true)
	if got, err := getUntilAnswered(t, st, cancelled); !errors.Is(err, sct.ErrCancelled) {
		t.Fatalf("cancelled context after the failover: %v %v, want ErrCancelled", got, err)
	}
	if got, err := getUntilAnswered(t, st, live); err != nil {
		t.Fatalf("live context after the failover: %v", err)
	} else {
		scttest.Equal(t, got, live)
	}

	// The old master stopped; the context cancelled on the new one.
	paused := scttest.New(issuer, time.Hour)
	scttest.MustIssue(t, st, paused.Clone(), nil)
	old = topo.master(st.Key(issuer, paused.Identifier))
	old.Pause()
	topo.failover(old, false)
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := st.Cancel(ctx, issuer, paused.Identifier)
		// A WAIT without enough replicas (a Cluster shard whose only
		// replica is the stopped master) still means the tombstone is
		// on the new master.
		if err == nil || strings.Contains(err.Error(), "replicas acknowledged") {
			break
		}
		if !errors.Is(err, health.ErrUnavailable) || time.Now().After(deadline) {
			old.Resume()
			t.Fatalf("Cancel on the new master: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	old.Resume()
	fresh := open(t, topo.cfg)
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); {
		for _, s := range []*redis.Store{st, fresh} {
			got, err := s.Get(ctx, issuer, paused.Identifier)
			if err == nil || errors.Is(err, sct.ErrNotFound) {
				t.Fatalf("context cancelled on the new master, Get after the old one came back: %v %v", got, err)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	topo.settled(old)
	if _, err := getUntilAnswered(t, fresh, paused); !errors.Is(err, sct.ErrCancelled) {
		t.Fatalf("after the old master rejoined: %v, want ErrCancelled", err)
	}
}
