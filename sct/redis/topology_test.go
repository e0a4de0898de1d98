package redis_test

import (
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/redisconn"
	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/sct"
	"github.com/authsvc/authsvc/sct/redis"
	"github.com/authsvc/authsvc/sct/scttest"
)

// topoConfig is a Config for the given topology with a fresh prefix and
// the test keyring.
func topoConfig(addrs []string, masterName string, cluster bool) redis.Config {
	return redis.Config{
		Addrs: addrs, MasterName: masterName, Cluster: cluster,
		KeyPrefix: "test:sct:" + randHex(6) + ":",
		Timeout:   5 * time.Second,
		// A timeout for a loaded test machine: a WAIT that times out
		// is an error, and the suites expect none.
		ReplicasAck: redisconn.Ack{Timeout: time.Second},
		Keys:        []redis.KeyConfig{{ID: "k1", Hex: key1}, {ID: "k2", Hex: key2}},
		WriteKey:    "k1",
	}
}

// TestConformanceTopologies runs the store's suites against a live
// Sentinel topology (a master, two replicas, three sentinels) and a live
// Redis Cluster (three masters with a replica each).
func TestConformanceTopologies(t *testing.T) {
	for _, topo := range []string{"sentinel", "cluster"} {
		t.Run(topo, func(t *testing.T) {
			var cfg func() redis.Config
			if topo == "sentinel" {
				s := testenv.StartSentinel(t, testenv.SentinelOptions{})
				cfg = func() redis.Config { return topoConfig(s.SentinelAddrs, s.MasterName, false) }
			} else {
				c := testenv.StartCluster(t, testenv.ClusterOptions{})
				cfg = func() redis.Config { return topoConfig(c.Addrs, "", true) }
			}
			t.Run("store", func(t *testing.T) {
				scttest.Run(t, func(t *testing.T) sct.Store { return open(t, cfg()) })
			})
			t.Run("replicas", func(t *testing.T) {
				scttest.RunReplicas(t, func(t *testing.T) []sct.Store {
					c := cfg()
					var rs []sct.Store
					for i := 0; i < 3; i++ {
						s, err := c.Open(nil)
						if err != nil {
							t.Fatal(err)
						}
						rs = append(rs, s)
					}
					return rs
				})
			})
		})
	}
}
