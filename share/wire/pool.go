package wire

import "sync"

// BlockPool recycles the Data buffers of Blocks read by pooled Readers
// (NewPooledReader), so that a steady stream of blocks costs no allocation
// and no garbage collection. Its zero value is ready to use; it must not be
// copied after first use. It is safe for concurrent use.
type BlockPool struct {
	p sync.Pool // of *[]byte with cap in [minPooled, maxPooled]
}

// minPooled is the smallest buffer worth pooling; smaller data (dag-pb
// nodes, DontHave-sized blocks) is allocated as before.
const minPooled = 16 << 10

// poolRound rounds pooled buffers up, so that blocks of nearly equal size
// (a DAG's leaves and its last, shorter leaf) share buffers.
const poolRound = 64 << 10

// maxPooled is the largest buffer a pool keeps.
const maxPooled = (MaxBlockSize + poolRound - 1) / poolRound * poolRound

// Get returns a slice of length n, from the pool when p is not nil and n
// is large enough to be pooled (its capacity may be larger). Its contents
// are undefined; hand it back with Put.
func (p *BlockPool) Get(n int) []byte {
	if p == nil || n < minPooled {
		return make([]byte, n)
	}
	if v, ok := p.p.Get().(*[]byte); ok {
		if b := *v; cap(b) >= n {
			return b[:n]
		}
		// Too small for this block: drop it (the common case is blocks of
		// one size, so this is rare).
	}
	return make([]byte, n, (n+poolRound-1)/poolRound*poolRound)
}

// Put hands b back to the pool for a later Block of the same or a smaller
// size. The caller must not use b, nor any slice sharing its memory, after
// Put. b need not have come from the pool; slices too small or too large to
// be worth pooling are dropped. A nil pool drops everything.
func (p *BlockPool) Put(b []byte) {
	if p == nil || cap(b) < minPooled || cap(b) > maxPooled {
		return
	}
	b = b[:0]
	p.p.Put(&b)
}
