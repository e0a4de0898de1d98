package redis_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/health"
	"github.com/authsvc/authsvc/internal/redisconn"
	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/replay"
	"github.com/authsvc/authsvc/replay/redis"
	"github.com/authsvc/authsvc/replay/replaytest"
)

// masterReplica starts a master and one replica of it, and waits until the
// replica is in sync.
func masterReplica(t *testing.T) (master, replica *testenv.Redis) {
	t.Helper()
	master = testenv.StartRedis(t)
	replica = testenv.StartRedisWith(t, testenv.RedisOptions{Conf: []string{"replicaof 127.0.0.1 " + fmt.Sprint(master.Port)}})
	a := admin(t, master)
	deadline := time.Now().Add(15 * time.Second)
	for {
		info, _ := a.Info(context.Background(), "replication").Result()
		if strings.Contains(info, "connected_slaves:1") && strings.Contains(info, "state=online") {
			return master, replica
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica not in sync: %s", info)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAckedRecords: with replicas_ack, an Add that returned nil has its key
// on the replica already; with the replica not answering (SIGSTOP), a fresh
// key fails closed (ErrUnavailable, never nil), stays recorded (it is a
// replay afterwards), and a key already recorded is a replay at once,
// whatever the replica does. Batched and unbatched, SET NX and the quota
// script.
func TestAckedRecords(t *testing.T) {
	master, replica := masterReplica(t)
	ra := admin(t, replica)
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		workers int
		quota   replay.QuotaConfig
	}{
		{"batched", 0, replay.QuotaConfig{Principal: -1, Address: -1}},
		{"unbatched", -1, replay.QuotaConfig{Principal: -1, Address: -1}},
		{"quota script", 0, replay.QuotaConfig{Principal: 1000, Address: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The acknowledgement's timeout is loadedAck's: at 200 ms, all
			// three cases once failed their first Add on a loaded CI
			// machine.
			c := open(t, redis.Config{Addrs: []string{master.Addr}, PipelineWorkers: tc.workers, Quota: tc.quota,
				Timeout: 2 * time.Second, ReplicasAck: redisconn.Ack{Replicas: 1, Timeout: loadedAck.Timeout}})
			o := replay.Owner{Principal: "alice"}
			exp := time.Now().Add(time.Minute)
			for i := 0; i < 20; i++ {
				k := "ut-nonce:" + randHex(16)
				if err := replay.AddFor(ctx, c, k, exp, o); err != nil {
					info, _ := admin(t, master).Info(ctx, "replication").Result()
					t.Fatalf("Add: %v\nmaster's replication info:\n%s", err, info)
				}
				// WAIT returned: the replica has the key now, not later.
				if n, err := ra.Exists(ctx, c.Key(k)).Result(); err != nil || n != 1 {
					t.Fatalf("key of an acknowledged Add not on the replica: %d %v", n, err)
				}
			}
			old := "ut-nonce:" + randHex(16)
			if err := replay.AddFor(ctx, c, old, exp, o); err != nil {
				t.Fatal(err)
			}

			replica.Pause()
			fresh := "ut-nonce:" + randHex(16)
			err := replay.AddFor(ctx, c, fresh, exp, o)
			if err == nil || errors.Is(err, replay.ErrReplay) || !errors.Is(err, health.ErrUnavailable) {
				replica.Resume()
				t.Fatalf("Add with the replica stopped = %v, want an ErrUnavailable error", err)
			}
			t.Logf("Add with the replica stopped: %v", err)
			if err := replay.AddFor(ctx, c, old, exp, o); !errors.Is(err, replay.ErrReplay) {
				replica.Resume()
				t.Fatalf("replay with the replica stopped = %v, want ErrReplay", err)
			}
			replica.Resume()
			// The unacknowledged record stays: the nonce is spent.
			if err := replay.AddFor(ctx, c, fresh, exp, o); !errors.Is(err, replay.ErrReplay) {
				t.Fatalf("second Add of the unacknowledged key = %v, want ErrReplay", err)
			}
			if err := replay.AddFor(ctx, c, "ut-nonce:"+randHex(16), exp, o); err != nil {
				t.Fatalf("Add after the replica resumed: %v", err)
			}
		})
	}

	// Asking for more replicas than there are fails every fresh key.
	c := open(t, redis.Config{Addrs: []string{master.Addr}, ReplicasAck: redisconn.Ack{Replicas: 2, Timeout: 50 * time.Millisecond}})
	if err := c.Add(ctx, "ut-nonce:"+randHex(16), time.Now().Add(time.Minute)); !errors.Is(err, health.ErrUnavailable) {
		t.Fatalf("Add needing 2 replicas of 1 = %v, want ErrUnavailable", err)
	}
}

// TestAckConformance runs the suite with acknowledged records on a master
// with a replica, batched and unbatched.
func TestAckConformance(t *testing.T) {
	master, _ := masterReplica(t)
	for _, workers := range []int{0, -1} {
		t.Run(fmt.Sprintf("pipeline_workers=%d", workers), func(t *testing.T) {
			replaytest.Run(t, func(t *testing.T) replay.Cache {
				return open(t, redis.Config{Addrs: []string{master.Addr}, PipelineWorkers: workers, Timeout: 2 * time.Second,
					ReplicasAck: redisconn.Ack{Replicas: 1, Timeout: time.Second}})
			})
		})
	}
}

// TestAckNeedsWait: an ACL user without WAIT is refused at Open when
// replicas must acknowledge.
func TestAckNeedsWait(t *testing.T) {
	r := testenv.StartRedis(t)
	if err := admin(t, r).Do(context.Background(), "ACL", "SETUSER", "nowait", "on", ">pw", "resetkeys", "~*", "-@all", "+set", "+ping", "+hello", "+auth").Err(); err != nil {
		t.Fatal(err)
	}
	cfg := redis.Config{Addrs: []string{r.Addr}, Username: "nowait", Password: "pw", Quota: replay.QuotaConfig{Principal: -1, Address: -1},
		ReplicasAck: redisconn.Ack{Replicas: 1}}
	if c, err := cfg.Open(nil); err == nil {
		c.Close()
		t.Fatal("Open succeeded for a user without WAIT")
	} else if !strings.Contains(err.Error(), "+wait") {
		t.Fatalf("Open = %v, want it to name +wait", err)
	}
}

// TestWaitShortfallLogNamesNode: when replicas do not acknowledge, the log
// line of the outage names the node the client writes to and what that
// node knows of its replicas (CLIENT INFO and ROLE), so that a refusal
// after a failover can be traced to a node; with an ACL that allows
// neither, it says so instead.
func TestWaitShortfallLogNamesNode(t *testing.T) {
	master, replica := masterReplica(t)
	ctx := context.Background()
	if err := admin(t, master).Do(ctx, "ACL", "SETUSER", "cache", "on", ">pw", "resetkeys", "~*", "-@all",
		"+set", "+get", "+eval", "+evalsha", "+wait", "+ping", "+hello", "+auth", "+info").Err(); err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{"", "cache"} {
		t.Run("user="+user, func(t *testing.T) {
			var logs testenv.LogBuffer
			cfg := redis.Config{Addrs: []string{master.Addr}, KeyPrefix: "test:" + randHex(6) + ":", Timeout: 2 * time.Second,
				Quota: replay.QuotaConfig{Principal: -1, Address: -1}, ReplicasAck: redisconn.Ack{Replicas: 1, Timeout: 200 * time.Millisecond}}
			if user != "" {
				cfg.Username, cfg.Password = user, "pw"
			}
			c, err := cfg.Open(slog.New(slog.NewJSONHandler(&logs, nil)))
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer c.Close()
			replica.Pause()
			err = c.Add(ctx, "ut-nonce:"+randHex(16), time.Now().Add(time.Minute))
			replica.Resume()
			if !errors.Is(err, health.ErrUnavailable) {
				t.Fatalf("Add with the replica stopped = %v, want ErrUnavailable", err)
			}
			log := logs.String()
			want := []string{`"op":"WAIT"`, `"node":"` + master.Addr + ` (`}
			if user == "" {
				want = append(want, "role master, offset ", fmt.Sprintf("replicas 127.0.0.1:%d at ", replica.Port))
			} else {
				want = append(want, "(ROLE: NOPERM")
			}
			for _, w := range want {
				if !strings.Contains(log, w) {
					t.Errorf("log lacks %q:\n%s", w, log)
				}
			}
		})
	}
}
