package meta

import (
	"context"
	"fmt"
	"sync"
	"syscall"
)

// pathLocks serialises the leader's requests on the same paths. A request
// reads the namespace, acts on the under-store and then proposes its
// command; two requests on one name interleaving in between could leave
// the store and the namespace disagreeing (a rename refused at apply after
// the store moved the file), or lose a file (an unlink's deferred delete
// taking the file renamed into its name, a directory's listing dropping a
// file completed while it was taken). So a request holds its paths
// exclusively, and their ancestors shared, from its first read to its
// command's apply, as Alluxio's master locks inode paths. Requests on
// different names in one directory run side by side; one on a directory
// (a rename, a recursive delete, a listing from the under-store) excludes
// every request below it.
//
// A request takes all its locks at once or waits holding none, so no two
// requests wait for each other. A request waiting for a path exclusively
// keeps new shared holders of it waiting behind it, so a directory's
// listing is not starved by a stream of creates in it. Locks are the
// leader's alone, in memory: a new leader starts with none, and a deposed
// one's requests cannot commit.
type pathLocks struct {
	mu   sync.Mutex
	held map[string]*pathHold
	// released is closed, and replaced, whenever locks are released.
	released chan struct{}
}

type pathHold struct {
	shared    int
	exclusive bool
	waiting   int // exclusive requests waiting for the path
}

func newPathLocks() *pathLocks {
	return &pathLocks{held: map[string]*pathHold{}, released: make(chan struct{})}
}

// lockCtxKey carries the locks a request holds in its context.
type lockCtxKey struct{}

// heldLocks are the locks of one request: path -> exclusive.
type heldLocks map[string]bool

// covers reports whether h already gives path in the mode asked: the path
// itself held as strongly, or an ancestor held exclusively.
func (h heldLocks) covers(path string, exclusive bool) bool {
	if x, ok := h[path]; ok && (x || !exclusive) {
		return true
	}
	for a := path; a != "/"; {
		a, _ = splitParent(a)
		if h[a] {
			return true
		}
	}
	return false
}

// errLockOrder reports a request that asked for locks beyond those it
// holds: taking them could wait forever, so it fails instead.
var errLockOrder = fmt.Errorf("meta: a request asked for path locks beyond those it holds: %w", syscall.EDEADLK)

// lock takes the given (clean, absolute) paths exclusively and their
// ancestors shared, waiting until no other request holds them in a
// conflicting mode, or until ctx ends. It returns ctx carrying the locks,
// for the calls the request makes, and the function that releases them.
// Asked again within a request (a context that carries locks), it takes
// nothing when the locks held cover the paths, and fails with
// errLockOrder otherwise.
func (l *pathLocks) lock(ctx context.Context, paths ...string) (context.Context, func(), error) {
	want := heldLocks{}
	for _, p := range paths {
		want[p] = true
		for a := p; a != "/"; {
			a, _ = splitParent(a)
			if !want[a] {
				want[a] = false
			}
		}
	}
	if have, ok := ctx.Value(lockCtxKey{}).(heldLocks); ok {
		for p, x := range want {
			if !have.covers(p, x) {
				return ctx, func() {}, fmt.Errorf("%w: %s", errLockOrder, p)
			}
		}
		return ctx, func() {}, nil
	}
	marked := false
	for {
		l.mu.Lock()
		if l.free(want) {
			if marked {
				l.mark(want, -1)
			}
			l.take(want)
			l.mu.Unlock()
			return context.WithValue(ctx, lockCtxKey{}, want), func() { l.release(want) }, nil
		}
		if !marked {
			l.mark(want, 1)
			marked = true
		}
		released := l.released
		l.mu.Unlock()
		select {
		case <-released:
		case <-ctx.Done():
			l.mu.Lock()
			l.mark(want, -1)
			l.mu.Unlock()
			l.wake()
			return ctx, func() {}, fmt.Errorf("meta: waiting for another request on %v: %w", paths, ctx.Err())
		}
	}
}

