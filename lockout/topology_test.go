package lockout

import (
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authsvc/authsvc/internal/testenv"
)

// TestRedisStoreTopologies runs the store's contract against a live
// Sentinel topology (a master, two replicas, three sentinels) and a live
// Redis Cluster (three masters with a replica each): a key's three Redis
// keys share one hash slot, so the script runs on one shard.
func TestRedisStoreTopologies(t *testing.T) {
	t.Run("sentinel", func(t *testing.T) {
		s := testenv.StartSentinel(t, testenv.SentinelOptions{})
		c := goredis.NewFailoverClient(&goredis.FailoverOptions{MasterName: s.MasterName, SentinelAddrs: s.SentinelAddrs,
			MaxRetries: -1, ReadTimeout: 2 * time.Second})
		defer c.Close()
		testStore(t, &Redis{Client: c, Prefix: "test:bf:", Timeout: 2 * time.Second})
	})
	t.Run("cluster", func(t *testing.T) {
		cl := testenv.StartCluster(t, testenv.ClusterOptions{})
		c := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cl.Addrs, MaxRetries: -1, ReadTimeout: 2 * time.Second})
		defer c.Close()
		testStore(t, &Redis{Client: c, Prefix: "test:bf:", Timeout: 2 * time.Second})
	})
}
