package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// SentinelOptions configure StartSentinel.
type SentinelOptions struct {
	// Node configures every data node, the master and the replicas alike
	// (any of them may become the master): its ACL user, TLS and extra
	// lines such as min-replicas-to-write. Node.RequirePass, when set, is
	// also what the replicas (masterauth) and the sentinels (auth-pass)
	// authenticate with.
	Node RedisOptions
	// Replicas (default 2) and Sentinels (default 3, quorum 2).
	Replicas, Sentinels int
	// DownAfter is the sentinels' down-after-milliseconds (default 3s: at
	// 1s, a loaded two-core CI machine running TLS nodes saw the sentinels
	// fail a live master over in the middle of a conformance suite; tests
	// that measure a failover set their own); FailoverTimeout their
	// failover-timeout (default 5s).
	DownAfter, FailoverTimeout time.Duration
	// SentinelUser and SentinelPassword add an ACL user on every sentinel
	// with no more than a client needs (docs/replicas.md); the sentinels'
	// default user then requires Node.RequirePass, which the sentinels
	// use among themselves.
	SentinelUser, SentinelPassword string
}

// Sentinel is a Redis Sentinel topology on loopback: one master, its
// replicas and the sentinels that watch them, each a process started by
// test/redis/start.sh.
type Sentinel struct {
	// MasterName is the monitored master's name ("authsvc").
	MasterName string
	// Nodes are the data nodes; Nodes[0] is the first master.
	Nodes []*Redis
	// Sentinels are the sentinels; SentinelAddrs their addresses.
	Sentinels     []*Redis
	SentinelAddrs []string

	t   testing.TB
	opt SentinelOptions
}

// StartSentinel starts the data nodes and the sentinels, waits until the
// replicas are in sync and every sentinel knows every replica and every
// other sentinel, and stops them all when the test ends.
func StartSentinel(t testing.TB, o SentinelOptions) *Sentinel {
	t.Helper()
	if o.Replicas == 0 {
		o.Replicas = 2
	}
	if o.Sentinels == 0 {
		o.Sentinels = 3
	}
	if o.DownAfter == 0 {
		o.DownAfter = 3 * time.Second
	}
	if o.FailoverTimeout == 0 {
		o.FailoverTimeout = 5 * time.Second
	}
	s := &Sentinel{MasterName: "authsvc", t: t, opt: o}
	base := t.TempDir()
	ports := make([]int, 1+o.Replicas)
	for i := range ports {
		ports[i] = FreePort(t)
	}
	for i, port := range ports {
		no := o.Node
		no.Conf = append([]string(nil), o.Node.Conf...)
		if o.Node.RequirePass != "" {
			no.Conf = append(no.Conf, "masterauth "+o.Node.RequirePass)
		}
		if i > 0 {
			no.Conf = append(no.Conf, fmt.Sprintf("replicaof 127.0.0.1 %d", ports[0]))
		}
		r := newRedis(t, no, filepath.Join(base, "node"+strconv.Itoa(i)), port)
		t.Cleanup(r.Stop)
		r.Start()
		s.Nodes = append(s.Nodes, r)
	}
	for i := 0; i < o.Sentinels; i++ {
		so := RedisOptions{Sentinel: true, TLSCertFile: o.Node.TLSCertFile, TLSKeyFile: o.Node.TLSKeyFile, TLSCAFile: o.Node.TLSCAFile}
		so.Conf = []string{
			fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2", s.MasterName, ports[0]),
			fmt.Sprintf("sentinel down-after-milliseconds %s %d", s.MasterName, o.DownAfter.Milliseconds()),
			fmt.Sprintf("sentinel failover-timeout %s %d", s.MasterName, o.FailoverTimeout.Milliseconds()),
			fmt.Sprintf("sentinel parallel-syncs %s %d", s.MasterName, o.Replicas),
		}
		if p := o.Node.RequirePass; p != "" {
			so.Conf = append(so.Conf, fmt.Sprintf("sentinel auth-pass %s %s", s.MasterName, p))
		}
		if o.SentinelUser != "" {
			// The sentinels authenticate to each other as the default
			// user; clients get a user that can only find the master
			// and hear of a switch.
			so.Conf = append(so.Conf,
				"user default on >"+o.Node.RequirePass+" ~* &* +@all",
				"sentinel sentinel-pass "+o.Node.RequirePass,
				"user "+o.SentinelUser+" on >"+o.SentinelPassword+" resetchannels &+switch-master -@all +sentinel|get-master-addr-by-name +sentinel|sentinels +subscribe +ping +hello +auth")
		}
		r := newRedis(t, so, filepath.Join(base, "sentinel"+strconv.Itoa(i)), FreePort(t))
		t.Cleanup(r.Stop)
		r.Start()
		s.Sentinels = append(s.Sentinels, r)
		s.SentinelAddrs = append(s.SentinelAddrs, r.Addr)
	}
	s.waitSettled(s.Nodes[0], 30*time.Second)
	return s
}