// free reports whether every lock of want can be taken now. Caller holds
// l.mu.
func (l *pathLocks) free(want heldLocks) bool {
	for p, x := range want {
		h := l.held[p]
		switch {
		case h == nil:
		case x && (h.exclusive || h.shared > 0):
			return false
		case !x && (h.exclusive || h.waiting > 0):
			return false
		}
	}
	return true
}

// take records want as held. Caller holds l.mu.
func (l *pathLocks) take(want heldLocks) {
	for p, x := range want {
		h := l.hold(p)
		if x {
			h.exclusive = true
		} else {
			h.shared++
		}
	}
}

// mark adds d to the waiting count of the exclusive paths of want, so
// that new shared holders wait behind them. Caller holds l.mu.
func (l *pathLocks) mark(want heldLocks, d int) {
	for p, x := range want {
		if x {
			l.hold(p).waiting += d
			l.drop(p)
		}
	}
}

func (l *pathLocks) hold(p string) *pathHold {
	h := l.held[p]
	if h == nil {
		h = &pathHold{}
		l.held[p] = h
	}
	return h
}

// drop forgets p when nothing holds it or waits for it.
func (l *pathLocks) drop(p string) {
	if h := l.held[p]; h != nil && !h.exclusive && h.shared == 0 && h.waiting == 0 {
		delete(l.held, p)
	}
}

func (l *pathLocks) release(want heldLocks) {
	l.mu.Lock()
	for p, x := range want {
		h := l.held[p]
		if x {
			h.exclusive = false
		} else {
			h.shared--
		}
		l.drop(p)
	}
	l.mu.Unlock()
	l.wake()
}

// wake tells the waiting requests to look again.
func (l *pathLocks) wake() {
	l.mu.Lock()
	close(l.released)
	l.released = make(chan struct{})
	l.mu.Unlock()
}

// size reports the number of paths held or waited for.
func (l *pathLocks) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.held)
}

// lockPaths locks the paths of a client request (pathLocks.lock), and
// then looks for the request's recorded answer again: an earlier attempt
// of it may have been applied while this one waited for the paths. With
// that answer (replay) or an error, nothing stays locked; otherwise the
// caller calls unlock once its command is applied.
func (m *Master) lockPaths(ctx context.Context, paths ...string) (_ context.Context, unlock func(), replay *applyResult, err error) {
	lctx, unlock, err := m.locks.lock(ctx, paths...)
	if err != nil {
		return ctx, func() {}, nil, err
	}
	if r, ok := m.replayed(lctx); ok {
		unlock()
		return ctx, func() {}, r, nil
	}
	return lctx, unlock, nil, nil
}

// answered is the answer of a request that lockPaths or lockInode ended:
// their error, or the recorded answer of an earlier attempt.
func answered[T any](replay *applyResult, err error) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	return result[T](replay.value, replay.err)
}

// answeredErr is answered for a request that answers with an error only.
func answeredErr(replay *applyResult, err error) error {
	if err != nil {
		return err
	}
	return replay.err
}

// lockInode is lockPaths for a request that names a file by inode id (a
// completion, a persist): the file is looked up again once its path is
// locked, and followed should it have moved meanwhile. The extra paths
// are locked with it.
func (m *Master) lockInode(ctx context.Context, op string, id uint64, extra ...string) (_ context.Context, unlock func(), replay *applyResult, err error) {
	pathOf := func() (p string, err error) {
		err = m.fsm.view(func(t *txn) error {
			_, p, err = inodeByID(t, op, id)
			return err
		})
		return p, err
	}
	p, err := pathOf()
	for range 16 {
		if err != nil {
			return ctx, func() {}, nil, err
		}
		lctx, unlock, replay, lerr := m.lockPaths(ctx, append([]string{p}, extra...)...)
		if replay != nil || lerr != nil {
			return ctx, func() {}, replay, lerr
		}
		var now string
		now, err = pathOf()
		if err == nil && now == p {
			return lctx, unlock, nil, nil
		}
		unlock()
		p = now
	}
	return ctx, func() {}, nil, fmt.Errorf("%s inode %d: it kept moving while its path was locked: %w", op, id, syscall.EAGAIN)
}
