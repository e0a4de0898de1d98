package redis

import (
	"context"
	"sync"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authsvc/authsvc/replay"
)

// batcher sends concurrent Adds to Redis together: each worker takes every
// Add waiting in the queue (up to maxBatch) and sends them as one pipeline,
// one round trip for the lot. Nothing waits to fill a batch: a lone Add goes
// out at once, and batches form only while a round trip is in flight, so the
// latency of an Add is at most about two round trips and the round trips per
// second stay near the workers' count whatever the load. Each SET NX in a
// pipeline is still its own atomic command with its own answer.
type batcher struct {
	c     *Cache
	queue chan *addReq
	stop  chan struct{}
	wg    sync.WaitGroup
}

type addReq struct {
	key  string
	ms   int64
	done chan error
}

const maxBatch = 128

func newBatcher(c *Cache, workers int) *batcher {
	b := &batcher{c: c, queue: make(chan *addReq, 4*maxBatch), stop: make(chan struct{})}
	for i := 0; i < workers; i++ {
		b.wg.Add(1)
		go b.run()
	}
	return b
}

func (b *batcher) run() {
	defer b.wg.Done()
	batch := make([]*addReq, 0, maxBatch)
	for {
		select {
		case <-b.stop:
			return
		case r := <-b.queue:
			batch = append(batch[:0], r)
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-b.queue:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		b.send(batch)
	}
}

func (b *batcher) send(batch []*addReq) {
	ctx, cancel := context.WithTimeout(context.Background(), b.c.timeout)
	defer cancel()
	cmds := make([]*goredis.BoolCmd, len(batch))
	// Pipelined sets every command's error when the round trip fails, so
	// each answer below is read from its own command.
	b.c.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, r := range batch {
			cmds[i] = goredis.NewBoolCmd(ctx, "set", r.key, "1", "px", r.ms, "nx")
			p.Process(ctx, cmds[i])
		}
		return nil
	})
	for i, r := range batch {
		set, err := cmds[i].Result()
		switch {
		case err != nil:
			r.done <- b.c.fail("SET NX", err)
		case !set:
			b.c.ok()
			r.done <- replay.ErrReplay
		default:
			b.c.ok()
			r.done <- nil
		}
	}
}

// add queues one SET NX and waits for its answer or ctx.
func (b *batcher) add(ctx context.Context, key string, ms int64) error {
	r := &addReq{key: key, ms: ms, done: make(chan error, 1)}
	select {
	case b.queue <- r:
	case <-b.stop:
		return b.c.fail("SET NX", goredis.ErrClosed)
	case <-ctx.Done():
		return b.c.fail("SET NX", ctx.Err())
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		// The command may still reach Redis and record the key; the
		// credential is refused now and would be a replay later: closed.
		return b.c.fail("SET NX", ctx.Err())
	}
}

// close stops the workers and fails what is still queued.
func (b *batcher) close() {
	close(b.stop)
	b.wg.Wait()
	for {
		select {
		case r := <-b.queue:
			r.done <- b.c.fail("SET NX", goredis.ErrClosed)
		default:
			return
		}
	}
}
