package hdfs

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/alluxio-go/alluxio/ufs"
	"github.com/alluxio-go/alluxio/ufs/ufstest"
)

// Environment of TestRealCluster. It runs the contract suite against a
// real HDFS, where one is at hand, instead of hdfstest:
//
//	ALLUXIO_TEST_HDFS_URI=hdfs://namenode:8020/tmp/alluxio-test \
//	ALLUXIO_TEST_HDFS_CONF=/etc/hadoop/conf/core-site.xml:/etc/hadoop/conf/hdfs-site.xml \
//	ALLUXIO_TEST_HDFS_USER=alice \
//	go test ./ufs/hdfs -run TestRealCluster -v
//
// The URI's directory must exist and be writable by the user; each
// subtest works in a fresh directory under it, removed afterwards. The
// configuration (for an HA nameservice URI such as hdfs://mycluster/tmp)
// and the user are optional: the user defaults to HADOOP_USER_NAME, then
// to the user running the test.
const (
	envTestURI  = "ALLUXIO_TEST_HDFS_URI"
	envTestConf = "ALLUXIO_TEST_HDFS_CONF"
	envTestUser = "ALLUXIO_TEST_HDFS_USER"
)

func TestRealCluster(t *testing.T) {
	base := os.Getenv(envTestURI)
	if base == "" {
		t.Skipf("%s is not set: no real HDFS to test against (the other tests use hdfstest)", envTestURI)
	}
	opts := map[string]string{}
	if v := os.Getenv(envTestConf); v != "" {
		opts[keyConfiguration] = v
	}
	if v := os.Getenv(envTestUser); v != "" {
		opts[keyLoginUser] = v
	}
	root, err := ufs.Open(base, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	run := fmt.Sprintf("alluxio-go-test-%d", time.Now().UnixNano())
	if err := root.Mkdir(t.Context(), run, 0o755); err != nil {
		t.Fatalf("mkdir %s under %s: %v", run, base, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := removeAll(ctx, root, run); err != nil {
			t.Errorf("cleaning up %s/%s: %v", base, run, err)
		}
	})
	n := 0
	ufstest.Run(t, func(t *testing.T) ufs.UFS {
		n++
		dir := fmt.Sprintf("%s/%d", run, n)
		if err := root.Mkdir(t.Context(), dir, 0o755); err != nil {
			t.Fatal(err)
		}
		s, err := ufs.Open(strings.TrimSuffix(base, "/")+"/"+dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// removeAll deletes p and everything under it, depth first.
func removeAll(ctx context.Context, u ufs.UFS, p string) error {
	var kids []ufs.FileInfo
	if err := u.List(ctx, p, func(fi ufs.FileInfo) error { kids = append(kids, fi); return nil }); err != nil {
		return err
	}
	for _, k := range kids {
		if k.IsDir() {
			if err := removeAll(ctx, u, p+"/"+k.Name); err != nil {
				return err
			}
			continue
		}
		if err := u.Delete(ctx, p+"/"+k.Name); err != nil {
			return err
		}
	}
	return u.Delete(ctx, p)
}
