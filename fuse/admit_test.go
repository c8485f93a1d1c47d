package fuse

import (
	"context"
	"os"
	"testing"
	"time"
)

// versionHandle is a read handle of one version with a passthrough file.
type versionHandle struct {
	version string
	f       *os.File
}

func (h versionHandle) ReadAt(context.Context, []byte, int64) (int, error)  { return 0, nil }
func (h versionHandle) WriteAt(context.Context, []byte, int64) (int, error) { return 0, nil }
func (h versionHandle) Flush(context.Context) error                         { return nil }
func (h versionHandle) Fsync(context.Context) error                         { return nil }
func (h versionHandle) Release(context.Context) error                       { return nil }
func (h versionHandle) Truncate(context.Context, int64) error               { return nil }
func (h versionHandle) Size() int64                                         { return 0 }
func (h versionHandle) Version() string                                     { return h.version }
func (h versionHandle) Passthrough() *os.File                               { return h.f }

// TestAdmitPassthroughVersions: opens of one version share passthrough;
// one of another version has it only once the last passthrough open of
// the old version was released ptSettle ago (go-fuse drops the inode's
// backing file after our release, and would hand the old one to an open
// in between), and is served through user space meanwhile.
func TestAdmitPassthroughVersions(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "backing")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := &node{fsys: &fileSystem{}}
	n.fsys.passthrough.Store(true)
	v1, v2 := versionHandle{"v1", f}, versionHandle{"v2", f}

	a, _ := n.admit(v1, false)
	if a.mode != modePassthrough {
		t.Fatalf("first open of v1: mode %v, want passthrough", a.mode)
	}
	if b, _ := n.admit(v1, false); b.mode != modePassthrough {
		t.Errorf("second open of v1: mode %v, want passthrough", b.mode)
	} else {
		n.ptOpens--
	}
	if c, _ := n.admit(v2, false); c.mode == modePassthrough {
		t.Errorf("open of v2 while v1 is in passthrough: passthrough")
	}
	// a's release, as Release counts it.
	n.ptOpens--
	n.ptLeft = time.Now()
	if d, _ := n.admit(v2, false); d.mode == modePassthrough {
		t.Errorf("open of v2 right after the last v1 passthrough open was released: passthrough (go-fuse may still hold v1's backing file)")
	} else if d.mode == modeCached {
		n.cachedOpens--
	}
	n.ptLeft = time.Now().Add(-ptSettle)
	if e, _ := n.admit(v2, false); e.mode != modePassthrough {
		t.Errorf("open of v2 once v1's release settled: mode %v, want passthrough", e.mode)
	}
}
