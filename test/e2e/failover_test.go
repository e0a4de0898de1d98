package e2e

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authsvc/authsvc/internal/testenv"
)

// The failover tests run three authsvc replicas (the real binary) sharing a
// live Sentinel topology or Redis Cluster, send every fresh token (from
// zeep) to all three at once in a storm, and fail the master (or a shard's
// master) in the middle of it: killed with SIGKILL, or stopped with SIGSTOP
// and continued once a replica has been promoted. Then every token
// accepted during the storm is sent to all three replicas again. A token
// accepted more than once in all is a replay let through by the failover.
//
// With records acknowledged by every replica of the failed master
// (replicas_ack.replicas equal to their number) the count must be 0.
// Otherwise it is measured and logged (FAILOVER line), not asserted: it
// depends on what the replicas had received when the master failed and,
// with Sentinel and 1 of 2, on which replica Sentinel promoted. Either way:
// every answer is 200, a replay (401 InvalidSecurity) or a temporary
// refusal (503 SecurityTokenUnavailable), nothing else; the replicas
// recover without a restart (the storm's last tokens are each accepted
// exactly once); and the refusals are counted and timed (logged).

// failoverConfig is the replay section for the topology; {{ACK}} is the
// replicas_ack line.
const failoverConfig = `
replay:
  type: redis
{{TOPOLOGY}}
  timeout: 1s
  dial_timeout: 300ms
  key_prefix: "e2e:replay:"
  replicas_ack: {{ACK}}
` + baseConfig

// topology is a live Redis topology whose master the test fails.
type topology struct {
	// yaml is the connection part of the replay section.
	yaml string
	// fail fails the master of the key space (mode kill: SIGKILL;
	// pause: SIGSTOP; lag: its replicas stopped for a second first, see
	// lagThenKill) and returns a function that waits for the failover and
	// returns when a replica serves the failed master's keys.
	fail func(t *testing.T, mode string) (waitFailover func())
	// restart brings a killed master back (as a replica of the new one,
	// as an operator or a supervisor would) and waits until the new
	// master's replicas are all in sync: until then records that every
	// replica must acknowledge are refused. A Cluster shard with one
	// replica has none left after a failover; a Sentinel master keeps its
	// other replica, which the sentinels point at the new master after the
	// promotion and which resyncs (seconds on a loaded machine), and gets
	// the old master back once the sentinels have converted it.
	restart func()
	// resume continues the paused old master and waits until it is a
	// replica of the new one (with a Cluster: in sync). Until then it
	// still takes itself for the master.
	resume func()
}

func sentinelTopology(t *testing.T) topology {
	s := testenv.StartSentinel(t, testenv.SentinelOptions{DownAfter: time.Second, FailoverTimeout: 3 * time.Second})
	var old *testenv.Redis
	return topology{
		yaml: fmt.Sprintf("  master_name: %s\n  addrs: [%q, %q, %q]", s.MasterName, s.SentinelAddrs[0], s.SentinelAddrs[1], s.SentinelAddrs[2]),
		fail: func(t *testing.T, mode string) func() {
			old = s.Master()
			if old == nil {
				t.Fatal("the sentinels do not agree on a master")
			}
			switch mode {
			case "pause":
				old.Pause()
			case "lag":
				var replicas []*testenv.Redis
				for _, n := range s.Nodes {
					if n != old {
						replicas = append(replicas, n)
					}
				}
				lagThenKill(t, s.Admin(old), old, replicas)
			default:
				old.Kill()
			}
			return func() { s.WaitFailover(old, 30*time.Second, false) }
		},
		resume: func() {
			old.Resume()
			s.WaitReplica(old, 30*time.Second)
		},
		restart: func() {
			// Brought back as a replica of the new master: started as
			// it was (a master with no data), the sentinels would take
			// 10-20 s to convert it (their INFO period plus the time a
			// role report must stand).
			if m := s.Master(); m != nil && m != old {
				old.StartReplicaOf(m)
			} else {
				old.Start() // the sentinels disagree for now; they convert it
			}
			s.WaitFailover(old, 30*time.Second, true)
		},
	}
}