// Admin returns a client of the default user to node n (a data node or
// a sentinel), closed when the test ends.
func (s *Sentinel) Admin(n *Redis) *goredis.Client {
	return adminClient(s.t, n, s.opt.Node)
}

// Master asks the sentinels for the current master and returns its node:
// the address every sentinel that answers agrees on, or nil.
func (s *Sentinel) Master() *Redis {
	addr := ""
	for _, sn := range s.Sentinels {
		if !sn.Running() {
			continue
		}
		a, err := s.masterAddr(sn)
		if err != nil {
			continue
		}
		if addr != "" && a != addr {
			return nil
		}
		addr = a
	}
	for _, n := range s.Nodes {
		if n.Addr == addr {
			return n
		}
	}
	return nil
}

func (s *Sentinel) masterAddr(sn *Redis) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	a, err := s.Admin(sn).Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.MasterName).StringSlice()
	if err != nil || len(a) != 2 {
		return "", fmt.Errorf("get-master-addr-by-name: %v %v", a, err)
	}
	return a[0] + ":" + a[1], nil
}

// WaitFailover waits until every running sentinel names a master other
// than old, that node says it is a master, and (when settle) its other
// running nodes replicate it and the sentinels know them all again. It
// returns the new master and fails the test after max. The master is
// looked up again at each try: on a loaded machine the sentinels have
// failed over twice in a row (a replica that had been stopped was promoted,
// then taken for down and replaced), and the topology settles on the
// second one.
func (s *Sentinel) WaitFailover(old *Redis, max time.Duration, settle bool) *Redis {
	s.t.Helper()
	deadline := time.Now().Add(max)
	last := "no sentinel names a master other than " + old.Addr
	for time.Now().Before(deadline) {
		if m := s.Master(); m != nil && m != old && role(s.Admin(m)) == "master" {
			if !settle {
				return m
			}
			if last = s.settledNow(m); last == "" {
				return m
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("testenv: no settled failover away from %s within %s: %s;\nsentinel log:\n%s", old.Addr, max, last, tail(s.Sentinels[0].Log(), 3000))
	return nil
}

// WaitReplica waits until node says it is a replica (a master that was
// cut off and came back is converted by the sentinels), and fails the test
// after max.
func (s *Sentinel) WaitReplica(node *Redis, max time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) {
		if role(s.Admin(node)) == "slave" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("testenv: %s is not a replica after %s;\nsentinel log:\n%s", node.Addr, max, tail(s.Sentinels[0].Log(), 3000))
}

// waitSettled waits until master has every other running node online as
// a replica and the sentinels see them all (settledNow), and fails the
// test after max.
func (s *Sentinel) waitSettled(master *Redis, max time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(max)
	var last string
	for time.Now().Before(deadline) {
		if last = s.settledNow(master); last == "" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("testenv: Sentinel topology not settled within %s: %s\nsentinel log:\n%s", max, last, tail(s.Sentinels[0].Log(), 3000))
}

// settledNow says what is missing for master to have every other running
// node online as a replica with the same offset, and every running sentinel
// to see them and the other sentinels; "" when nothing is.
func (s *Sentinel) settledNow(master *Redis) string {
	want := 0
	for _, n := range s.Nodes {
		if n != master && n.Running() {
			want++
		}
	}
	sentinels := 0
	for _, sn := range s.Sentinels {
		if sn.Running() {
			sentinels++
		}
	}
	return s.settled(master, want, sentinels)
}

// settled says what is missing, or "".
func (s *Sentinel) settled(master *Redis, replicas, sentinels int) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	info, err := s.Admin(master).Info(ctx, "replication").Result()
	if err != nil {
		return "master INFO: " + err.Error()
	}
	if n := strings.Count(info, "state=online"); n < replicas {
		return fmt.Sprintf("master %s has %d replicas online, want %d", master.Addr, n, replicas)
	}
	for _, sn := range s.Sentinels {
		if !sn.Running() {
			continue
		}
		if a, err := s.masterAddr(sn); err != nil || a != master.Addr {
			return fmt.Sprintf("sentinel %s names master %q (%v)", sn.Addr, a, err)
		}
		m, err := s.Admin(sn).Do(ctx, "SENTINEL", "MASTER", s.MasterName).Result()
		if err != nil {
			return "SENTINEL MASTER: " + err.Error()
		}
		f := fields(m)
		if atoi(f["num-slaves"]) < replicas || atoi(f["num-other-sentinels"]) < sentinels-1 {
			return fmt.Sprintf("sentinel %s knows %s replicas and %s other sentinels", sn.Addr, f["num-slaves"], f["num-other-sentinels"])
		}
		// Every known replica must be up, or clients could be told of
		// one that is not there.
		rs, err := s.Admin(sn).Do(ctx, "SENTINEL", "REPLICAS", s.MasterName).Slice()
		if err != nil {
			return "SENTINEL REPLICAS: " + err.Error()
		}
		up := 0
		for _, r := range rs {
			rf := fields(r)
			if !strings.Contains(rf["flags"], "down") && rf["master-link-status"] == "ok" {
				up++
			}
		}
		if up < replicas {
			return fmt.Sprintf("sentinel %s sees %d replicas up, want %d", sn.Addr, up, replicas)
		}
	}
	return ""
}

// fields turns a RESP2 flat list or a RESP3 map into a map of strings.
func fields(v any) map[string]string {
	out := map[string]string{}
	switch m := v.(type) {
	case map[any]any:
		for k, v := range m {
			out[fmt.Sprint(k)] = fmt.Sprint(v)
		}
	case []any:
		for i := 0; i+1 < len(m); i += 2 {
			out[fmt.Sprint(m[i])] = fmt.Sprint(m[i+1])
		}
	}
	return out
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// role is the first word of ROLE ("master", "slave"), or "".
func role(c *goredis.Client) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	v, err := c.Do(ctx, "ROLE").Slice()
	if err != nil || len(v) == 0 {
		return ""
	}
	return fmt.Sprint(v[0])
}

// ClusterOptions configure StartCluster.
type ClusterOptions struct {
	// Node configures every node (ACL user, TLS, extra lines).
	// Node.RequirePass, when set, is what replicas authenticate with
	// (masterauth) and what redis-cli creates the cluster with.
	Node RedisOptions
	// Masters (default 3) and ReplicasPerMaster (default 1).
	Masters, ReplicasPerMaster int
	// NodeTimeout is cluster-node-timeout (default 3s, for the reason
	// given at SentinelOptions.DownAfter).
	NodeTimeout time.Duration
}

// Cluster is a Redis Cluster on loopback, each node a process started by
// test/redis/start.sh, joined by test/redis/cluster-create.sh.
type Cluster struct {
	// Nodes are all the nodes; Addrs their addresses (seeds for a client).
	Nodes []*Redis
	Addrs []string

	t   testing.TB
	opt ClusterOptions
}

// StartCluster starts the nodes, creates the cluster, waits until every
// node says cluster_state:ok and every replica is in sync, and stops the
// nodes when the test ends.
func StartCluster(t testing.TB, o ClusterOptions) *Cluster {
	t.Helper()
	if o.Masters == 0 {
		o.Masters = 3
	}
	if o.ReplicasPerMaster == 0 {
		o.ReplicasPerMaster = 1
	}
	if o.NodeTimeout == 0 {
		o.NodeTimeout = 3 * time.Second
	}
	c := &Cluster{t: t, opt: o}
	base := t.TempDir()
	n := o.Masters * (1 + o.ReplicasPerMaster)
	for i := 0; i < n; i++ {
		no := o.Node
		no.Conf = append([]string{
			"cluster-enabled yes",
			"cluster-config-file nodes.conf",
			fmt.Sprintf("cluster-node-timeout %d", o.NodeTimeout.Milliseconds()),
			// A replica fails over however long it was cut off: the
			// tests kill masters on purpose.
			"cluster-replica-validity-factor 0",
		}, o.Node.Conf...)
		if o.Node.RequirePass != "" {
			no.Conf = append(no.Conf, "masterauth "+o.Node.RequirePass)
		}
		if o.Node.TLSCertFile != "" {
			no.Conf = append(no.Conf, "tls-cluster yes")
		}
		r := newRedis(t, no, filepath.Join(base, "node"+strconv.Itoa(i)), FreePort(t))
		t.Cleanup(r.Stop)
		r.Start()
		c.Nodes = append(c.Nodes, r)
		c.Addrs = append(c.Addrs, r.Addr)
	}
	LookPath(t, "redis-cli")
	args := append([]string{filepath.Join(Root(), "test", "redis", "cluster-create.sh"), strconv.Itoa(o.ReplicasPerMaster)}, c.Addrs...)
	args = append(args, "--")
	if o.Node.RequirePass != "" {
		args = append(args, "-a", o.Node.RequirePass)
	}
	if o.Node.TLSCertFile != "" {
		args = append(args, "--tls", "--cacert", o.Node.TLSCAFile, "--cert", o.Node.TLSCertFile, "--key", o.Node.TLSKeyFile)
	}
	if out, err := exec.Command("bash", args...).CombinedOutput(); err != nil {
		t.Fatalf("testenv: test/redis/cluster-create.sh: %v\n%s", err, out)
	}
	c.WaitHealthy(30 * time.Second)
	return c
}

// Admin returns a client of the default user to node n, closed when the
// test ends.
func (c *Cluster) Admin(n *Redis) *goredis.Client { return adminClient(c.t, n, c.opt.Node) }

// MasterFor returns the node that serves key's slot, asking the first
// running node that answers.
func (c *Cluster) MasterFor(key string) *Redis {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		a := c.Admin(n)
		slot, err := a.ClusterKeySlot(ctx, key).Result()
		if err != nil {
			continue
		}
		shards, err := a.ClusterShards(ctx).Result()
		if err != nil {
			continue
		}
		for _, sh := range shards {
			for _, r := range sh.Slots {
				if r.Start > slot || slot > r.End {
					continue
				}
				for _, nd := range sh.Nodes {
					if nd.Role != "master" || nd.Health == "fail" {
						continue
					}
					for _, m := range c.Nodes {
						if int64(m.Port) == nd.Port || int64(m.Port) == nd.TLSPort {
							return m
						}
					}
				}
			}
		}
	}
	c.t.Fatalf("testenv: no node serves the slot of %q", key)
	return nil
}

// ReplicaOf returns a running node that replicates master.
func (c *Cluster) ReplicaOf(master *Redis) *Redis {
	c.t.Helper()
	for _, n := range c.Nodes {
		if n != master && n.Running() && strings.Contains(c.info(n, "replication"), fmt.Sprintf("master_port:%d", master.Port)) {
			return n
		}
	}
	c.t.Fatalf("testenv: no replica of %s", master.Addr)
	return nil
}

// WaitFailover waits until another node has taken over old's slots and
// every running node says cluster_state:ok, and returns that node.
func (c *Cluster) WaitFailover(old *Redis, replica *Redis, max time.Duration) *Redis {
	c.t.Helper()
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) {
		if role(c.Admin(replica)) == "master" && c.healthy(false) == "" {
			return replica
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("testenv: %s did not take over from %s within %s: %s", replica.Addr, old.Addr, max, c.healthy(false))
	return nil
}

// WaitHealthy waits until every running node says cluster_state:ok and
// every running replica's link to its master is up.
func (c *Cluster) WaitHealthy(max time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(max)
	last := ""
	for time.Now().Before(deadline) {
		if last = c.healthy(true); last == "" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("testenv: cluster not healthy within %s: %s", max, last)
}

func (c *Cluster) healthy(replicas bool) string {
	masters := 0
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		if ci := c.clusterInfo(n); !strings.Contains(ci, "cluster_state:ok") {
			return n.Addr + " says " + ci
		}
		r := c.info(n, "replication")
		switch {
		case strings.Contains(r, "role:master"):
			masters++
		case replicas && !strings.Contains(r, "master_link_status:up"):
			return n.Addr + " is a replica not in sync"
		}
	}
	if masters < c.opt.Masters {
		return fmt.Sprintf("%d masters, want %d", masters, c.opt.Masters)
	}
	return ""
}

func (c *Cluster) clusterInfo(n *Redis) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s, err := c.Admin(n).ClusterInfo(ctx).Result()
	if err != nil {
		return err.Error()
	}
	return s
}

func (c *Cluster) info(n *Redis, section string) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s, err := c.Admin(n).Info(ctx, section).Result()
	if err != nil {
		return err.Error()
	}
	return s
}

// admin clients, one per node and options, reused within a test.
var (
	adminMu      sync.Mutex
	adminClients = map[*Redis]*goredis.Client{}
)

func adminClient(t testing.TB, n *Redis, o RedisOptions) *goredis.Client {
	adminMu.Lock()
	defer adminMu.Unlock()
	if c := adminClients[n]; c != nil {
		return c
	}
	opt := &goredis.Options{Addr: n.Addr, Password: o.RequirePass, MaxRetries: -1, DialTimeout: time.Second,
		ReadTimeout: time.Second, WriteTimeout: time.Second, PoolSize: 2, DisableIdentity: true, Protocol: 2}
	if o.TLSCertFile != "" {
		conf, err := clientTLS(o.TLSCAFile, o.TLSCertFile, o.TLSKeyFile)
		if err != nil {
			t.Fatalf("testenv: %v", err)
		}
		opt.TLSConfig = conf
	}
	c := goredis.NewClient(opt)
	adminClients[n] = c
	t.Cleanup(func() {
		adminMu.Lock()
		delete(adminClients, n)
		adminMu.Unlock()
		c.Close()
	})
	return c
}

// clientTLS trusts ca and presents cert/key (a node's own certificate is
// good for clients too: see NewRedisPKI).
func clientTLS(ca, cert, key string) (*tls.Config, error) {
	pem, err := os.ReadFile(ca)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in %s", ca)
	}
	kp, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{kp}, MinVersion: tls.VersionTLS12}, nil
}
