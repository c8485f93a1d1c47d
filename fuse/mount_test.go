package fuse

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	gofuse "github.com/hanwen/go-fuse/v2/fuse"
)

func TestToErrno(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	cases := []struct {
		err  error
		want syscall.Errno
	}{
		{nil, 0},
		{&fs.PathError{Op: "open", Path: "/a", Err: syscall.ENOENT}, syscall.ENOENT},
		{fmt.Errorf("create /a: %w", syscall.EEXIST), syscall.EEXIST},
		{fmt.Errorf("rmdir: %w", syscall.ENOTEMPTY), syscall.ENOTEMPTY},
		{context.Canceled, syscall.EINTR},
		{fmt.Errorf("call: %w", context.DeadlineExceeded), syscall.ETIMEDOUT},
		{errors.New("something odd"), syscall.EIO},
		{syscall.Errno(0), syscall.EIO},
	}
	for _, c := range cases {
		if got := toErrno(log, "op", "/p", c.err); got != c.want {
			t.Errorf("toErrno(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestApplyOption(t *testing.T) {
	cases := []struct {
		opt     string
		wantErr string
		check   func(mo *gofuse.MountOptions, o *Options) bool
	}{
		{"allow_other", "", func(mo *gofuse.MountOptions, o *Options) bool { return mo.AllowOther }},
		{"ro", "", func(mo *gofuse.MountOptions, o *Options) bool { return len(mo.Options) == 1 && mo.Options[0] == "ro" }},
		{"_netdev", "", func(mo *gofuse.MountOptions, o *Options) bool { return len(mo.Options) == 0 }},
		{"x-systemd.automount", "", func(mo *gofuse.MountOptions, o *Options) bool { return len(mo.Options) == 0 }},
		{"attr_timeout=7200", "", func(mo *gofuse.MountOptions, o *Options) bool { return o.AttrTimeout == 2*time.Hour }},
		{"entry_timeout=0.5", "", func(mo *gofuse.MountOptions, o *Options) bool { return o.EntryTimeout == 500*time.Millisecond }},
		{"max_read=131072", "", func(mo *gofuse.MountOptions, o *Options) bool { return o.MaxIO == 131072 }},
		{"attr_timeout=soon", "attr_timeout=soon", nil},
		{"max_read=12", "max_read=12", nil},
		{"bogus_option", "bogus_option", nil},
	}
	for _, c := range cases {
		var mo gofuse.MountOptions
		var o Options
		err := applyOption(&mo, &o, c.opt)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("applyOption(%q): err %v, want one naming %q", c.opt, err, c.wantErr)
			}
			continue
		}
		if err != nil || !c.check(&mo, &o) {
			t.Errorf("applyOption(%q): err %v, options %+v %+v", c.opt, err, mo.Options, o)
		}
	}
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		`/mnt/a\040b`: "/mnt/a b",
		`/plain`:      "/plain",
		`/tab\011x`:   "/tab\tx",
		`/bad\0`:      `/bad\0`,
	} {
		if got := unescape(in); got != want {
			t.Errorf("unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckMountPoint(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	full := filepath.Join(dir, "full")
	file := filepath.Join(dir, "file")
	os.Mkdir(empty, 0o755)
	os.MkdirAll(filepath.Join(full, "x"), 0o755)
	os.WriteFile(file, nil, 0o644)
	cases := []struct {
		dir  string
		want error
	}{
		{empty, nil},
		{full, syscall.ENOTEMPTY},
		{file, syscall.ENOTDIR},
		{filepath.Join(dir, "missing"), fs.ErrNotExist},
	}
	for _, c := range cases {
		err := CheckMountPoint(c.dir)
		if c.want == nil {
			if err != nil {
				t.Errorf("CheckMountPoint(%s): %v", c.dir, err)
			}
			continue
		}
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.dir) {
			t.Errorf("CheckMountPoint(%s): %v, want %v naming the dir", c.dir, err, c.want)
		}
	}
}

// Requests are capped so that a read's reply fits a pipe (go-fuse's
// splice), unless the pipe limit is too small to be worth it.
func TestSpliceable(t *testing.T) {
	page := os.Getpagesize()
	tests := []struct {
		size, pipeMax, want int
	}{
		{1 << 20, 1 << 20, 1<<20 - 2*page}, // Linux's default limit
		{1 << 20, 4 << 20, 1 << 20},
		{1<<20 - 2*page, 1 << 20, 1<<20 - 2*page},
		{512 << 10, 1 << 20, 512 << 10},
		{1 << 20, 1<<20 + 100, 1<<20 - 2*page}, // rounded down to pages
		{1 << 20, 64 << 10, 1 << 20},           // too small a limit: no cap
		{1 << 20, 0, 1 << 20},                  // unknown
	}
	for _, tt := range tests {
		if got := spliceable(tt.size, tt.pipeMax); got != tt.want {
			t.Errorf("spliceable(%d, %d) = %d, want %d", tt.size, tt.pipeMax, got, tt.want)
		}
		if got := spliceable(tt.size, tt.pipeMax); got != tt.size && got+2*page > tt.pipeMax {
			t.Errorf("spliceable(%d, %d) = %d: a reply does not fit the pipe", tt.size, tt.pipeMax, got)
		}
	}
}