func clusterTopology(t *testing.T) topology {
	c := testenv.StartCluster(t, testenv.ClusterOptions{NodeTimeout: time.Second})
	var old *testenv.Redis
	quoted := make([]string, len(c.Addrs))
	for i, a := range c.Addrs {
		quoted[i] = fmt.Sprintf("%q", a)
	}
	return topology{
		yaml: "  cluster: true\n  addrs: [" + strings.Join(quoted, ", ") + "]",
		fail: func(t *testing.T, mode string) func() {
			old = c.MasterFor("any key")
			replica := c.ReplicaOf(old)
			switch mode {
			case "pause":
				old.Pause()
			case "lag":
				lagThenKill(t, c.Admin(old), old, []*testenv.Redis{replica})
			default:
				old.Kill()
			}
			return func() { c.WaitFailover(old, replica, 30*time.Second) }
		},
		resume: func() {
			old.Resume()
			c.WaitHealthy(30 * time.Second)
		},
		restart: func() {
			old.Start() // nodes.conf: it rejoins as the new master's replica
			c.WaitHealthy(30 * time.Second)
		},
	}
}

// failoverLag is how long the replicas lag behind the master in the lag
// mode before it is killed.
const failoverLag = time.Second

// lagThenKill makes the replicas lag behind master by failoverLag, then
// kills the master: the writes it accepted in that time are lost, as when
// replicas fall behind under load or over a slow link and the master
// crashes. It stops the replicas (SIGSTOP); sends the master one 16 MB
// value, which fills the kernel's socket buffers towards them (about 4 MB
// each on loopback), so that later writes wait in the master's own
// memory; waits; kills the master (SIGKILL: its memory is gone); and
// continues the replicas, one of which is then promoted.
func lagThenKill(t *testing.T, admin *goredis.Client, master *testenv.Redis, replicas []*testenv.Redis) {
	for _, r := range replicas {
		r.Pause()
	}
	junk := strings.Repeat("x", 16<<20)
	ctx := context.Background()
	var err error
	for i := 0; i < 100; i++ {
		// With a Cluster, the key must be in one of master's slots.
		if err = admin.Set(ctx, fmt.Sprintf("failover-test-junk:%d", i), junk, 0).Err(); err == nil {
			break
		}
	}
	if err != nil {
		for _, r := range replicas {
			r.Resume()
		}
		t.Fatalf("writing the 16 MB value: %v", err)
	}
	time.Sleep(failoverLag)
	master.Kill()
	for _, r := range replicas {
		r.Resume()
	}
}

// stormResult is what the three replicas answered to one token.
type stormResult struct {
	at       time.Duration // when it was sent, from the storm's start
	outs     []outcome
	accepted int // 200s, in the storm and when replayed
	refused  int // 503s in the storm
}

// stats are a storm's figures.
type stats struct {
	tokens, accepted, double, refusedTokens, refused503              int
	firstRefusal, lastRefusal                                        time.Duration
	failAt, killedAt, failoverAt, resumeAt, restartedAt, recoveredAt time.Duration
}

func (s stats) String() string {
	return fmt.Sprintf("tokens=%d accepted=%d accepted_twice=%d tokens_refused=%d refusals_503=%d fail_at=%s killed_or_stopped_at=%s failover_done=%s resume_at=%s back_in_sync_at=%s recovered_at=%s refusals_from=%s refusals_until=%s refusal_window=%s",
		s.tokens, s.accepted, s.double, s.refusedTokens, s.refused503, ms(s.failAt), ms(s.killedAt), ms(s.failoverAt), ms(s.resumeAt), ms(s.restartedAt), ms(s.recoveredAt),
		ms(s.firstRefusal), ms(s.lastRefusal), ms(s.lastRefusal-s.firstRefusal))
}

func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }

