package fuse

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// fitsPipe says what the kernel does: a pipe grown as go-fuse grows it,
// holding a reply's header, takes the whole range by splice exactly when
// fitsPipe says so. Among the ranges is the read the differential tester
// found coming back short (255,258 bytes at a backing-file offset 3,858
// bytes into a page).
func TestFitsPipe(t *testing.T) {
	page := os.Getpagesize()
	f, err := os.Create(filepath.Join(t.TempDir(), "backing"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, 2<<20)); err != nil {
		t.Fatal(err)
	}
	type rng struct {
		off int64
		n   int
	}
	ranges := []rng{{3858, 255258}, {0, 255258}, {0, 1<<20 - 2*page}, {100, 1<<20 - 2*page}, {4095, 4097}, {1, 1}}
	r := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		ranges = append(ranges, rng{r.Int64N(int64(page) * 4), 1 + r.IntN(1<<20-3*page)})
	}
	misfits := 0
	for _, g := range ranges {
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
			t.Fatal(err)
		}
		if _, err := unix.FcntlInt(uintptr(p[0]), unix.F_SETPIPE_SZ, outHeaderSize+g.n+page); err != nil {
			t.Fatalf("F_SETPIPE_SZ: %v", err)
		}
		if _, err := unix.Write(p[1], make([]byte, outHeaderSize)); err != nil {
			t.Fatal(err)
		}
		off := g.off
		moved, err := unix.Splice(int(f.Fd()), &off, p[1], nil, g.n, unix.SPLICE_F_NONBLOCK)
		if err != nil && err != syscall.EAGAIN {
			t.Fatalf("splice of %d bytes at %d: %v", g.n, g.off, err)
		}
		unix.Close(p[0])
		unix.Close(p[1])
		whole := int(moved) == g.n
		if got := fitsPipe(g.off, g.n); got != whole {
			t.Errorf("fitsPipe(%d, %d) = %t, but the pipe took %d of %d bytes", g.off, g.n, got, moved, g.n)
		}
		if !whole {
			misfits++
		}
	}
	if fitsPipe(3858, 255258) || misfits == 0 {
		t.Fatalf("no range misfit the pipe (%d); the test shows nothing", misfits)
	}
}
