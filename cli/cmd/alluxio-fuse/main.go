// Command alluxio-fuse mounts the cluster namespace through FUSE.
package main

import (
	"os"

	"github.com/alluxio-go/alluxio/cli"
	_ "github.com/alluxio-go/alluxio/ufs/hdfs"
	_ "github.com/alluxio-go/alluxio/ufs/kodo"
	_ "github.com/alluxio-go/alluxio/ufs/local"
	_ "github.com/alluxio-go/alluxio/ufs/s3"
)

func main() {
	cli.Exit(cli.AlluxioFuse(os.Args[1:]))
}
