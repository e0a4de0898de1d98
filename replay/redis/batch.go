package redis

import (
	"context"
	"sync"

	goredis "github.com/redis/go-redis/v9"
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
	cmd  goredis.Cmder
	wait *goredis.IntCmd // with acknowledged records
	done chan struct{}
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
	// Pipelined sets every command's error when the round trip fails, so
	// each caller reads its answer from its own command.
	if b.c.ack != nil {
		// One WAIT per round trip acknowledges the whole batch.
		keys, cmds := make([]string, len(batch)), make([]goredis.Cmder, len(batch))
		for i, r := range batch {
			keys[i], cmds[i] = r.key, r.cmd
		}
		for i, w := range b.c.ack.Run(ctx, keys, cmds) {
			batch[i].wait = w
			close(batch[i].done)
		}
		return
	}
	b.c.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, r := range batch {
			p.Process(ctx, r.cmd)
		}
		return nil
	})
	for _, r := range batch {
		close(r.done)
	}
}

// do queues cmd, which writes key, and waits until its answer is in, or
// for ctx. It returns an error only when the command was not answered; the
// answer, an error from Redis included, is read from cmd, and with
// acknowledged records the WAIT that followed it is returned.
func (b *batcher) do(ctx context.Context, key string, cmd goredis.Cmder) (*goredis.IntCmd, error) {
	r := &addReq{key: key, cmd: cmd, done: make(chan struct{})}
	select {
	case b.queue <- r:
	case <-b.stop:
		return nil, goredis.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case <-r.done:
		return r.wait, nil
	case <-ctx.Done():
		// The command may still reach Redis and record the key; the
		// credential is refused now and would be a replay later: closed.
		return nil, ctx.Err()
	}
}

// close stops the workers and fails what is still queued.
func (b *batcher) close() {
	close(b.stop)
	b.wg.Wait()
	for {
		select {
		case r := <-b.queue:
			r.cmd.SetErr(goredis.ErrClosed)
			close(r.done)
		default:
			return
		}
	}
}