// awaitRecovery sends fresh probe tokens to each replica in turn until it
// accepts one, and fails the test if one has not within 30 s. It returns
// when the last replica accepted, counted from start.
func awaitRecovery(t *testing.T, svcs []*Service, probes [][]byte, start time.Time) time.Duration {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	next := 0
	for i, s := range svcs {
		for {
			if next == len(probes) {
				t.Fatalf("replica %d: no probe token left", i)
			}
			o := send(s, "11", probes[next])
			next++
			if o.err == nil && o.status == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %d has not accepted a fresh token 30 s after the failover: last status %d %v", i, o.status, o.err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return time.Since(start)
}

// TestFailover runs the storm for each topology, failure and setting.
// Each case starts its own topology and replicas.
func TestFailover(t *testing.T) {
	// replicas_ack.replicas for each topology: the topology's number of
	// replicas per master (the exact guarantee, asserted), Sentinel's
	// default of 1 of its 2 replicas (measured: docs/replicas.md explains
	// why it is likely, not certain, that the promoted replica has the
	// record), and off (-1, measured).
	acks := map[string][]int{"sentinel": {2, 1, -1}, "cluster": {1, -1}}
	for _, topo := range []string{"sentinel", "cluster"} {
		for _, failure := range []string{"kill", "pause", "lag"} {
			for _, ack := range acks[topo] {
				name := fmt.Sprintf("%s/%s/acked=%d", topo, failure, ack)
				if ack < 0 {
					name = fmt.Sprintf("%s/%s/acked=off", topo, failure)
				}
				t.Run(name, func(t *testing.T) { failoverStorm(t, topo, failure, ack) })
			}
		}
	}
}

// replicasPerMaster is how many replicas each master has in the test
// topologies (testenv.StartSentinel: two; testenv.StartCluster: one).
var replicasPerMaster = map[string]int{"sentinel": 2, "cluster": 1}

// failoverStorm runs one case; ack is replicas_ack.replicas (-1: off).
// Double acceptances are asserted to be 0 only when every replica of the
// failed master had to acknowledge a record.
func failoverStorm(t *testing.T, topoName, mode string, ack int) {
	acked := ack > 0
	exact := ack == replicasPerMaster[topoName]
	pause := mode == "pause"
	// A case takes 15-40 s. Once (on a machine at load 40) one stood still
	// for 13 minutes with no authsvc logging anything: if that happens
	// again, the goroutines of the test say where it waits.
	watchdog := time.AfterFunc(3*time.Minute, func() {
		buf := make([]byte, 4<<20)
		t.Errorf("failover case still running after 3 minutes; goroutines:\n%s", buf[:runtime.Stack(buf, true)])
	})
	defer watchdog.Stop()
	var topo topology
	if topoName == "sentinel" {
		topo = sentinelTopology(t)
	} else {
		topo = clusterTopology(t)
	}
	// Generous for a loaded machine: a WAIT that times out is a refusal,
	// and the recovery check expects none once the failover is over.
	ackYAML := fmt.Sprintf("{replicas: %d, timeout: 500ms}", ack)
	if !acked {
		ackYAML = "{replicas: -1}"
	}
	cfg := strings.NewReplacer("{{TOPOLOGY}}", topo.yaml, "{{ACK}}", ackYAML).Replace(failoverConfig)
	files := map[string]string{"users.yaml": usersFile(t)}
	svcs := make([]*Service, 3)
	for i := range svcs {
		svcs[i] = StartService(t, cfg, files)
	}
	const n = 4000
	msgs := zeepMany(t, n, "--user", "alice", "--password", "wonderland", "--digest")
	probes := zeepMany(t, 300, "--user", "alice", "--password", "wonderland", "--digest")

	res := make([]stormResult, n)
	var st stats
	start := time.Now()
	sent := make(chan int, n) // indexes of tokens sent, in order
	stop := make(chan struct{})
	var wg sync.WaitGroup
	go func() {
		// One token every 5 ms, each to the three replicas at once, at
		// most 16 tokens in flight.
		defer close(sent)
		sem := make(chan struct{}, 16)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for i := range msgs {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			sem <- struct{}{}
			wg.Add(1)
			res[i].at = time.Since(start)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				res[i].outs = fanOne(svcs, msgs[i])
			}()
			sent <- i
		}
	}()

	time.Sleep(time.Second)
	st.failAt = time.Since(start)
	waitFailover := topo.fail(t, mode)
	st.killedAt = time.Since(start)
	waitFailover()
	st.failoverAt = time.Since(start)
	if pause {
		time.Sleep(500 * time.Millisecond) // clients have moved on; the old master comes back
		st.resumeAt = time.Since(start)
		topo.resume()
		st.restartedAt = time.Since(start)
	} else if topo.restart != nil {
		topo.restart()
		st.restartedAt = time.Since(start)
	}
	// Each authsvc replica has recovered once it accepts a fresh token
	// (its own probe tokens, not the storm's); how long that took after
	// the topology settled varies with the machine's load (once 3 s more
	// for one replica), so it is waited for, within 30 s, and reported.
	st.recoveredAt = awaitRecovery(t, svcs, probes, start)
	// The storm goes on for three seconds after that, then stops.
	time.Sleep(3 * time.Second)
	close(stop)
	count := 0
	for range sent {
		count++
	}
	wg.Wait()
	if count < 200 {
		t.Fatalf("only %d tokens sent in the storm", count)
	}
	res = res[:count]

	// Every answer is one of the three expected ones.
	for i := range res {
		for _, o := range res[i].outs {
			switch o.status {
			case http.StatusOK:
				res[i].accepted++
			case http.StatusServiceUnavailable:
				if c := faultCode(t, "11", o.body); c != "SecurityTokenUnavailable" {
					t.Errorf("token %d, replica %d: 503 with fault %s", i, o.replica, c)
				}
				res[i].refused++
			case http.StatusUnauthorized:
				if c := faultCode(t, "11", o.body); c != "InvalidSecurity" {
					t.Errorf("token %d, replica %d: 401 with fault %s, want InvalidSecurity (a replay)", i, o.replica, c)
				}
			default:
				t.Errorf("token %d, replica %d: status %d: %s", i, o.replica, o.status, o.body)
			}
		}
	}

	// Replay every accepted token to the three replicas.
	var replayIdx []int
	var replayMsgs [][]byte
	for i := range res {
		if res[i].accepted > 0 {
			replayIdx = append(replayIdx, i)
			replayMsgs = append(replayMsgs, msgs[i])
		}
	}
	for j, outs := range fanOut(t, svcs, "11", replayMsgs) {
		for _, o := range outs {
			switch o.status {
			case http.StatusOK:
				res[replayIdx[j]].accepted++
			case http.StatusUnauthorized:
			default:
				t.Errorf("replayed token %d, replica %d: status %d, want 401 (or 200 when a replay got through): %s", replayIdx[j], o.replica, o.status, o.body)
			}
		}
	}

	st.tokens = len(res)
	first := true
	for _, r := range res {
		if r.accepted > 0 {
			st.accepted++
		}
		if r.accepted > 1 {
			st.double++
		}
		if r.refused > 0 {
			st.refusedTokens++
			st.refused503 += r.refused
			if first {
				st.firstRefusal, first = r.at, false
			}
			st.lastRefusal = r.at
		}
	}
	t.Logf("FAILOVER topology=%s failure=%s replicas_ack=%d exact=%v %s", topoName, mode, ack, exact, st)

	if exact && st.double != 0 {
		t.Errorf("%d tokens accepted more than once with records acknowledged by all %d replicas", st.double, ack)
	}
	// Recovery without a restart: the storm's last 100 tokens (sent a
	// second or more after the failover) were each accepted exactly once
	// before the replay pass.
	for i := len(res) - 100; i < len(res); i++ {
		ok := 0
		for _, o := range res[i].outs {
			if o.status == http.StatusOK {
				ok++
			}
		}
		if ok != 1 {
			t.Errorf("token %d, sent at %s (failover done at %s): accepted by %d replicas, want 1: statuses %v",
				i, ms(res[i].at), ms(st.failoverAt), ok, statuses(res[i].outs))
		}
	}
	if acked {
		for i, s := range svcs {
			if !strings.Contains(s.Log(), "replicas_ack") && !strings.Contains(s.Log(), "acknowledge") {
				t.Errorf("replica %d did not log that records are acknowledged", i)
			}
		}
	}
}

// fanOne sends msg to every replica at once and returns their outcomes.
func fanOne(svcs []*Service, msg []byte) []outcome {
	outs := make([]outcome, len(svcs))
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	for j, s := range svcs {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			o := send(s, "11", msg)
			o.replica = j
			outs[j] = o
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	return outs
}

func statuses(outs []outcome) []int {
	s := make([]int, len(outs))
	for i, o := range outs {
		s[i] = o.status
		if o.err != nil {
			s[i] = -1
		}
	}
	return s
}
