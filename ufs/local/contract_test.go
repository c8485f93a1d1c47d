//go:build linux

package local

import (
	"testing"

	"github.com/alluxio-go/alluxio/ufs"
	"github.com/alluxio-go/alluxio/ufs/ufstest"
)

// TestContract runs the under-store contract suite against a fresh
// directory per subtest.
func TestContract(t *testing.T) {
	ufstest.Run(t, func(t *testing.T) ufs.UFS {
		s, err := New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
