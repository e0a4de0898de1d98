// Package bufpool is an httputil.BufferPool of 32 KiB buffers, the size
// httputil.ReverseProxy allocates for every response it copies when it has
// no pool.
package bufpool

import "sync"

// Size is the size of the buffers.
const Size = 32 << 10

// Pool lends buffers of Size bytes; its zero value is ready to use.
type Pool struct{ p sync.Pool }

// Get returns a buffer of Size bytes.
func (b *Pool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, Size)
}

// Put takes a buffer back; one of another capacity is dropped.
func (b *Pool) Put(buf []byte) {
	if cap(buf) != Size {
		return
	}
	buf = buf[:Size]
	b.p.Put(&buf)
}
