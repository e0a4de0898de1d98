package redisconn

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Acker sends writes followed by WAIT, so that a write counts only once
// enough replicas have it. WAIT reports how many replicas acknowledged
// every write made so far on its own connection, so the writes and their
// WAIT go in one pipeline on one connection to the master that executes
// them: with a Cluster, the master that serves the keys' hash slot.
type Acker struct {
	client   goredis.UniversalClient
	cluster  *goredis.ClusterClient // nil unless Redis Cluster
	replicas int
	timeout  time.Duration
}

// Acker returns the Acker of client for the connection's policy, or nil
// when acknowledgement is off (see AckPolicy).
func (c *Conn) Acker(client goredis.UniversalClient) *Acker {
	n, timeout := c.AckPolicy()
	if n == 0 {
		return nil
	}
	a := &Acker{client: client, replicas: n, timeout: timeout}
	a.cluster, _ = client.(*goredis.ClusterClient)
	return a
}

// Replicas is the number of replicas a write must reach.
func (a *Acker) Replicas() int { return a.replicas }

// Timeout is how long a write waits for them.
func (a *Acker) Timeout() time.Duration { return a.timeout }

// Run sends cmds, cmds[i] touching keys in the hash slot of keys[i], each
// group of commands for one master followed by WAIT, one round trip per
// master (one in all, except with a Cluster). It returns for each command
// the WAIT of its round trip: its answer is the number of replicas that
// acknowledged, and its error says that the round trip failed (every
// command of the group has that error too) or that Redis refused WAIT.
// Each command's own answer is in the command.
func (a *Acker) Run(ctx context.Context, keys []string, cmds []goredis.Cmder) []*goredis.IntCmd {
	waits := make([]*goredis.IntCmd, len(cmds))
	if a.cluster == nil {
		w := a.pipeline(ctx, a.client, cmds)
		for i := range waits {
			waits[i] = w
		}
		return waits
	}
	groups := map[*goredis.Client][]int{}
	var order []*goredis.Client
	for i, k := range keys {
		node, err := a.cluster.MasterForKey(ctx, k)
		if err != nil {
			cmds[i].SetErr(err)
			w := goredis.NewIntCmd(ctx, "wait")
			w.SetErr(err)
			waits[i] = w
			continue
		}
		if groups[node] == nil {
			order = append(order, node)
		}
		groups[node] = append(groups[node], i)
	}
	for _, node := range order {
		idx := groups[node]
		group := make([]goredis.Cmder, len(idx))
		for j, i := range idx {
			group[j] = cmds[i]
		}
		w := a.pipeline(ctx, node, group)
		for _, i := range idx {
			waits[i] = w
		}
	}
	return waits
}

// pipeline sends cmds and WAIT in one pipeline on one connection of p.
// With a Cluster, when the master p no longer serves the keys' slot (a
// failover the client has not heard of) every command answers MOVED
// without running: they are sent once more, to the master named.
func (a *Acker) pipeline(ctx context.Context, p goredis.Cmdable, cmds []goredis.Cmder) *goredis.IntCmd {
	w := a.send(ctx, p, cmds)
	if a.cluster == nil || len(cmds) == 0 {
		return w
	}
	if w.Err() != nil && cmds[0].Err() != nil && !isRedisError(cmds[0].Err()) {
		// No answer (a master killed, or not reachable): read the
		// slot map again, a replica may have taken over.
		a.cluster.ReloadState(ctx)
		return w
	}
	addr, moved := goredis.IsMovedError(cmds[0].Err())
	for _, c := range cmds {
		if to, m := goredis.IsMovedError(c.Err()); !m || to != addr {
			moved = false
		}
	}
	if !moved {
		for _, c := range cmds {
			if goredis.IsClusterDownError(c.Err()) || goredis.IsReadOnlyError(c.Err()) {
				a.cluster.ReloadState(ctx)
				break
			}
		}
		return w
	}
	a.cluster.ReloadState(ctx)
	var target *goredis.Client
	_ = a.cluster.ForEachShard(ctx, func(_ context.Context, c *goredis.Client) error {
		if c.Options().Addr == addr {
			target = c
		}
		return nil
	})
	if target == nil {
		return w // not a node we know yet: fail now, the reload will tell
	}
	for _, c := range cmds {
		c.SetErr(nil)
	}
	return a.send(ctx, target, cmds)
}

// send is one pipeline: cmds, then WAIT.
func (a *Acker) send(ctx context.Context, p goredis.Cmdable, cmds []goredis.Cmder) *goredis.IntCmd {
	w := goredis.NewIntCmd(ctx, "wait", a.replicas, a.timeout.Milliseconds())
	// The pipeline's own error is some command's error, each command has
	// its own (nil for a SET NX that found its key): read them there.
	_, _ = p.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		for _, c := range cmds {
			_ = pipe.Process(ctx, c)
		}
		return pipe.Process(ctx, w)
	})
	return w
}

// isRedisError reports whether err is an answer from Redis (an error
// reply), as opposed to no answer.
func isRedisError(err error) bool {
	var rerr goredis.Error
	return errors.As(err, &rerr)
}

// Check reports whether a write answered by w counts: nil when at least
// Replicas acknowledged, otherwise an error saying how many did (or why
// WAIT has no answer). The write itself happened: what it recorded stays
// recorded.
func (a *Acker) Check(w *goredis.IntCmd) error {
	n, err := w.Result()
	if err != nil {
		return fmt.Errorf("WAIT: %w", err)
	}
	if n < int64(a.replicas) {
		return fmt.Errorf("WAIT: %d of %d replicas acknowledged the write within %s", n, a.replicas, a.timeout)
	}
	return nil
}
