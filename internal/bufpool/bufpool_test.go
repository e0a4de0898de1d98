package bufpool

import "testing"

func TestPool(t *testing.T) {
	var p Pool
	b := p.Get()
	if len(b) != Size {
		t.Fatalf("Get: %d bytes, want %d", len(b), Size)
	}
	p.Put(b[:10]) // a short slice of a pooled buffer comes back whole
	if got := p.Get(); len(got) != Size {
		t.Fatalf("Get after Put of a resliced buffer: %d bytes", len(got))
	}
	p.Put(make([]byte, 100)) // another size is dropped
	for i := 0; i < 3; i++ {
		if got := p.Get(); len(got) != Size {
			t.Fatalf("Get: %d bytes", len(got))
		}
	}
}
