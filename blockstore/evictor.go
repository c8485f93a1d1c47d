package blockstore

import (
	"container/heap"
	"math"
)

// pageNode is the eviction entry of one present page. A file keeps the node
// of each present page, in the evictor of its dir or not (a leased or pinned
// file's pages are out of it), so an LRFU score survives a lease.
// Every field is guarded by Store.indexMu.
type pageNode struct {
	f   *file
	idx int64

	inEv bool // in the evictor (or popped by a walk and due back)

	// LRU list links, front = most recently used.
	prev, next *pageNode

	// LRFU: crf is the combined recency and frequency score as of tick
	// last; key orders pages (see lrfu).
	crf  float64
	last uint64
	key  float64
	hidx int // position in the heap; -1 when out of it
}

// evictor orders a tier dir's evictable pages. Implementations are not safe
// for concurrent use; Store.indexMu guards them.
type evictor interface {
	// add inserts n: a new page as just accessed; a page taken out earlier
	// (by remove) as LRU's most recent, or with its LRFU score.
	add(n *pageNode)
	// touch records an access to n (in the evictor or not).
	touch(n *pageNode)
	// remove takes n out; it is a no-op when n is out.
	remove(n *pageNode)
	// walk calls fn on pages least valuable first until fn returns false or
	// the pages run out. fn may remove the page it is given and nothing else.
	walk(fn func(n *pageNode) bool)
}

func newEvictor(kind string, step, atten float64) evictor {
	if kind == EvictorLRFU {
		return &lrfu{rate: step * math.Log(atten), step: step, atten: atten}
	}
	return &lru{}
}

// lru is a doubly-linked list, most recently used at the front.
type lru struct {
	front, back *pageNode
}

func (l *lru) add(n *pageNode) {
	n.inEv = true
	n.prev, n.next = nil, l.front
	if l.front != nil {
		l.front.prev = n
	} else {
		l.back = n
	}
	l.front = n
}

func (l *lru) touch(n *pageNode) {
	if !n.inEv || l.front == n {
		return
	}
	l.remove(n)
	l.add(n)
}

func (l *lru) remove(n *pageNode) {
	if !n.inEv {
		return
	}
	n.inEv = false
	if n.prev != nil {
		n.prev.next = n.next
	} else {
		l.front = n.next
	}
	if n.next != nil {
		n.next.prev = n.prev
	} else {
		l.back = n.prev
	}
	n.prev, n.next = nil, nil
}

func (l *lru) walk(fn func(n *pageNode) bool) {
	for n := l.back; n != nil; {
		prev := n.prev
		if !fn(n) {
			return
		}
		n = prev
	}
}

// lrfu implements Alluxio's LRFU policy: each access adds 1 to a page's
// combined recency and frequency score, which decays by F(dt) =
// (1/attenuation)^(step*dt) per tick of a logical clock that advances on
// every access. The page with the lowest score now is evicted first.
//
// Scores all decay by the same factor as the clock advances, so their order
// is that of key = ln(crf) + step*ln(attenuation)*last, which is fixed
// between two accesses of the page: a min-heap on key gives O(log n) access
// and eviction with no periodic re-scoring.
type lrfu struct {
	h     nodeHeap
	clock uint64
	rate  float64 // step * ln(attenuation)
	step  float64
	atten float64
}

func (l *lrfu) score(n *pageNode) {
	n.key = math.Log(n.crf) + l.rate*float64(n.last)
}

func (l *lrfu) add(n *pageNode) {
	if n.crf == 0 {
		// A new page: its first access. A page coming back (its file's
		// lease ended) keeps its score.
		l.clock++
		n.crf, n.last = 1, l.clock
		l.score(n)
	}
	n.inEv = true
	n.hidx = -1
	heap.Push(&l.h, n)
}

func (l *lrfu) access(n *pageNode) {
	n.crf = n.crf*math.Pow(1/l.atten, l.step*float64(l.clock-n.last)) + 1
	n.last = l.clock
	l.score(n)
}

func (l *lrfu) touch(n *pageNode) {
	l.clock++
	l.access(n)
	if n.inEv && n.hidx >= 0 {
		heap.Fix(&l.h, n.hidx)
	}
}

func (l *lrfu) remove(n *pageNode) {
	if !n.inEv {
		return
	}
	n.inEv = false
	if n.hidx >= 0 {
		heap.Remove(&l.h, n.hidx)
	}
}

func (l *lrfu) walk(fn func(n *pageNode) bool) {
	var popped []*pageNode
	for l.h.Len() > 0 {
		n := heap.Pop(&l.h).(*pageNode)
		popped = append(popped, n)
		if !fn(n) {
			break
		}
	}
	for _, n := range popped {
		if n.inEv {
			heap.Push(&l.h, n)
		}
	}
}

// nodeHeap is a min-heap of pages by LRFU key.
type nodeHeap []*pageNode

func (h nodeHeap) Len() int           { return len(h) }
func (h nodeHeap) Less(i, j int) bool { return h[i].key < h[j].key }
func (h nodeHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hidx, h[j].hidx = i, j
}

func (h *nodeHeap) Push(x any) {
	n := x.(*pageNode)
	n.hidx = len(*h)
	*h = append(*h, n)
}

func (h *nodeHeap) Pop() any {
	old := *h
	n := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	n.hidx = -1
	return n
}
