// Command alluxio is the cluster's command line: format, fs, runTests,
// getConf and the processes themselves.
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
	cli.Exit(cli.Alluxio(os.Args[1:]))
}
