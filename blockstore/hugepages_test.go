package blockstore

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMountOf(t *testing.T) {
	const mountinfo = `22 1 0:21 / / rw,relatime - ext4 /dev/vda rw
25 22 0:23 / /dev rw,relatime - devtmpfs devtmpfs rw,size=123k
26 25 0:24 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24684084k
40 22 0:30 / /var/tmp/huge rw,relatime - tmpfs tmpfs rw,size=3072m,huge=within_size
41 22 0:31 / /mnt/with\040space rw shared:7 - tmpfs tmpfs rw,huge=always
42 26 0:32 / /dev/shm rw,relatime - tmpfs tmpfs rw,huge=always
bad line
`
	tests := []struct {
		path     string
		fstype   string
		huge     bool
		mounted  bool
		wantOpts string
	}{
		{"/var/lib/alluxio", "ext4", false, true, "rw"},
		{"/dev/pts", "devtmpfs", false, true, "rw,size=123k"},
		{"/var/tmp/huge/tier", "tmpfs", true, true, "rw,size=3072m,huge=within_size"},
		{"/var/tmp/hugepages", "ext4", false, true, "rw"}, // a prefix but not a parent
		{"/mnt/with space/x", "tmpfs", true, true, "rw,huge=always"},
		{"/dev/shm/tier", "tmpfs", true, true, "rw,huge=always"}, // the later mount over /dev/shm
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			fstype, opts, ok := mountOf(strings.NewReader(mountinfo), tt.path)
			if ok != tt.mounted || fstype != tt.fstype || opts != tt.wantOpts {
				t.Fatalf("mountOf = %q, %q, %t; want %q, %q, %t", fstype, opts, ok, tt.fstype, tt.wantOpts, tt.mounted)
			}
			if got := hugeOn(opts); got != tt.huge {
				t.Errorf("hugeOn(%q) = %t, want %t", opts, got, tt.huge)
			}
		})
	}
	if _, _, ok := mountOf(strings.NewReader(""), "/x"); ok {
		t.Error("mountOf of an empty mountinfo found a mount")
	}
}

func TestHugeOn(t *testing.T) {
	for opts, want := range map[string]bool{
		"rw,size=1g":                false,
		"rw,huge=never":             false,
		"rw,huge=advise":            false,
		"rw,huge=within_size,uid=0": true,
		"huge=always":               true,
	} {
		if got := hugeOn(opts); got != want {
			t.Errorf("hugeOn(%q) = %t, want %t", opts, got, want)
		}
	}
}

func TestHugePagesHint(t *testing.T) {
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Skipf("no mountinfo: %v", err)
	}
	dir, err := os.MkdirTemp("/dev/shm", "blockstore-test-")
	if err != nil {
		t.Skipf("/dev/shm not writable: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	fstype, opts, ok := mountOf(bytes.NewReader(mi), path)
	if !ok || fstype != "tmpfs" {
		t.Skipf("/dev/shm is %q here, not a tmpfs", fstype)
	}
	var logs bytes.Buffer
	cfg := testConfig(t, 8)
	cfg.Tiers[0].Dirs[0] = dir
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	openStore(t, cfg)
	hinted := strings.Contains(logs.String(), "without huge pages")
	if want := !hugeOn(opts); hinted != want {
		t.Errorf("tier dir on a tmpfs with options %q: hint logged %t, want %t; logs:\n%s", opts, hinted, want, logs.String())
	}
}
