package objstore

import (
	"testing"

	"github.com/alluxio-go/alluxio/ufs"
	"github.com/alluxio-go/alluxio/ufs/ufstest"
)

// open returns a store over c with the test's defaults for what cfg
// leaves unset, closed with the test.
func open(t *testing.T, c Client, cfg Config) *Store {
	t.Helper()
	if cfg.BucketURI == "" {
		cfg.BucketURI = "mem://bkt"
	}
	if cfg.FileMode == 0 && cfg.DirMode == 0 {
		cfg.FileMode, cfg.DirMode = 0o644, 0o755
	}
	s := New(c, cfg)
	t.Cleanup(func() { s.Close() })
	return s
}

// TestContract runs the under-store contract over the in-memory store:
// with every optional interface and with none, at the bucket's root and
// under a prefix beside a neighbour's keys, with pages and parts small
// enough that listings page and large files go up in parts.
func TestContract(t *testing.T) {
	tests := []struct {
		name   string
		client func(m *mem) Client
		prefix string
	}{
		{"full", func(m *mem) Client { return m }, ""},
		{"full under a prefix", func(m *mem) Client { return m }, "mount/sub/"},
		{"basic", func(m *mem) Client { return basic{m} }, ""},
		{"basic under a prefix", func(m *mem) Client { return basic{m} }, "mount/sub/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ufstest.Run(t, func(t *testing.T) ufs.UFS {
				m := newMem()
				if tt.prefix != "" {
					m.put("mount-1x", []byte("a key that shares the prefix's first letters"))
					m.put("mount/subx", []byte("another"))
				}
				return open(t, tt.client(m), Config{Prefix: tt.prefix, ListPage: 7, PartSize: 256 << 10, MaxKeyLen: 1024})
			})
		})
	}
}
