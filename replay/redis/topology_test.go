package redis_test

import (
	"testing"
	"time"

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
	cfg := redis.Config{MasterName: s.MasterName, Addrs: s.SentinelAddrs, Timeout: 2 * time.Second}
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
		return open(t, redis.Config{Cluster: true, Addrs: c.Addrs, Timeout: 2 * time.Second, Quota: replay.QuotaConfig{Principal: -1, Address: -1}})
	})
}

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
