// Command s3lat times the under-store calls behind one small-file
// operation, through the project's own S3 store (ufs.Open of s3://BUCKET/)
// as the master and the worker make them: -n creates of -size bytes
// (Create, Write, Close: one PutObject) and -n deletes of a known file
// (DeleteFile: one DeleteObject), one at a time. It prints the mean
// milliseconds of each, the floor the mount's create and unlink rows
// stand on. The credentials come from AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, never from the command line.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/alluxio-go/alluxio/ufs"
	_ "github.com/alluxio-go/alluxio/ufs/s3"
)

func main() {
	endpoint := flag.String("endpoint", "", "S3 endpoint, http://host:port")
	bucket := flag.String("bucket", "bench", "bucket")
	n := flag.Int("n", 500, "objects")
	size := flag.Int("size", 1024, "bytes of each object")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("s3lat: ")
	if *endpoint == "" {
		log.Fatal("usage: s3lat -endpoint URL [-bucket B] [-n N] [-size BYTES]")
	}
	u, err := ufs.Open("s3://"+*bucket+"/", map[string]string{
		"s3a.accessKeyId":                        os.Getenv("AWS_ACCESS_KEY_ID"),
		"s3a.secretKey":                          os.Getenv("AWS_SECRET_ACCESS_KEY"),
		"alluxio.underfs.s3.endpoint":            *endpoint,
		"alluxio.underfs.s3.disable.dns.buckets": "true",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer u.Close()
	ctx := context.Background()
	data := make([]byte, *size)
	names := make([]string, *n)
	for i := range names {
		names[i] = fmt.Sprintf("s3lat-%d/f%05d", time.Now().UnixNano(), i)
	}
	start := time.Now()
	for _, name := range names {
		w, err := u.Create(ctx, name, ufs.CreateOptions{Mode: 0o644, SizeHint: -1})
		if err != nil {
			log.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			log.Fatal(err)
		}
		if _, err := w.Close(ctx); err != nil {
			log.Fatal(err)
		}
	}
	put := time.Since(start)
	del := u.Delete
	if fd, ok := u.(ufs.FileDeleter); ok {
		del = fd.DeleteFile
	}
	start = time.Now()
	for _, name := range names {
		if err := del(ctx, name); err != nil {
			log.Fatal(err)
		}
	}
	rm := time.Since(start)
	ms := func(d time.Duration) float64 { return d.Seconds() * 1e3 / float64(*n) }
	fmt.Printf("create+close %.3f ms, delete %.3f ms\n", ms(put), ms(rm))
}
