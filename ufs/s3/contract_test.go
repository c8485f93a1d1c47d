package s3

import (
	"strconv"
	"testing"

	"github.com/alluxio-go/alluxio/ufs"
	"github.com/alluxio-go/alluxio/ufs/ufstest"
)

// TestContract runs the under-store contract against versitygw, each
// subtest on a bucket of its own mounted at the bucket's root.
func TestContract(t *testing.T) {
	g := startGateway(t)
	ufstest.Run(t, func(t *testing.T) ufs.UFS {
		return openStore(t, "s3://"+g.newBucket(t)+"/", options(g.url))
	})
}

// TestContractPrefix runs the contract on prefixes of one bucket, through
// the s3a scheme, with the bucket already holding keys beside the prefix.
func TestContractPrefix(t *testing.T) {
	if testing.Short() {
		t.Skip("the bucket-root contract covers the same code under -short")
	}
	g := startGateway(t)
	bucket := g.newBucket(t)
	neighbour := openStore(t, "s3://"+bucket+"/", options(g.url))
	putFile(t, neighbour, "mount-1x", []byte("a key that shares the prefix's first letters"))
	n := 0
	ufstest.Run(t, func(t *testing.T) ufs.UFS {
		n++
		return openStore(t, "s3a://"+bucket+"/mount-"+strconv.Itoa(n)+"/sub/", options(g.url))
	})
}
